using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Strata.Data.Text;

/// <summary>
/// Reads a text input into a table (one parallel pass, then assembly) or into batches (an inference pass, then a pass
/// that parses with the final types and hands out one chunk at a time, so memory stays bounded).
/// </summary>
internal static class TextTableReader
{
    /// <summary>Opens a file as a format's input (options validated; the source closed again if the format refuses it).</summary>
    public static Task<TextInput> OpenAsync<TOptions>(string path, TOptions options, Func<ReadSource, TOptions, CancellationToken, Task<TextInput>> create, CancellationToken cancellationToken)
        where TOptions : TextReadOptions
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options.Validate();
        return CreateAsync(ReadSource.OpenAsync(path, options.InputName ?? path, options.MaxInputBytes, cancellationToken), options, create, cancellationToken);
    }

    /// <summary>Opens a stream as a format's input (a non-seekable stream is spooled to a temporary file first).</summary>
    public static Task<TextInput> OpenAsync<TOptions>(Stream stream, TOptions options, Func<ReadSource, TOptions, CancellationToken, Task<TextInput>> create, CancellationToken cancellationToken)
        where TOptions : TextReadOptions
    {
        ArgumentNullException.ThrowIfNull(stream);
        options.Validate();
        return CreateAsync(ReadSource.FromStreamAsync(stream, options.InputName ?? "stream", options.MaxInputBytes, cancellationToken), options, create, cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> on an input and closes it.</summary>
    public static async Task<T> UsingAsync<T>(Task<TextInput> opening, Func<TextInput, Task<T>> work)
    {
        var input = await opening.ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            return await work(input).ConfigureAwait(false);
        }
    }

    /// <summary>The batches of an input, closing it when the enumeration ends.</summary>
    public static async IAsyncEnumerable<Table> BatchesAsync(Task<TextInput> opening, ReadReport? report, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var input = await opening.ConfigureAwait(false);
        await using (input.ConfigureAwait(false))
        {
            await foreach (var batch in ReadBatchesAsync(input, report, cancellationToken).ConfigureAwait(false))
            {
                yield return batch;
            }
        }
    }

    private static async Task<TextInput> CreateAsync<TOptions>(
        Task<ReadSource> opening, TOptions options, Func<ReadSource, TOptions, CancellationToken, Task<TextInput>> create, CancellationToken cancellationToken)
        where TOptions : TextReadOptions
    {
        var source = await opening.ConfigureAwait(false);
        try
        {
            return await create(source, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public static async Task<ReadResult> ReadAsync(TextInput input, CancellationToken cancellationToken)
    {
        var options = input.Options;
        var report = NewReport(input);
        var plans = new PlanSet(options.Schema);
        var accumulator = new TableAccumulator(
            input.Name, options.Schema, input.Source.Length - input.DataStart, options.MaxRows ?? long.MaxValue, Reparser(input), report);
        await RunPassAsync(input, plans, 1, 1, async chunk =>
        {
            try
            {
                report.Add(chunk.Counters);
                await accumulator.AddAsync(chunk, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch
            {
                chunk.Dispose();
                throw;
            }
        }, report, cancellationToken).ConfigureAwait(false);

        var table = accumulator.Build(Names(input, accumulator.Columns));
        report.Rows = table.RowCount;
        return new ReadResult(table, report);
    }

    /// <summary>The schema the whole input implies (one pass that keeps no values), with the report of that pass.</summary>
    public static async Task<(Schema Schema, ReadReport Report)> InferSchemaAsync(TextInput input, CancellationToken cancellationToken)
    {
        var (names, kinds, report) = await InferAsync(input, 1, 1, cancellationToken).ConfigureAwait(false);
        return (SchemaOf(input, names, kinds), report);
    }

    /// <summary>Batches of the input; <paramref name="report"/>, when given, is filled as the batches are read.</summary>
    public static async IAsyncEnumerable<Table> ReadBatchesAsync(TextInput input, ReadReport? report, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = input.Options;
        IReadOnlyList<string> names;
        ValueKind[] kinds;
        report ??= new ReadReport { Input = input.Name };
        foreach (var warning in input.PreambleWarnings)
        {
            report.Warn(warning);
        }

        var everyColumnDeclared = input.FixedNames is { } fixedNames && options.Schema is { } schema && fixedNames.All(schema.Contains);
        if (everyColumnDeclared)
        {
            names = input.FixedNames!;
            kinds = names.Select(n => ValueKinds.StorageOf(options.Schema![n].Type)).ToArray();
        }
        else
        {
            // The first pass only settles types: its warnings (type conflicts) are kept, its counts would be doubles.
            (names, kinds, var inference) = await InferAsync(input, 1, 2, cancellationToken).ConfigureAwait(false);
            foreach (var column in inference.ConflictColumns)
            {
                report.ConflictColumns.Add(column);
            }

            foreach (var warning in inference.Warnings.Skip(input.PreambleWarnings.Count()))
            {
                report.Warn(warning);
            }
        }

        var finalKinds = names.Zip(kinds).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        var plans = new PlanSet(options.Schema, name => (finalKinds.TryGetValue(name, out var k) ? k : ValueKind.Null, false));

        // Every column's type is settled by now: each batch is built as if all of them were declared.
        var settled = new Schema(names.Select((n, i) => options.Schema?.TryIndexOf(n) is >= 0 and var d ? options.Schema[d] : new Field(n, ValueKinds.ToDataType(kinds[i]))));
        var batches = Channel.CreateBounded<Table>(1);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pass = Task.Run(
            async () =>
            {
                try
                {
                    await RunPassAsync(input, plans, everyColumnDeclared ? 1 : 2, everyColumnDeclared ? 1 : 2, async chunk =>
                    {
                        using (chunk)
                        {
                            report.Add(chunk.Counters);
                            foreach (var name in chunk.Names)
                            {
                                if (!finalKinds.ContainsKey(name))
                                {
                                    throw new DataFormatException(ErrorCodes.DataMalformed, "the input changed while it was being read", new DataLocation(input.Name, chunk.FirstLine, name));
                                }
                            }

                            var batch = new TableAccumulator(input.Name, settled, chunk.Length, chunk.RowCount, Reparser(input), report);
                            await batch.AddAsync(chunk, cts.Token).ConfigureAwait(false);
                            var table = batch.Build(names);
                            await batches.Writer.WriteAsync(table, cts.Token).ConfigureAwait(false);
                            return true;
                        }
                    }, report, cts.Token).ConfigureAwait(false);
                    batches.Writer.TryComplete();
                }
                catch (Exception e)
                {
                    batches.Writer.TryComplete(e);
                }
            },
            CancellationToken.None);

        try
        {
            await foreach (var table in batches.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                report.Rows += table.RowCount;
                yield return table;
            }
        }
        finally
        {
            await cts.CancelAsync().ConfigureAwait(false);
            await pass.ConfigureAwait(false);
        }
    }

    private static async Task<(IReadOnlyList<string> Names, ValueKind[] Kinds, ReadReport Report)> InferAsync(TextInput input, int pass, int passes, CancellationToken cancellationToken)
    {
        var report = NewReport(input);
        var plans = new PlanSet(input.Options.Schema);
        var seen = new List<ChunkResult>();
        var kinds = new Dictionary<string, ValueKind>(StringComparer.Ordinal);
        var order = new List<string>(input.FixedNames ?? []);
        long rows = 0;
        await RunPassAsync(input, plans, pass, passes, chunk =>
        {
            using (chunk)
            {
                report.Add(chunk.Counters);
                rows += chunk.RowCount;
                for (var c = 0; c < chunk.Names.Count; c++)
                {
                    var name = chunk.Names[c];
                    var kind = chunk.Columns[c]?.Kind ?? ValueKind.Null;
                    if (!kinds.TryGetValue(name, out var before))
                    {
                        if (input.FixedNames is null)
                        {
                            order.Add(name);
                        }

                        kinds[name] = kind;
                    }
                    else
                    {
                        var joined = ValueKinds.Join(before, kind);
                        if (joined == ValueKind.String && before is not ValueKind.String and not ValueKind.Null && kind is not ValueKind.String and not ValueKind.Null
                            && report.ConflictColumns.Add(name))
                        {
                            report.Warn($"{input.Name}: column '{name}' holds {ValueKinds.Describe(before)} values and {ValueKinds.Describe(kind)} values (from line {chunk.FirstLine}); it is read as string");
                        }

                        kinds[name] = joined;
                    }
                }

                return ValueTask.FromResult(true);
            }
        }, report, cancellationToken).ConfigureAwait(false);

        report.Rows = rows;
        CheckDeclared(input, order);
        foreach (var field in input.Options.Schema ?? Schema.Empty)
        {
            if (!kinds.ContainsKey(field.Name))
            {
                order.Add(field.Name);
            }
        }

        var result = order.Select(n => input.Options.Schema?.TryIndexOf(n) is >= 0 and var i
            ? ValueKinds.StorageOf(input.Options.Schema[i].Type)
            : kinds.GetValueOrDefault(n)).ToArray();
        return (order, result, report);
    }

    private static async Task RunPassAsync(TextInput input, PlanSet plans, int pass, int passes, Func<ChunkResult, ValueTask<bool>> consume, ReadReport report, CancellationToken cancellationToken)
    {
        var options = input.Options;
        var reader = new ChunkReader(input.Source, input.DataStart, input.DataLine, options.ChunkBytes, options.MaxRecordBytes, input.Boundaries);
        var total = input.Source.Length;
        var progress = options.Progress is { } p ? new Progress(p, total, pass, passes) : null;
        long rows = 0;
        var max = options.MaxRows ?? long.MaxValue;
        if (max == 0)
        {
            return;
        }

        await ChunkPipeline.RunAsync(
            reader,
            chunk => input.Parse(chunk.Index, chunk.Data, chunk.FileOffset, chunk.FirstLine, plans),
            async result =>
            {
                if (rows + result.RowCount > max)
                {
                    var keep = (int)(max - rows);
                    foreach (var column in result.Columns)
                    {
                        column?.Truncate(keep);
                    }

                    result.RowCount = keep;
                }

                rows += result.RowCount;
                return await consume(result).ConfigureAwait(false) && rows < max;
            },
            options.Parallelism,
            progress,
            cancellationToken).ConfigureAwait(false);

        report.Bytes = rows >= max ? reader.Consumed : total;
        options.Progress?.Report(new ReadProgress(total, total, pass, passes));
    }

    private static ReadReport NewReport(TextInput input)
    {
        var report = new ReadReport { Input = input.Name };
        foreach (var warning in input.PreambleWarnings)
        {
            report.Warn(warning);
        }

        return report;
    }

    private static List<string> Names(TextInput input, IEnumerable<string> seen)
    {
        var names = input.FixedNames is { } fixedNames ? [.. fixedNames] : seen.ToList();
        CheckDeclared(input, names);
        foreach (var field in input.Options.Schema ?? Schema.Empty)
        {
            if (!names.Contains(field.Name))
            {
                names.Add(field.Name);
            }
        }

        return names;
    }

    private static void CheckDeclared(TextInput input, IReadOnlyCollection<string> names)
    {
        if (!input.DeclaredColumnsMustExist || input.Options.Schema is not { } schema)
        {
            return;
        }

        var missing = schema.Names.Where(n => !names.Contains(n)).ToArray();
        if (missing.Length > 0)
        {
            throw new StrataException(
                ErrorCodes.SchemaInvalid,
                $"{input.Name}: the schema declares column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} that the input does not have (it has {string.Join(", ", names)})");
        }
    }

    private static Schema SchemaOf(TextInput input, IReadOnlyList<string> names, ValueKind[] kinds) =>
        new(names.Select((n, i) => input.Options.Schema?.TryIndexOf(n) is >= 0 and var d ? input.Options.Schema[d] : new Field(n, ValueKinds.ToDataType(kinds[i]))));

    /// <summary>Reads a chunk again from the input with the named columns as string and every other column skipped.</summary>
    private static TableAccumulator.Reparser Reparser(TextInput input) =>
        async (chunk, asString, ct) =>
        {
            var buffer = new byte[chunk.Length];
            var read = await input.Source.ReadAtAsync(chunk.FileOffset, buffer, ct).ConfigureAwait(false);
            if (read != chunk.Length)
            {
                throw new DataFormatException(ErrorCodes.DataMalformed, "the input changed while it was being read", new DataLocation(input.Name, chunk.FirstLine));
            }

            var plans = new PlanSet(input.Options.Schema, name => (ValueKind.String, !asString.Contains(name)));
            var again = input.Parse(chunk.Index, buffer, chunk.FileOffset, chunk.FirstLine, plans);
            if (again.RowCount != chunk.RowCount)
            {
                // A MaxRows cut: keep the same rows.
                foreach (var column in again.Columns)
                {
                    column?.Truncate(chunk.RowCount);
                }

                again.RowCount = Math.Min(again.RowCount, chunk.RowCount);
            }

            return again;
        };

    private sealed class Progress(IProgress<ReadProgress> target, long total, int pass, int passes) : IProgress<long>
    {
        public void Report(long value) => target.Report(new ReadProgress(value, total, pass, passes));
    }
}
