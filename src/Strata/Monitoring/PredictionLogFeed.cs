using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Strata.Monitoring.Drift;
using Strata.Monitoring.Quality;
using Strata.Serving;
using Strata.Stores;

namespace Strata.Monitoring;

/// <summary>
/// Where a <see cref="PredictionLogFeed"/> stopped: the segment of the last record read and how many records of it were
/// consumed, plus which segments are read to their end (<see cref="Floor"/> and <see cref="Read"/>).
/// </summary>
/// <param name="Segment">The segment's file name (no folder); null before the first read.</param>
/// <param name="Records">Records of that segment already consumed.</param>
public sealed record PredictionLogPosition(string? Segment, long Records)
{
    /// <summary>Nothing read yet.</summary>
    public static PredictionLogPosition Start { get; } = new(null, 0);

    /// <summary>
    /// Every segment whose name sorts before this is read to its end (or can no longer appear). Null: <see cref="Segment"/>
    /// stands for it, as in a position stored before segments were tracked one by one.
    /// </summary>
    public string? Floor { get; init; }

    /// <summary>The segments at or after <see cref="Floor"/> read to their end: names in order, joined by a newline; null when none.</summary>
    public string? Read { get; init; }

    /// <summary>The position a feed state stores.</summary>
    public static PredictionLogPosition Of(MonitorFeedState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new(state.Segment, state.Records) { Floor = state.SegmentFloor, Read = state.ReadSegments };
    }

    /// <summary><paramref name="state"/> moved to this position.</summary>
    public MonitorFeedState Into(MonitorFeedState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state with { Segment = Segment, Records = Records, SegmentFloor = Floor, ReadSegments = Read };
    }
}

/// <summary>
/// Segments of the prediction log that its retention deleted before a feed read them (see the retention ledger,
/// <c>retention-*.ledger</c> in the log's folder): their records never reached the monitor. Segments hold every
/// endpoint's records, so some of those bytes may not have been the monitored endpoint's.
/// </summary>
/// <param name="Segments">Segments deleted unread (one a read had stopped inside counts, though its first records were read).</param>
/// <param name="Bytes">Their bytes, as the ledger recorded them.</param>
public sealed record PredictionLogMissed(int Segments, long Bytes)
{
    /// <summary>Nothing missed.</summary>
    public static PredictionLogMissed None { get; } = new(0, 0);

    /// <summary>
    /// Lines of the retention ledger that could not be read (damaged) when the feed last read: the segments they name,
    /// if deleted unread, cannot be counted. Reported each read they are found (not a total).
    /// </summary>
    public int UnreadableLedgerLines { get; init; }

    /// <summary>True when nothing was missed and the ledger read whole.</summary>
    public bool IsNone => Segments == 0 && UnreadableLedgerLines == 0;

    /// <summary>Both counts together (the unreadable lines: <paramref name="later"/>'s).</summary>
    public PredictionLogMissed Plus(PredictionLogMissed later)
    {
        ArgumentNullException.ThrowIfNull(later);
        return new(Segments + later.Segments, Bytes + later.Bytes) { UnreadableLedgerLines = later.UnreadableLedgerLines };
    }

    /// <summary>
    /// The loss in words, for a result or a log: <c>3 segments (1,536 bytes) of predictions were deleted by retention
    /// before this monitor read them</c>; empty when none.
    /// </summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Segments > 0)
        {
            parts.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"{Segments} segment{(Segments == 1 ? "" : "s")} ({Bytes:N0} bytes) of predictions {(Segments == 1 ? "was" : "were")} deleted by retention before this monitor read {(Segments == 1 ? "it" : "them")}"));
        }

        if (UnreadableLedgerLines > 0)
        {
            parts.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"{UnreadableLedgerLines} line{(UnreadableLedgerLines == 1 ? "" : "s")} of the prediction log's retention ledger could not be read (segments deleted unread may go uncounted)"));
        }

        return string.Join("; ", parts);
    }
}

/// <summary>
/// Feeds a monitor from the serving stratum's prediction log: reads the closed segments of one endpoint's records as
/// served-record batches (timestamp, endpoint, model_version, request_id, the input fields, the prediction) and remembers
/// where it stopped, so the next read returns only records logged since.
/// </summary>
/// <remarks>
/// Closed segments never change, and a segment is read only once closed. Segments sort in time order, but one may close
/// after later ones were read (a replica's, or one left open by a crash and closed at the next start), so the position
/// names the segments read rather than only the last: a floor below which all were read, and those read above it. The
/// floor never passes a segment still open, nor the time <see cref="LateMargin"/> ago (a writer names a segment by its
/// clock before the file appears). The prediction of a binary classifier is the probability of its second class; of
/// other classifiers the label (text); of a regressor the value. Masked inputs (PII) read as null.
/// <para>
/// A segment the log's retention deleted before this feed read it (named in the retention ledger, at or after the
/// floor, not read, no longer in the folder) is counted in <see cref="Missed"/> and then treated as read, so it is
/// counted once and never holds the floor back. A feed that has never read (<see cref="PredictionLogPosition.Start"/>)
/// counts nothing: what was deleted before it began is not its loss.
/// </para>
/// </remarks>
public sealed class PredictionLogFeed
{
    /// <summary>Column of the request id.</summary>
    public const string RequestIdColumn = "request_id";

    /// <summary>Most rows per batch by default.</summary>
    public const int DefaultBatchRows = 4096;

    /// <summary>
    /// How far behind now the floor stays: a segment named (by its writer's clock) that long ago but not yet seen open is
    /// still read when it appears. Covers the moment between naming a segment and creating it, and clock skew between
    /// replicas sharing the folder.
    /// </summary>
    public static readonly TimeSpan LateMargin = TimeSpan.FromMinutes(5);

    private readonly string _folder;
    private readonly string _endpoint;
    private readonly string _predictionColumn;
    private readonly Dictionary<string, DriftFeatureKind> _kinds;

    /// <summary>
    /// Creates a feed of <paramref name="endpoint"/>'s records in the log folder <paramref name="folder"/> (the home's
    /// <c>predictions/</c>). <paramref name="layout"/> (the reference's) fixes each monitored field's column type, so a
    /// batch where a field is all null or masked still has the type the monitor expects.
    /// </summary>
    public PredictionLogFeed(string folder, string endpoint, string predictionColumn = "prediction", DriftLayout? layout = null, PredictionLogPosition? position = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Names.Check("endpoint", endpoint);
        ArgumentException.ThrowIfNullOrEmpty(predictionColumn);
        _folder = folder;
        _endpoint = endpoint;
        _predictionColumn = predictionColumn;
        _kinds = layout?.Features.ToDictionary(f => f.Name, f => f.Kind, StringComparer.Ordinal) ?? [];
        Position = position ?? PredictionLogPosition.Start;
    }

    /// <summary>Where the next read starts (store it to resume after a restart).</summary>
    public PredictionLogPosition Position { get; private set; }

    /// <summary>
    /// What this feed's reads found deleted by the log's retention before they read it, up to <see cref="Position"/>
    /// (each such segment counted once: the position moves past it).
    /// </summary>
    public PredictionLogMissed Missed { get; private set; } = PredictionLogMissed.None;

    /// <summary>
    /// The endpoint's records logged since the last read, as batches of at most <paramref name="batchRows"/> rows (one row
    /// per predicted row); the position advances as batches are taken.
    /// </summary>
    public IAsyncEnumerable<Table> ReadAsync(int batchRows = DefaultBatchRows, CancellationToken cancellationToken = default) =>
        ReadAsync(batchRows, until: null, cancellationToken);

    /// <summary>
    /// Like <see cref="ReadAsync(int, CancellationToken)"/>, but stops before the first record served at or after
    /// <paramref name="until"/> (UTC microseconds; null: no bound) without consuming it, so the position stays at a window
    /// boundary: everything read belongs to windows that end by <paramref name="until"/>.
    /// </summary>
    public async IAsyncEnumerable<Table> ReadAsync(int batchRows, long? until, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        var pending = new List<PredictionRecord>();
        var rows = 0;
        await foreach (var record in ReadRecordsAsync(until, cancellationToken).ConfigureAwait(false))
        {
            if (record.Endpoint != _endpoint || record.Role == ServingRoles.Shadow)
            {
                continue;
            }

            pending.Add(record);
            rows += record.Rows.Count;
            if (rows >= batchRows)
            {
                yield return Batch(pending);
                pending.Clear();
                rows = 0;
            }
        }

        if (pending.Count > 0)
        {
            yield return Batch(pending);
        }
    }

    /// <summary>Adds every record logged since the last read to <paramref name="runner"/>; returns the rows added.</summary>
    public async Task<long> FeedAsync(MonitorRunner runner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        long rows = 0;
        await foreach (var batch in ReadAsync(cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            runner.Add(batch);
            rows += batch.RowCount;
        }

        return rows;
    }

    /// <summary>
    /// Joins the endpoint's feedback labels stored since <paramref name="since"/> (UTC microseconds) to their logged
    /// predictions and adds the pairs to <paramref name="runner"/>'s quality check; returns how many were added.
    /// </summary>
    public async Task<int> FeedLabelsAsync(MonitorRunner runner, IMonitorResultStore store, string project, long since = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(store);
        var labels = await store.ListLabelsAsync(project, _endpoint, since, cancellationToken: cancellationToken).ConfigureAwait(false);
        var (pairs, _) = await JoinLabelsAsync(labels.ToDictionary(l => l.RequestId, l => l.Label, StringComparer.Ordinal), cancellationToken).ConfigureAwait(false);
        runner.AddLabels(pairs);
        return pairs.Count;
    }

    /// <summary>
    /// Joins labels (request id → label, from feedback) to the logged predictions of those requests (the whole log, not
    /// only new records), for the quality check; returns the pairs and the ids found.
    /// </summary>
    public async Task<(IReadOnlyList<LabeledPrediction> Pairs, IReadOnlySet<string> Found)> JoinLabelsAsync(
        IReadOnlyDictionary<string, double> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var pairs = new List<LabeledPrediction>();
        var found = new HashSet<string>(StringComparer.Ordinal);
        if (labels.Count == 0)
        {
            return (pairs, found);
        }

        await foreach (var record in PredictionLogReader.ReadAsync(_folder, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (record.Endpoint != _endpoint || record.Role == ServingRoles.Shadow || !labels.TryGetValue(record.RequestId, out var label) || record.Rows.Count == 0)
            {
                continue;
            }

            found.Add(record.RequestId);
            if (Score(record, record.Rows[0]) is double score)
            {
                pairs.Add(new LabeledPrediction(record.Time, score, label));
            }
        }

        return (pairs, found);
    }

    /// <summary>
    /// The raw records (every endpoint's) logged since the last read, stopping before the first served at or after
    /// <paramref name="until"/>; the position advances past each record returned.
    /// </summary>
    public async IAsyncEnumerable<PredictionRecord> ReadRecordsAsync(long? until = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Resume reached = default;
        try
        {
            await foreach (var (record, position, resume, missed) in NewRecordsAsync(cancellationToken).ConfigureAwait(false))
            {
                // NOTE: the log is written in serving order by one writer, so the first record past the bound ends the read.
                if (record is not null && until is { } bound && record.Time >= bound)
                {
                    yield break;
                }

                Position = position;
                reached = resume;
                if (missed is not null)
                {
                    Missed = Missed.Plus(missed);
                }

                if (record is not null)
                {
                    yield return record;
                }
            }
        }
        finally
        {
            Remember(reached); // where the next pass, made from the stored position, can start reading
        }
    }

    /// <summary>The numeric prediction of a record's first row (see <see cref="PredictionLogFeed"/>), null when it has none.</summary>
    public static double? FirstScore(PredictionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.Rows.Count == 0 ? null : Score(record, record.Rows[0]);
    }

    /// <summary>
    /// The records to read, each with the position past it, and after each segment (read, or found deleted unread) a
    /// null record with the position past that segment and what it adds to <see cref="Missed"/>.
    /// </summary>
    private async IAsyncEnumerable<(PredictionRecord? Record, PredictionLogPosition Position, Resume Resume, PredictionLogMissed? Missed)> NewRecordsAsync(
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = Position;
        var floor = start.Floor ?? start.Segment ?? "";
        var read = new SortedSet<string>(start.Read?.Split('\n') ?? [], StringComparer.Ordinal);
        var readList = start.Read;
        var counts = start.Segment is not null || start.Floor is not null; // see the remarks: a feed that never read counts nothing

        // NOTE: open segments are listed before closed ones: a segment renamed between the two listings is then seen
        // closed, never missed by both. The ledger is read after the listing: a segment deleted in between is in both, and
        // found gone when opened.
        var open = PredictionLogReader.OpenSegments(_folder);
        var oldestOpen = open.Count > 0 ? Path.GetFileName(open[0])[..^PredictionLog.OpenExtension.Length] : null;
        var listed = PredictionLogReader.Segments(_folder);
        var ledger = PredictionLogLedger.Read(_folder);
        var unread = listed
            .Where(path => Path.GetFileName(path) is var name && string.CompareOrdinal(name, floor) >= 0 && !read.Contains(name))
            .ToList();

        // Deleted by the retention before this feed read them: counted, then read as far as the position goes.
        var present = listed.Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        var gone = ledger.Entries.Values
            .Where(e => string.CompareOrdinal(e.Segment, floor) >= 0 && !read.Contains(e.Segment) && !present.Contains(e.Segment))
            .ToList();
        if (gone.Count > 0)
        {
            read.UnionWith(gone.Select(e => e.Segment));
            floor = Max(floor, Min(Min(Horizon(), oldestOpen), unread.Count > 0 ? Path.GetFileName(unread[0]) : null));
            read.RemoveWhere(n => string.CompareOrdinal(n, floor) < 0);
            readList = read.Count == 0 ? null : string.Join('\n', read);
            var missed = counts ? new PredictionLogMissed(gone.Count, gone.Sum(e => e.Bytes)) : PredictionLogMissed.None;
            yield return (null, start with { Floor = floor, Read = readList }, default, missed with { UnreadableLedgerLines = ledger.Unreadable });
        }
        else if (ledger.Unreadable > 0)
        {
            yield return (null, start, default, PredictionLogMissed.None with { UnreadableLedgerLines = ledger.Unreadable });
        }

        // The segment a read stopped inside comes first: the position keeps one partly read segment's count at a time.
        var partial = unread.FindIndex(path => Path.GetFileName(path) == start.Segment);
        if (partial > 0)
        {
            (unread[0], unread[partial]) = (unread[partial], unread[0]);
            unread.Sort(1, unread.Count - 1, StringComparer.Ordinal);
        }

        for (var i = 0; i < unread.Count; i++)
        {
            var path = unread[i];
            var name = Path.GetFileName(path);
            var skip = name == start.Segment ? start.Records : 0;
            var file = new FileInfo(path);
            long index = 0;
            Resume resume = default;
            PredictionLogMissed? lost = null;
            if (!file.Exists)
            {
                // Deleted by the log's retention since the listing: its records are gone, never read (its bytes are the
                // ledger's; 0 when it has no line for it: deleted by hand).
                if (counts)
                {
                    var entry = ledger.Entries.TryGetValue(name, out var e) || PredictionLogLedger.Read(_folder).Entries.TryGetValue(name, out e) ? e : default;
                    lost = new PredictionLogMissed(1, entry.Bytes);
                }
            }
            else
            {
                var length = file.Length;
                long offset = 0;
                if (skip > 0 && Resumes.TryGetValue((path, skip, length), out var known))
                {
                    (index, offset) = (skip, known);
                }

                resume = new Resume(path, index, length, offset);
                await foreach (var (record, end) in PredictionLogReader.ReadListedSegmentAsync(path, offset, cancellationToken).ConfigureAwait(false))
                {
                    index++;
                    if (index > skip)
                    {
                        resume = new Resume(path, index, length, end);
                        yield return (record, new PredictionLogPosition(name, index) { Floor = floor, Read = readList }, resume, null);
                    }
                }
            }

            // Read to its end: remember it, and raise the floor to the oldest segment that may still be unread.
            read.Add(name);
            var next = i + 1 < unread.Count ? Path.GetFileName(unread[i + 1]) : null;
            floor = Max(floor, Min(Min(Horizon(), oldestOpen), next));
            read.RemoveWhere(n => string.CompareOrdinal(n, floor) < 0);
            readList = read.Count == 0 ? null : string.Join('\n', read);
            yield return (null, new PredictionLogPosition(name, index) { Floor = floor, Read = readList }, resume, lost);
        }
    }

    /// <summary>The name prefix of segments named <see cref="LateMargin"/> ago (names start with their time in UTC µs, 20 digits).</summary>
    private static string Horizon() =>
        ((DateTimeOffset.UtcNow - LateMargin).ToUnixTimeMilliseconds() * 1000).ToString("D20", System.Globalization.CultureInfo.InvariantCulture);

    private static string Min(string a, string? b) => b is null || string.CompareOrdinal(a, b) <= 0 ? a : b;

    private static string Max(string a, string b) => string.CompareOrdinal(a, b) >= 0 ? a : b;

    /// <summary>
    /// Where reading a closed segment stopped: after <paramref name="Records"/> records, at byte <paramref name="Offset"/>
    /// of a file of <paramref name="Length"/> bytes (which tells a segment replaced under the same name from the one read).
    /// </summary>
    private readonly record struct Resume(string Path, long Records, long Length, long Offset);

    // NOTE: a feed is made anew for each pass (a monitor's tick, a feedback request), and its stored position is a record
    // count; without the offset each pass would parse the segment up to that count again (a 64 MB segment: about a
    // second). The offsets are process-wide, and only ever save work: a position not remembered is read from the start.
    private const int MaxResumes = 1024;
    private static readonly ConcurrentDictionary<(string Path, long Records, long Length), long> Resumes = new();

    private static void Remember(Resume resume)
    {
        if (resume.Path is null || resume.Records == 0)
        {
            return;
        }

        if (Resumes.Count >= MaxResumes)
        {
            Resumes.Clear();
        }

        Resumes[(resume.Path, resume.Records, resume.Length)] = resume.Offset;
    }

    private Table Batch(List<PredictionRecord> records)
    {
        var count = records.Sum(r => r.Rows.Count);
        var time = new long?[count];
        var endpoint = new string?[count];
        var version = new int?[count];
        var requestId = new string?[count];
        var prediction = new double?[count];
        var predictionText = new string?[count];
        var textual = false;
        var fields = new SortedDictionary<string, JsonElement?[]>(StringComparer.Ordinal);
        var row = 0;
        foreach (var record in records)
        {
            foreach (var served in record.Rows)
            {
                time[row] = record.Time;
                endpoint[row] = record.Endpoint;
                version[row] = record.Version;
                requestId[row] = record.RequestId;
                prediction[row] = Score(record, served);
                predictionText[row] = served.Label ?? served.Value?.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
                textual |= prediction[row] is null && served.Label is not null;
                foreach (var (name, value) in served.Inputs)
                {
                    if (name is MonitorRunner.TimestampColumn or MonitorRunner.EndpointColumn or MonitorRunner.VersionColumn or RequestIdColumn
                        || name == _predictionColumn)
                    {
                        continue;
                    }

                    if (!fields.TryGetValue(name, out var values))
                    {
                        fields[name] = values = new JsonElement?[count];
                    }

                    values[row] = value;
                }

                row++;
            }
        }

        var columns = new List<(string, Column)>
        {
            (MonitorRunner.TimestampColumn, Columns.Timestamp(time)),
            (MonitorRunner.EndpointColumn, Columns.String(endpoint)),
            (MonitorRunner.VersionColumn, Columns.Int32(version)),
            (RequestIdColumn, Columns.String(requestId)),
            (_predictionColumn, textual ? Columns.String(predictionText) : Columns.Float64(prediction)),
        };
        foreach (var (name, values) in fields)
        {
            columns.Add((name, Field(name, values)));
        }

        return Table.From([.. columns]);
    }

    /// <summary>One input field as a column: numbers as Float64, true/false as Bool, anything else as text.</summary>
    private Column Field(string name, JsonElement?[] values)
    {
        static bool Masked(JsonElement e) => e.ValueKind == JsonValueKind.String && e.GetString() == PredictionLog.Mask;
        var present = values.Where(v => v is { } e && e.ValueKind != JsonValueKind.Null && !Masked(e)).Select(v => v!.Value).ToList();
        var kind = _kinds.TryGetValue(name, out var k) ? k
            : present.Count > 0 && present.All(e => e.ValueKind == JsonValueKind.Number) ? DriftFeatureKind.Numeric
            : DriftFeatureKind.Categorical;
        if (kind == DriftFeatureKind.Numeric)
        {
            return Columns.Float64([.. values.Select(v => v is { ValueKind: JsonValueKind.Number } e ? e.GetDouble() : (double?)null)]);
        }

        if (!_kinds.ContainsKey(name) && present.Count > 0 && present.All(e => e.ValueKind is JsonValueKind.True or JsonValueKind.False))
        {
            return Columns.Bool([.. values.Select(v => v is { ValueKind: JsonValueKind.True or JsonValueKind.False } e ? e.GetBoolean() : (bool?)null)]);
        }

        return Columns.String([.. values.Select(v => v is { } e && e.ValueKind != JsonValueKind.Null && !Masked(e)
            ? (e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText())
            : null)]);
    }

    /// <summary>The numeric prediction of a row: the second class's probability (binary), else the value; null otherwise.</summary>
    private static double? Score(PredictionRecord record, PredictionRow row) =>
        row.Probabilities is { Count: 2 } p && record.Classes is { Count: 2 } ? p[1] : row.Value;
}
