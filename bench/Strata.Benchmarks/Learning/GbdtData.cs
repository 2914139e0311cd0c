using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Strata.Data.Csv;
using Strata.Learning;

namespace Strata.Benchmarks;

/// <summary>
/// Loads the peer comparison's data: CSV through Strata's reader (numbers as float32, label "y"), or the raw .f32 format
/// gbdt_side.py writes (b"SF32", int32 rows, int32 features, row-major float32 features, int32 labels), transposed into
/// float32 columns f0..f{d-1} without copying them again.
/// </summary>
internal static class GbdtData
{
    public static async Task<Table> LoadAsync(string path)
    {
        if (path.EndsWith(".f32", StringComparison.Ordinal))
        {
            return LoadF32(path);
        }

        var (schema, _) = await CsvReader.InferSchemaAsync(path).ConfigureAwait(false);
        var floats = new Schema(schema.Select(f => f.Name == "y" ? f.WithType(DataType.Int32) : f.WithType(DataType.Float32)));
        return await CsvReader.ReadTableAsync(path, new CsvReadOptions { Schema = floats }).ConfigureAwait(false);
    }

    private static Table LoadF32(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> header = stackalloc byte[12];
        file.ReadExactly(header);
        if (!header[..4].SequenceEqual("SF32"u8))
        {
            throw new InvalidDataException($"{path} is not an SF32 file");
        }

        var rows = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        var features = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        var columns = new float[features][];
        for (var f = 0; f < features; f++)
        {
            columns[f] = GC.AllocateUninitializedArray<float>(rows);
        }

        // Read a block of rows at a time and scatter it into the columns.
        const int BlockRows = 8192;
        var buffer = new float[BlockRows * features];
        for (var start = 0; start < rows; start += BlockRows)
        {
            var n = Math.Min(BlockRows, rows - start);
            file.ReadExactly(MemoryMarshal.AsBytes(buffer.AsSpan(0, n * features)));
            for (var f = 0; f < features; f++)
            {
                var column = columns[f];
                for (var i = 0; i < n; i++)
                {
                    column[start + i] = buffer[(i * features) + f];
                }
            }
        }

        var labels = new int[rows];
        file.ReadExactly(MemoryMarshal.AsBytes(labels.AsSpan()));
        var named = new List<(string, Column)>();
        for (var f = 0; f < features; f++)
        {
            named.Add(($"f{f}", new Column<float>(DataType.Float32, columns[f], 0, rows)));
        }

        named.Add(("y", new Column<int>(DataType.Int32, labels, 0, rows)));
        return Table.From([.. named]);
    }

    public static TrainingData Prepare(Table table, TrainingData? like = null) =>
        TrainingData.FromTable(table, new TrainingSpec { Label = "y", Task = LearningTask.BinaryClassification }, like);
}
