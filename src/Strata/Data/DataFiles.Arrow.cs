using System.Runtime.CompilerServices;
using Strata.Data.Arrow;

namespace Strata.Data;

// The Arrow IPC branch of DataFiles. Arrow files carry their types, so a declared schema only adds roles, tags and
// constraints to columns whose types agree.
public static partial class DataFiles
{
    private static async Task<ReadResult> ReadArrowAsync(string path, DataReadOptions options, CancellationToken cancellationToken)
    {
        var reader = await OpenArrowAsync(path, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            Table table;
            if (options.MaxRows is { } max)
            {
                var batches = new List<Table>();
                long rows = 0;
                await foreach (var batch in reader.ReadBatchesAsync(cancellationToken).ConfigureAwait(false))
                {
                    var take = (int)Math.Min(batch.RowCount, max - rows);
                    batches.Add(take == batch.RowCount ? batch : batch.Slice(0, take));
                    rows += take;
                    if (rows >= max)
                    {
                        break;
                    }
                }

                table = batches.Count == 0 ? Table.Empty(reader.Schema) : Table.Concat(batches);
            }
            else
            {
                table = await reader.ReadTableAsync(cancellationToken).ConfigureAwait(false);
            }

            var length = new FileInfo(path).Length;
            options.Progress?.Report(new ReadProgress(length, length, 1, 1));
            table = table.WithSchema(Declare(path, table.Schema, options.Schema));
            return new ReadResult(table, new ReadReport { Input = path, Rows = table.RowCount, Bytes = length });
        }
    }

    private static async IAsyncEnumerable<Table> ReadArrowBatchesAsync(string path, DataReadOptions options, ReadReport? report, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var reader = await OpenArrowAsync(path, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            var schema = Declare(path, reader.Schema, options.Schema);
            var length = new FileInfo(path).Length;
            long rows = 0;
            var max = options.MaxRows ?? long.MaxValue;
            var index = 0;
            await foreach (var batch in reader.ReadBatchesAsync(cancellationToken).ConfigureAwait(false))
            {
                index++;
                options.Progress?.Report(new ReadProgress(length * index / Math.Max(1, reader.RecordBatchCount), length, 1, 1));
                var take = (int)Math.Min(batch.RowCount, max - rows);
                rows += take;
                if (report is not null)
                {
                    report.Rows = rows;
                    report.Bytes = length;
                }

                yield return (take == batch.RowCount ? batch : batch.Slice(0, take)).WithSchema(schema);
                if (rows >= max)
                {
                    yield break;
                }
            }
        }
    }

    private static async Task<Schema> ReadArrowSchemaAsync(string path, DataReadOptions options, CancellationToken cancellationToken)
    {
        var reader = await OpenArrowAsync(path, cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            return Declare(path, reader.Schema, options.Schema);
        }
    }

    private static Task WriteArrowAsync(Table table, string path, CancellationToken cancellationToken) =>
        ArrowFile.WriteAsync(table, path, cancellationToken: cancellationToken);

    private static Task<ArrowFileReader> OpenArrowAsync(string path, CancellationToken cancellationToken) =>
        File.Exists(path)
            ? ArrowFileReader.OpenAsync(path, cancellationToken: cancellationToken)
            : throw new StrataException(ErrorCodes.NotFound, $"{path}: no such file");

    /// <summary>The file's schema with the declared fields' roles, tags and constraints where the types agree.</summary>
    private static Schema Declare(string path, Schema file, Schema? declared)
    {
        if (declared is null)
        {
            return file;
        }

        var missing = declared.Names.Where(n => !file.Contains(n)).ToArray();
        if (missing.Length > 0)
        {
            throw new StrataException(
                ErrorCodes.SchemaInvalid,
                $"{path}: the schema declares column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} that the file does not have");
        }

        return new Schema(file.Select(f =>
        {
            if (declared.TryIndexOf(f.Name) is not (>= 0 and var i))
            {
                return f;
            }

            var d = declared[i];
            if (d.Type != f.Type)
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"{path}: column '{f.Name}' is {f.Type.Name()} in the file but the schema declares {d.Type.Name()}");
            }

            return d.Nullable || !f.Nullable ? d : d.WithNullable(true);
        }));
    }
}
