using Strata.Data.Text;

namespace Strata.Data.JsonLines;

/// <summary>
/// Reads JSON Lines (one object per line) into tables, with the same guarantees as the CSV reader: whole-input type
/// inference, parallel chunks, bounded memory, errors that name the input, line and key.
/// </summary>
public static class JsonLinesReader
{
    /// <summary>Reads a whole file into a table, with a report of handled problems.</summary>
    public static async Task<ReadResult> ReadAsync(string path, JsonLinesReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var input = await OpenAsync(path, options, cancellationToken).ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            return await TextTableReader.ReadAsync(input, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a stream into a table (a non-seekable stream is first spooled to a temporary file).</summary>
    public static async Task<ReadResult> ReadAsync(Stream stream, JsonLinesReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new JsonLinesReadOptions();
        options.Validate();
        var source = await ReadSource.FromStreamAsync(stream, options.InputName ?? "stream", options.MaxInputBytes, cancellationToken).ConfigureAwait(false);
        var input = await CreateAsync(source, options, cancellationToken).ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            return await TextTableReader.ReadAsync(input, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a whole file into a table.</summary>
    public static async Task<Table> ReadTableAsync(string path, JsonLinesReadOptions? options = null, CancellationToken cancellationToken = default) =>
        (await ReadAsync(path, options, cancellationToken).ConfigureAwait(false)).Table;

    /// <summary>Reads a file as a sequence of tables with one schema, a few in memory at a time (types from a first pass); <paramref name="report"/>, when given, is filled as they are read.</summary>
    public static async IAsyncEnumerable<Table> ReadBatchesAsync(
        string path,
        JsonLinesReadOptions? options = null,
        ReadReport? report = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var input = await OpenAsync(path, options, cancellationToken).ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            await foreach (var batch in TextTableReader.ReadBatchesAsync(input, report, cancellationToken).ConfigureAwait(false))
            {
                yield return batch;
            }
        }
    }

    /// <summary>The schema of a file, inferred from every line without keeping the values.</summary>
    public static async Task<(Schema Schema, ReadReport Report)> InferSchemaAsync(string path, JsonLinesReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var input = await OpenAsync(path, options, cancellationToken).ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            return await TextTableReader.InferSchemaAsync(input, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<TextInput> OpenAsync(string path, JsonLinesReadOptions? options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new JsonLinesReadOptions();
        options.Validate();
        var source = await ReadSource.OpenAsync(path, options.InputName ?? path, options.MaxInputBytes, cancellationToken).ConfigureAwait(false);
        return await CreateAsync(source, options, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<TextInput> CreateAsync(ReadSource source, JsonLinesReadOptions options, CancellationToken cancellationToken)
    {
        if (source.Length == 0)
        {
            await source.DisposeAsync().ConfigureAwait(false);
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
