using System.Runtime.CompilerServices;
using static Strata.Data.Arrow.ArrowFormat;

namespace Strata.Data.Arrow;

/// <summary>
/// Reads the Arrow IPC streaming format (a schema message, then dictionary and record batches, then an end marker) from
/// any readable stream, one batch at a time. Types are converted and input is checked as by <see cref="ArrowFileReader"/>;
/// unlike files, streams may replace a dictionary between batches. Not thread-safe.
/// </summary>
public sealed class ArrowStreamReader : IAsyncDisposable, IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly ArrowInput _input;
    private ArrowDecoder _decoder = null!;
    private bool _ended;

    private ArrowStreamReader(Stream stream, bool leaveOpen, ArrowInput input)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        _input = input;
    }

    /// <summary>The schema from the stream's first message.</summary>
    public Schema Schema => _decoder.Schema;

    /// <summary>Reads the schema message at the stream's current position.</summary>
    public static async Task<ArrowStreamReader> OpenAsync(
        Stream stream, ArrowReadOptions? options = null, bool leaveOpen = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead)
        {
            throw new ArgumentException("the stream is not readable", nameof(stream));
        }

        options ??= ArrowReadOptions.Default;
        options.Validate();
        var input = new ArrowInput(stream, options.InputName, options);
        var reader = new ArrowStreamReader(stream, leaveOpen, input);
        try
        {
            using var message = await input.ReadMessageAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new DataFormatException(ErrorCodes.DataEmpty, "the Arrow stream holds no schema", new DataLocation(options.InputName, ByteOffset: 0));
            if (message.HeaderType != MessageHeader.Schema)
            {
                throw input.Malformed(0, $"an Arrow stream starts with a schema message, not one of type {message.HeaderType}");
            }

            var (schema, columns) = ArrowSchema.Read(message.Header, options);
            reader._decoder = new ArrowDecoder(schema, columns, options.InputName, fileFormat: false);
            return reader;
        }
        catch
        {
            if (!leaveOpen)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Reads the next record batch, applying the dictionary batches before it; null at the end of the stream.</summary>
    public async ValueTask<Table?> ReadNextBatchAsync(CancellationToken cancellationToken = default)
    {
        while (!_ended)
        {
            var start = _input.Position;
            using var message = await _input.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            switch (message?.HeaderType)
            {
                case null:
                    _ended = true;
                    break;
                case MessageHeader.DictionaryBatch:
                    _decoder.ReadDictionaryBatch(message);
                    break;
                case MessageHeader.RecordBatch:
                    return _decoder.ReadRecordBatch(message);
                case MessageHeader.Tensor or MessageHeader.SparseTensor:
                    throw new DataFormatException(ErrorCodes.DataUnsupported, "tensor messages are not supported", new DataLocation(_input.Name, ByteOffset: start));
                default:
                    throw _input.Malformed(start, $"unexpected message of type {message.HeaderType} after the schema");
            }
        }

        return null;
    }

    /// <summary>Reads the remaining record batches, one at a time.</summary>
    public async IAsyncEnumerable<Table> ReadBatchesAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await ReadNextBatchAsync(cancellationToken).ConfigureAwait(false) is { } batch)
        {
            yield return batch;
        }
    }

    /// <summary>Reads the remaining record batches into one table (an empty table when there are none).</summary>
    public async Task<Table> ReadTableAsync(CancellationToken cancellationToken = default)
    {
        var batches = new List<Table>();
        await foreach (var batch in ReadBatchesAsync(cancellationToken).ConfigureAwait(false))
        {
            batches.Add(batch);
        }

        return batches.Count == 0 ? Table.Empty(Schema) : Table.Concat(batches);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _leaveOpen ? ValueTask.CompletedTask : _stream.DisposeAsync();
}
