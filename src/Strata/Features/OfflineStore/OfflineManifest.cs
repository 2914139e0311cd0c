using System.Globalization;
using System.Text;

using Strata.Features.OnlineStore;

namespace Strata.Features.OfflineStore;

/// <summary>One committed segment: a file holding rows of one event-time partition.</summary>
internal sealed record OfflineSegment(string File, long Partition, long Sequence, int Rows, long MinEventTs, long MaxEventTs)
{
    public bool Overlaps(long from, long toInclusive) => MaxEventTs >= from && MinEventTs <= toInclusive;
}

/// <summary>
/// The list of a view's committed segments and its layout signature. It is written durably after the segments it names,
/// so a segment the manifest does not name is the leftover of an append that never committed.
/// </summary>
internal sealed class OfflineManifest
{
    public const string FileName = "manifest";
    private const string Magic = "strata-offline-manifest 1";

    public OfflineManifest(string signature, long nextSequence, IReadOnlyList<OfflineSegment> segments)
    {
        Signature = signature;
        NextSequence = nextSequence;
        Segments = segments;
    }

    public string Signature { get; }

    public long NextSequence { get; }

    /// <summary>Ordered by partition, then sequence: rows of equal event time keep their append order.</summary>
    public IReadOnlyList<OfflineSegment> Segments { get; }

    public OfflineManifest With(IEnumerable<OfflineSegment> added, long nextSequence) =>
        new(Signature, nextSequence, Segments.Concat(added).OrderBy(s => s.Partition).ThenBy(s => s.Sequence).ToArray());

    public byte[] Serialize()
    {
        var text = new StringBuilder();
        text.Append(Magic).Append('\n');
        text.Append("signature ").Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(Signature))).Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"next {NextSequence}\n");
        foreach (var s in Segments)
        {
            text.Append(CultureInfo.InvariantCulture, $"segment {s.File} {s.Partition} {s.Sequence} {s.Rows} {s.MinEventTs} {s.MaxEventTs}\n");
        }

        var body = Encoding.UTF8.GetBytes(text.ToString());
        var crc = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"crc {Crc32C.Compute(body):x8}\n"));
        return [.. body, .. crc];
    }

    /// <exception cref="StrataException">The file is torn, altered or not a manifest.</exception>
    public static OfflineManifest Parse(byte[] bytes, string path)
    {
        var text = Encoding.UTF8.GetString(bytes);
        var crcAt = text.LastIndexOf("crc ", StringComparison.Ordinal);
        if (crcAt < 0
            || !uint.TryParse(text.AsSpan(crcAt + 4).TrimEnd('\n'), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var crc)
            || crc != Crc32C.Compute(bytes.AsSpan(0, Encoding.UTF8.GetByteCount(text.AsSpan(0, crcAt)))))
        {
            throw Corrupt(path, "checksum mismatch");
        }

        var lines = text[..crcAt].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length < 3 || lines[0] != Magic || !lines[1].StartsWith("signature ", StringComparison.Ordinal) || !lines[2].StartsWith("next ", StringComparison.Ordinal))
        {
            throw Corrupt(path, "unknown header");
        }

        var signature = Encoding.UTF8.GetString(Convert.FromBase64String(lines[1]["signature ".Length..]));
        var next = long.Parse(lines[2]["next ".Length..], CultureInfo.InvariantCulture);
        var segments = new List<OfflineSegment>(lines.Length - 3);
        foreach (var line in lines.Skip(3))
        {
            var p = line.Split(' ');
            if (p.Length != 7 || p[0] != "segment" || p[1] != SegmentFile(long.Parse(p[3], CultureInfo.InvariantCulture), long.Parse(p[2], CultureInfo.InvariantCulture)))
            {
                throw Corrupt(path, $"bad segment line '{line}'");
            }

            segments.Add(new OfflineSegment(
                p[1],
                long.Parse(p[2], CultureInfo.InvariantCulture),
                long.Parse(p[3], CultureInfo.InvariantCulture),
                int.Parse(p[4], CultureInfo.InvariantCulture),
                long.Parse(p[5], CultureInfo.InvariantCulture),
                long.Parse(p[6], CultureInfo.InvariantCulture)));
        }

        return new OfflineManifest(signature, next, segments);
    }

    /// <summary>A segment's file name; derived from numbers only, so nothing user-supplied reaches the file system here.</summary>
    public static string SegmentFile(long sequence, long partition) =>
        string.Create(CultureInfo.InvariantCulture, $"seg-{sequence:D10}-p{partition}.arrow");

    private static StrataException Corrupt(string path, string why) =>
        new(ErrorCodes.DataMalformed, $"offline store manifest '{path}' is damaged ({why})");
}
