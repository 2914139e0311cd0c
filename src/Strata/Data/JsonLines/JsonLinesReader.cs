using Strata.Data.Text;

namespace Strata.Data.JsonLines;

/// <summary>
/// Reads JSON Lines (one object per line) into tables, with the same guarantees as the CSV reader: whole-input type
/// inference, parallel chunks, bounded memory, errors that name the input, line and key.
/// </summary>
public static class JsonLinesReader
{
    /// <summary>Reads a whole file into a table, with a report of handled problems.</summary>
    public static Task<ReadResult> ReadAsync(string path, JsonLinesReadOptions? options = null, CancellationToken cancellationToken = default) =>
        TextTableReader.UsingAsync(TextTableReader.OpenAsync(path, options ?? new(), CreateAsync, cancellationToken), input => TextTableReader.ReadAsync(input, cancellationToken));

    /// <summary>Reads a stream into a table (a non-seekable stream is first spooled to a temporary file).</summary>
    public static Task<ReadResult> ReadAsync(Stream stream, JsonLinesReadOptions? options = null, CancellationToken cancellationToken = default) =>
        TextTableReader.UsingAsync(TextTableReader.OpenAsync(stream, options ?? new(), CreateAsync, cancellationToken), input => TextTableReader.ReadAsync(input, cancellationToken));

    /// <summary>Reads a whole file into a table.</summary>
    public static async Task<Table> ReadTableAsync(string path, JsonLinesReadOptions? options = null, CancellationToken cancellationToken = default) =>
        (await ReadAsync(path, options, cancellationToken).ConfigureAwait(false)).Table;

    /// <summary>
    /// Reads a file as a sequence of tables of about <see cref="TextReadOptions.ChunkBytes"/> of input each, all with one
    /// schema, a few in memory at a time. Types come from a first pass over the whole file unless every column is
    /// declared. <paramref name="report"/>, when given, is filled as the batches are read.
    /// </summary>
    public static IAsyncEnumerable<Table> ReadBatchesAsync(string path, JsonLinesReadOptions? options = null, ReadReport? report = null, CancellationToken cancellationToken = default) =>
        TextTableReader.BatchesAsync(TextTableReader.OpenAsync(path, options ?? new(), CreateAsync, cancellationToken), report, cancellationToken);

    /// <summary>The schema of a file, inferred from every record without keeping the values.</summary>
    public static Task<(Schema Schema, ReadReport Report)> InferSchemaAsync(string path, JsonLinesReadOptions? options = null, CancellationToken cancellationToken = default) =>
        TextTableReader.UsingAsync(TextTableReader.OpenAsync(path, options ?? new(), CreateAsync, cancellationToken), input => TextTableReader.InferSchemaAsync(input, cancellationToken));

    private static async Task<TextInput> CreateAsync(ReadSource source, JsonLinesReadOptions options, CancellationToken cancellationToken)
    {
        if (source.Length == 0)
        {
            throw new DataFormatException(ErrorCodes.DataEmpty, "the file is empty", new DataLocation(source.Name));
        }

        // A byte-order mark is allowed before the first line.
        var head = new byte[3];
        var read = await source.ReadAtAsync(0, head, cancellationToken).ConfigureAwait(false);
        var bom = read == 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF;
        return new JsonLinesInput(source, options, bom ? 3 : 0);
    }

    private sealed class JsonLinesInput(ReadSource source, JsonLinesReadOptions options, long dataStart) : TextInput(source, options)
    {
        private readonly JsonLinesChunkParser _parser = new(source.Name, options);

        public override long DataStart => dataStart;

        public override long DataLine => 1;

        // JSON strings cannot hold a raw newline, so every newline ends a record.
        public override BoundaryFinder Boundaries { get; } = static data => data.LastIndexOf((byte)'\n') + 1 is var cut && cut > 0 ? cut : -1;

        public override IReadOnlyList<string>? FixedNames => null;

        public override bool DeclaredColumnsMustExist => false;

        public override ChunkResult Parse(int index, ReadOnlySpan<byte> data, long fileOffset, long firstLine, PlanSet plans) =>
            _parser.Parse(index, data, fileOffset, firstLine, plans);
    }
}
