using Strata.Data.Text;

namespace Strata.Data.Csv;

/// <summary>
/// Reads CSV (RFC 4180) into tables. Types are inferred from every row of the input, not a sample; parsing runs on all
/// cores in chunks of bounded size; gzip input is recognised by its magic bytes. Errors name the input, line and column.
/// </summary>
public static class CsvReader
{
    /// <summary>Reads a whole file into a table, with a report of handled problems.</summary>
    public static async Task<ReadResult> ReadAsync(string path, CsvReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var input = await OpenAsync(path, options, cancellationToken).ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            return await TextTableReader.ReadAsync(input, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a stream into a table (a non-seekable stream is first spooled to a temporary file).</summary>
    public static async Task<ReadResult> ReadAsync(Stream stream, CsvReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var input = await OpenAsync(stream, options, cancellationToken).ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            return await TextTableReader.ReadAsync(input, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a whole file into a table.</summary>
    public static async Task<Table> ReadTableAsync(string path, CsvReadOptions? options = null, CancellationToken cancellationToken = default) =>
        (await ReadAsync(path, options, cancellationToken).ConfigureAwait(false)).Table;

    /// <summary>
    /// Reads a file as a sequence of tables of at most about <see cref="TextReadOptions.ChunkBytes"/> of input each, all
    /// with the same schema, holding only a few in memory at a time; <paramref name="report"/>, when given, is filled as they are read. Types are inferred by a first pass over the whole
    /// file, unless the options declare every column.
    /// </summary>
    public static async IAsyncEnumerable<Table> ReadBatchesAsync(
        string path,
        CsvReadOptions? options = null,
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

    /// <summary>The schema of a file, inferred from every row without keeping the values.</summary>
    public static async Task<(Schema Schema, ReadReport Report)> InferSchemaAsync(string path, CsvReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        var input = await OpenAsync(path, options, cancellationToken).ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            return await TextTableReader.InferSchemaAsync(input, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<TextInput> OpenAsync(string path, CsvReadOptions? options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new CsvReadOptions();
        options.Validate();
        var source = await ReadSource.OpenAsync(path, options.InputName ?? path, options.MaxInputBytes, cancellationToken).ConfigureAwait(false);
        return await CsvInput.CreateAsync(source, options, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<TextInput> OpenAsync(Stream stream, CsvReadOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new CsvReadOptions();
        options.Validate();
        var source = await ReadSource.FromStreamAsync(stream, options.InputName ?? "stream", options.MaxInputBytes, cancellationToken).ConfigureAwait(false);
        return await CsvInput.CreateAsync(source, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A CSV input after its dialect and header have been read.</summary>
    private sealed class CsvInput : TextInput
    {
        private readonly CsvDialect _dialect;
        private readonly CsvChunkParser _parser;

        private CsvInput(ReadSource source, CsvReadOptions options, CsvDialect dialect)
            : base(source, options)
        {
            _dialect = dialect;
            _parser = new CsvChunkParser(source.Name, dialect, options);
            var delimiter = dialect.Delimiter;
            Boundaries = options.LenientQuotes ? data => CsvBoundaries.FindSequential(data, delimiter) : CsvBoundaries.FindQuoteParity;
        }

        public static async Task<TextInput> CreateAsync(ReadSource source, CsvReadOptions options, CancellationToken cancellationToken)
        {
            try
            {
                var dialect = await CsvDialect.DetectAsync(source, options, cancellationToken).ConfigureAwait(false);
                return new CsvInput(source, options, dialect);
            }
            catch
            {
                await source.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        public override long DataStart => _dialect.DataStart;

        public override long DataLine => _dialect.DataLine;

        public override BoundaryFinder Boundaries { get; }

        public override IReadOnlyList<string> FixedNames => _dialect.Names;

        public override bool DeclaredColumnsMustExist => true;

        public override IEnumerable<string> PreambleWarnings => _dialect.Warnings;

        public override ChunkResult Parse(int index, ReadOnlySpan<byte> data, long fileOffset, long firstLine, PlanSet plans)
        {
            var names = _dialect.Names;
            var columnPlans = new ColumnPlan[names.Length];
            for (var i = 0; i < names.Length; i++)
            {
                columnPlans[i] = plans.For(names[i]);
            }

            return _parser.Parse(index, data, fileOffset, firstLine, columnPlans);
        }
    }
}
