using System.Globalization;
using Strata.Features;
using Strata.Features.OfflineStore;

namespace Strata.CrashWriter;

/// <summary>
/// `offline FOLDER SEED`: appends batches to an embedded offline store forever (until killed). Batch n of incarnation SEED
/// has id SEED·1,000,000 + n, and its content depends on the seed and n only: 1–600 rows whose event times spread over four
/// UTC days, so each append writes several partition segments before its manifest. Every row carries its batch id, its
/// index in the batch and the batch's row count, so the test can tell a whole batch from a partial one without knowing
/// this generator. After AppendAsync returns it prints `ACK {batch} {rows} ok` (the trailing `ok` marks a line the kill
/// did not cut).
/// </summary>
internal static class OfflineStoreWriter
{
    /// <summary>The first event day: 2024-01-01T00:00Z in microseconds.</summary>
    public const long T0 = 1_704_067_200_000_000;

    private const long Day = 86_400_000_000;

    public static readonly FeatureViewLayout View = new(
        "crash",
        [new Field("id", DataType.Int64)],
        "event_ts",
        [
            new Field("batch", DataType.Int64),
            new Field("row", DataType.Int64),
            new Field("rows", DataType.Int64),
            new Field("value", DataType.Float64),
            new Field("label", DataType.String),
        ]);

    /// <summary>A row's key and value, a function of its batch and index, so garbage cannot pass for a real row.</summary>
    public static long KeyOf(long batch, long row) => ((batch * 7919) + row) % 1000;

    public static double ValueOf(long batch, long row) => batch + (row / 1024.0);

    public static Table Batch(long batch, int seed, long n)
    {
        var random = new Random(unchecked((seed * 1_000_003) + (int)n));
        var count = random.Next(1, 601);
        var ids = new long?[count];
        var ts = new long?[count];
        var batches = new long?[count];
        var rowIndex = new long?[count];
        var rows = new long?[count];
        var values = new double?[count];
        var labels = new string?[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = KeyOf(batch, i);
            ts[i] = T0 + random.NextInt64(4 * Day);
            batches[i] = batch;
            rowIndex[i] = i;
            rows[i] = count;
            values[i] = ValueOf(batch, i);
            labels[i] = random.Next(6) == 0 ? null : new string((char)('a' + random.Next(26)), random.Next(0, 200));
        }

        return Table.From(
            ("id", Columns.Int64(ids)),
            ("event_ts", Columns.Timestamp(ts)),
            ("batch", Columns.Int64(batches)),
            ("row", Columns.Int64(rowIndex)),
            ("rows", Columns.Int64(rows)),
            ("value", Columns.Float64(values)),
            ("label", Columns.String(labels)));
    }

    public static async Task RunAsync(string[] args)
    {
        var folder = args[0];
        var seed = int.Parse(args[1], CultureInfo.InvariantCulture);
        await using var store = await EmbeddedOfflineStore.OpenAsync(folder);
        var stdout = Console.Out;
        for (long n = 0; ; n++)
        {
            var batch = (seed * 1_000_000L) + n;
            var rows = Batch(batch, seed, n);
            await store.AppendAsync(View, rows);
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"ACK {batch} {rows.RowCount} ok"));
            await stdout.FlushAsync();
        }
    }
}
