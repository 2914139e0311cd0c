using Strata.Data.Text;

namespace Strata.Data.Csv;

/// <summary>
/// Reads CSV (RFC 4180) into tables. Types are inferred from every row of the input, not a sample; parsing runs on all
/// cores in chunks of bounded size; gzip input is recognised by its magic bytes. Errors name the input, line and column.
/// </summary>
public static class CsvReader
{
    /// <summary>Reads a whole file into a table, with a report of handled problems.</summary>
    public static Task<ReadResult> ReadAsync(string path, CsvReadOptions? options = null, CancellationToken cancellationToken = default) =>
        TextTableReader.UsingAsync(TextTableReader.OpenAsync(path, options ?? new(), CreateAsync, cancellationToken), input => TextTableReader.ReadAsync(input, cancellationToken));

    /// <summary>Reads a stream into a table (a non-seekable stream is first spooled to a temporary file).</summary>
    public static Task<ReadResult> ReadAsync(Stream stream, CsvReadOptions? options = null, CancellationToken cancellationToken = default) =>
        TextTableReader.UsingAsync(TextTableReader.OpenAsync(stream, options ?? new(), CreateAsync, cancellationToken), input => TextTableReader.ReadAsync(input, cancellationToken));

    /// <summary>Reads a whole file into a table.</summary>
    public static async Task<Table> ReadTableAsync(string path, CsvReadOptions? options = null, CancellationToken cancellationToken = default) =>
        (await ReadAsync(path, options, cancellationToken).ConfigureAwait(false)).Table;

    /// <summary>
    /// Reads a file as a sequence of tables of about <see cref="TextReadOptions.ChunkBytes"/> of input each, all with one
    /// schema, a few in memory at a time. Types come from a first pass over the whole file unless every column is
    /// declared. <paramref name="report"/>, when given, is filled as the batches are read.
    /// </summary>
    public static IAsyncEnumerable<Table> ReadBatchesAsync(string path, CsvReadOptions? options = null, ReadReport? report = null, CancellationToken cancellationToken = default) =>
        TextTableReader.BatchesAsync(TextTableReader.OpenAsync(path, options ?? new(), CreateAsync, cancellationToken), report, cancellationToken);

    /// <summary>The schema of a file, inferred from every record without keeping the values.</summary>
    public static Task<(Schema Schema, ReadReport Report)> InferSchemaAsync(string path, CsvReadOptions? options = null, CancellationToken cancellationToken = default) =>
        TextTableReader.UsingAsync(TextTableReader.OpenAsync(path, options ?? new(), CreateAsync, cancellationToken), input => TextTableReader.InferSchemaAsync(input, cancellationToken));

    private static async Task<TextInput> CreateAsync(ReadSource source, CsvReadOptions options, CancellationToken cancellationToken) =>
        new CsvInput(source, options, await CsvDialect.DetectAsync(source, options, cancellationToken).ConfigureAwait(false));

    /// <summary>A CSV input after its dialect and header have been read.</summary>
    private sealed class CsvInput : TextInput
    {
        private readonly CsvDialect _dialect;
        private readonly CsvChunkParser _parser;

        public CsvInput(ReadSource source, CsvReadOptions options, CsvDialect dialect)
            : base(source, options)
        {
            _dialect = dialect;
            _parser = new CsvChunkParser(source.Name, dialect, options);
            var delimiter = dialect.Delimiter;
            Boundaries = options.LenientQuotes ? data => CsvBoundaries.FindSequential(data, delimiter) : CsvBoundaries.FindQuoteParity;
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
