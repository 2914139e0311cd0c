using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Strata.Artifacts;

namespace Strata.Serving;

/// <summary>One segment the log's retention deleted, as its ledger records it.</summary>
/// <param name="Segment">The segment's file name (no folder).</param>
/// <param name="Bytes">Its size when it was deleted.</param>
/// <param name="Reason">Why: <c>size</c> or <c>age</c>.</param>
/// <param name="DeletedAt">When (UTC microseconds, by the cleaner's clock).</param>
internal readonly record struct LedgerEntry(string Segment, long Bytes, string Reason, long DeletedAt);

/// <summary>What <see cref="PredictionLogLedger.Read"/> found in a folder's ledger files.</summary>
/// <param name="Entries">The deleted segments by name (a segment recorded twice, by two replicas' passes, once).</param>
/// <param name="Unreadable">Complete lines that are not entries (damaged), skipped: the segments they name are unknown.</param>
internal sealed record LedgerContents(IReadOnlyDictionary<string, LedgerEntry> Entries, int Unreadable);

/// <summary>
/// The prediction log's retention ledger: which closed segments the retention deleted (name, bytes, reason, time),
/// kept in the log's folder beside them, so a reader that had not read a segment yet (a monitor lagging, or down a
/// while) learns that its records are gone instead of computing on partial data unaware.
/// </summary>
/// <remarks>
/// <para>
/// <b>Files.</b> Each cleaner (one per process writing the log) appends to a file of its own,
/// <c>retention-&lt;20 digits: its creation, UTC µs&gt;-&lt;pid&gt;-&lt;8 hex, random&gt;.ledger</c>, so replicas
/// sharing the folder never write the same file (the name is unique without relying on pids, which containers repeat)
/// and nothing relies on appends of several processes to one file staying whole (O_APPEND, which network file systems
/// do not keep). A file holds only whole lines but perhaps its last: a cleaner starts a new file after
/// <see cref="FileBytes"/>, and after a write that failed. Readers read every ledger file.
/// </para>
/// <para>
/// <b>Lines.</b> <c>segment TAB bytes TAB reason TAB deleted-at(UTC µs) LF</c>, ASCII, under 100 bytes. A line is
/// appended and flushed to disk (fsync) <i>before</i> its segment is unlinked, so after any crash every deleted segment
/// has its line; a line may name a segment that was then not deleted (the unlink failed, or the process stopped first):
/// readers count only lines whose segment is no longer in the folder. A last line without its LF is being written (read
/// once it is whole) or was torn by a crash while it was written, before its unlink: it is ignored. A complete line
/// that is not an entry (the file was damaged or edited) is skipped and counted (<see cref="LedgerContents.Unreadable"/>),
/// never fatal: monitoring goes on and the count is reported.
/// </para>
/// <para>
/// <b>Bound.</b> After a pass that wrote lines, the ledger files over <see cref="MaxBytes"/> in all are deleted, the
/// least recently written first, but never one written within <see cref="PruneAfter"/> (a live cleaner's current
/// file). 4 MiB is about 60,000 deletions: with segments closed at least once a minute, weeks of deletions; far more
/// than a retention cap holds (10 GiB is ~160 full segments). A reader whose position is older than the oldest line
/// left cannot be told about deletions before it.
/// </para>
/// </remarks>
internal sealed class PredictionLogLedger
{
    /// <summary>Prefix of the ledger files' names.</summary>
    public const string Prefix = "retention-";

    /// <summary>Extension of the ledger files' names.</summary>
    public const string Extension = ".ledger";

    /// <summary>Size after which a cleaner starts a new file.</summary>
    public const long FileBytes = 256 << 10;

    /// <summary>Most bytes the folder's ledger files hold together (besides files written within <see cref="PruneAfter"/>).</summary>
    public const long MaxBytes = 4 << 20;

    /// <summary>How long a ledger file is kept at least after it was last written.</summary>
    public static readonly TimeSpan PruneAfter = TimeSpan.FromHours(1);

    private readonly string _folder;
    private readonly TimeProvider _clock;
    private string? _path;
    private long _written;

    /// <param name="folder">The log's folder.</param>
    /// <param name="clock">The clock of the entries' times and of the pruning.</param>
    public PredictionLogLedger(string folder, TimeProvider clock)
    {
        _folder = folder;
        _clock = clock;
    }

    /// <summary>The file this ledger appends to now (null before its first line).</summary>
    public string? CurrentFile => _path;

    /// <summary>
    /// Appends an entry and flushes it to disk; false (and why) when it could not be written: the next entry goes to a
    /// new file. Never throws for an I/O problem.
    /// </summary>
    public bool TryAppend(string segment, long bytes, string reason, out string? error)
    {
        var line = Encoding.ASCII.GetBytes(string.Create(
            CultureInfo.InvariantCulture, $"{segment}\t{bytes}\t{reason}\t{_clock.GetUtcNow().ToUnixTimeMilliseconds() * 1000}\n"));
        try
        {
            var created = false;
            if (_path is null || _written >= FileBytes)
            {
                _path = Path.Combine(_folder, NewName());
                _written = 0;
                created = true;
            }

            using (var stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            {
                stream.Write(line);
                stream.Flush(flushToDisk: true);
                _written = stream.Length;
            }

            if (created)
            {
                DurableFile.FsyncDirectory(_folder); // the new file's entry, before any unlink it announces
            }

            error = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _path = null; // a line may be torn: it ends that file
            error = e.Message;
            return false;
        }
    }

    /// <summary>Deletes the least recently written ledger files while the folder's are over <see cref="MaxBytes"/>; null, or the problem.</summary>
    public string? Prune()
    {
        try
        {
            var files = Files(_folder).Select(p => new FileInfo(p)).Where(f => f.Exists).ToList();
            var total = files.Sum(f => f.Length);
            if (total <= MaxBytes)
            {
                return null;
            }

            var now = _clock.GetUtcNow().UtcDateTime;
            foreach (var file in files.OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal))
            {
                if (total <= MaxBytes)
                {
                    break;
                }

                if (now - file.LastWriteTimeUtc < PruneAfter || file.FullName == _path)
                {
                    continue;
                }

                if (DurableFile.Delete(file.FullName, out var error) == DurableFile.Deletion.Failed)
                {
                    return $"prediction log retention cannot delete its old ledger file '{file.FullName}': {error}";
                }

                total -= file.Length;
            }

            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"prediction log retention cannot prune its ledger in '{_folder}': {e.Message}";
        }
    }

    /// <summary>The ledger files of a folder, in name order.</summary>
    public static IReadOnlyList<string> Files(string folder) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, Prefix + "*" + Extension).Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>Every entry of a folder's ledger files (see the remarks for torn and unreadable lines).</summary>
    public static LedgerContents Read(string folder)
    {
        var files = Files(folder);
        var entries = new Dictionary<string, LedgerEntry>(StringComparer.Ordinal);
        var unreadable = 0;
        foreach (var path in files)
        {
            var parsed = Parse(path, Parsed.TryGetValue(path, out var known) ? known : ParsedFile.None);
            if (parsed is null)
            {
                continue; // pruned since the listing: its entries are older than any kept
            }

            Parsed[path] = parsed;
            foreach (var entry in parsed.Entries)
            {
                entries[entry.Segment] = entry;
            }

            unreadable += parsed.Unreadable;
        }

        var prefix = Path.Combine(folder, Prefix);
        foreach (var gone in Parsed.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !files.Contains(k)))
        {
            Parsed.TryRemove(gone, out _);
        }

        return new LedgerContents(entries, unreadable);
    }

    // NOTE: a feed reads the ledger on every read (a monitor's tick, a feedback request's indexing), and the files only
    // ever grow by whole lines: what was parsed is kept process-wide, so a read parses only the lines appended since.
    private static readonly ConcurrentDictionary<string, ParsedFile> Parsed = new(StringComparer.Ordinal);

    /// <summary>A ledger file's lines up to <paramref name="Offset"/> (just past the last LF read).</summary>
    private sealed record ParsedFile(long Offset, IReadOnlyList<LedgerEntry> Entries, int Unreadable)
    {
        public static ParsedFile None { get; } = new(0, [], 0);
    }

    /// <summary><paramref name="known"/> and the lines appended to the file since; null when the file is gone.</summary>
    private static ParsedFile? Parse(string path, ParsedFile known)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length < known.Offset)
            {
                known = ParsedFile.None; // not the file parsed before (never the case for a ledger the cleaner wrote)
            }

            if (stream.Length == known.Offset)
            {
                return known;
            }

            stream.Position = known.Offset;
            bytes = new byte[stream.Length - known.Offset];
            stream.ReadExactly(bytes);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (EndOfStreamException)
        {
            return known; // shrunk while read: read again next time
        }

        var entries = new List<LedgerEntry>(known.Entries);
        var unreadable = known.Unreadable;
        var text = Encoding.ASCII.GetString(bytes).AsSpan();
        long consumed = 0;
        while (text.IndexOf('\n') is var end and >= 0)
        {
            if (Parse(text[..end]) is { } entry)
            {
                entries.Add(entry);
            }
            else
            {
                unreadable++;
            }

            text = text[(end + 1)..];
            consumed += end + 1;
        }

        // NOTE: what is left has no LF: being written (read next time), or torn by a crash before the unlink it announced.
        return new ParsedFile(known.Offset + consumed, entries, unreadable);
    }

    /// <summary>One line (without its LF) as an entry; null when it is not one.</summary>
    internal static LedgerEntry? Parse(ReadOnlySpan<char> line)
    {
        Span<Range> fields = stackalloc Range[5];
        if (line.Split(fields, '\t') != 4)
        {
            return null;
        }

        var segment = line[fields[0]].ToString();
        var reason = line[fields[2]];
        return PredictionLogCleaner.IsSegmentName(segment)
            && long.TryParse(line[fields[1]], NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
            && reason.Length is > 0 and <= 16 && !reason.ContainsAnyExceptInRange('a', 'z')
            && long.TryParse(line[fields[3]], NumberStyles.None, CultureInfo.InvariantCulture, out var at)
            ? new LedgerEntry(segment, bytes, reason.ToString(), at)
            : null;
    }

    private string NewName() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Prefix}{_clock.GetUtcNow().ToUnixTimeMilliseconds() * 1000:D20}-{Environment.ProcessId:D7}-{Random.Shared.Next():x8}{Extension}");
}
