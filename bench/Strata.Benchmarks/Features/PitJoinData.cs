using Strata.Data.Profiling;

namespace Strata.Benchmarks.Features;

/// <summary>
/// The synthetic shape of ../shared/peers/pit_join_pandas.py: entity rows (entity_id, event_ts) and feature rows
/// (entity_id, feature_ts, f0..f9 float32), uniform over the entities and 30 days. Seeded, so every run joins the same
/// data (the values differ from numpy's generator; the shape and distribution are the same).
/// </summary>
internal static class PitJoinData
{
    public static readonly long Start = Timestamp.FromDateTime(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc));
    private const long Span = 30 * Timestamp.MicrosPerDay;

    public static Table Entities(int rows, int entities, ulong seed)
    {
        var state = seed;
        var ids = new long[rows];
        var ts = new long[rows];
        for (var i = 0; i < rows; i++)
        {
            ids[i] = (long)(SplitMix64.Next(ref state) % (ulong)entities);
            ts[i] = Start + (long)(SplitMix64.Next(ref state) % Span);
        }

        return Table.From(("entity_id", new Column<long>(DataType.Int64, ids, 0, rows)), ("event_ts", new Column<long>(DataType.Timestamp, ts, 0, rows)));
    }

    public static Table Features(int rows, int entities, int features, ulong seed)
    {
        var state = seed;
        var ids = new long[rows];
        var ts = new long[rows];
        for (var i = 0; i < rows; i++)
        {
            ids[i] = (long)(SplitMix64.Next(ref state) % (ulong)entities);
            ts[i] = Start + (long)(SplitMix64.Next(ref state) % Span);
        }

        var columns = new List<(string, Column)> { ("entity_id", new Column<long>(DataType.Int64, ids, 0, rows)), ("feature_ts", new Column<long>(DataType.Timestamp, ts, 0, rows)) };
        for (var f = 0; f < features; f++)
        {
            var values = new float[rows];
            for (var i = 0; i < rows; i++)
            {
                values[i] = (SplitMix64.Next(ref state) >> 40) * (1f / (1 << 24));
            }

            columns.Add(($"f{f}", new Column<float>(DataType.Float32, values, 0, rows)));
        }

        return Table.From(columns.ToArray());
    }
}
