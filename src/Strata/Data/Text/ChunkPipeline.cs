using System.Threading.Channels;

namespace Strata.Data.Text;

/// <summary>
/// Parses chunks on several threads and hands the results over in input order. At most a fixed window of chunks is in
/// flight, so memory is bounded; the first error in input order is the one reported, so failures are deterministic.
/// </summary>
internal static class ChunkPipeline
{
    /// <summary>Runs the pipeline. <paramref name="consume"/> sees results in order and returns false to stop early.</summary>
    public static async Task RunAsync(
        ChunkReader reader,
        Func<RawChunk, ChunkResult> parse,
        Func<ChunkResult, ValueTask<bool>> consume,
        int parallelism,
        IProgress<long>? progress,
        CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = cts.Token;
        var window = new SemaphoreSlim(2 * parallelism + 1);
        var work = Channel.CreateBounded<(RawChunk Chunk, TaskCompletionSource<ChunkResult> Result)>(parallelism * 2);
        var order = Channel.CreateUnbounded<TaskCompletionSource<ChunkResult>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        var producer = Task.Run(() => ProduceAsync(reader, window, work.Writer, order.Writer, progress, token), token);
        var workers = new Task[parallelism];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(work.Reader, parse, token), token);
        }

        try
        {
            await foreach (var pending in order.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                var result = await pending.Task.WaitAsync(token).ConfigureAwait(false);
                bool more;
                try
                {
                    more = await consume(result).ConfigureAwait(false);
                }
                finally
                {
                    window.Release();
                }

                if (!more)
                {
                    break;
                }
            }
        }
        finally
        {
            await cts.CancelAsync().ConfigureAwait(false);
            await DrainAsync(producer, workers, order.Reader).ConfigureAwait(false);
            window.Dispose();
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    private static async Task ProduceAsync(
        ChunkReader reader,
        SemaphoreSlim window,
        ChannelWriter<(RawChunk, TaskCompletionSource<ChunkResult>)> work,
        ChannelWriter<TaskCompletionSource<ChunkResult>> order,
        IProgress<long>? progress,
        CancellationToken token)
    {
        try
        {
            while (true)
            {
                await window.WaitAsync(token).ConfigureAwait(false);
                var chunk = await reader.NextAsync(token).ConfigureAwait(false);
                if (chunk is null)
                {
                    break;
                }

                var result = new TaskCompletionSource<ChunkResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                await order.WriteAsync(result, token).ConfigureAwait(false);
                try
                {
                    await work.WriteAsync((chunk, result), token).ConfigureAwait(false);
                }
                catch
                {
                    chunk.Dispose();
                    throw;
                }

                progress?.Report(reader.Consumed);
            }
        }
        catch (Exception e)
        {
            // Reported in order: after every chunk read before the failure.
            var failed = new TaskCompletionSource<ChunkResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            failed.SetException(e);
            order.TryWrite(failed);
        }
        finally
        {
            work.TryComplete();
            order.TryComplete();
        }
    }

    private static async Task WorkAsync(ChannelReader<(RawChunk Chunk, TaskCompletionSource<ChunkResult> Result)> work, Func<RawChunk, ChunkResult> parse, CancellationToken token)
    {
        await foreach (var (chunk, result) in work.ReadAllAsync(token).ConfigureAwait(false))
        {
            using (chunk)
            {
                try
                {
                    token.ThrowIfCancellationRequested();
                    result.SetResult(parse(chunk));
                }
                catch (Exception e)
                {
                    result.SetException(e);
                }
            }
        }
    }

    /// <summary>Waits for every task and frees results nobody consumed (after an error or an early stop).</summary>
    private static async Task DrainAsync(Task producer, Task[] workers, ChannelReader<TaskCompletionSource<ChunkResult>> order)
    {
        try
        {
            await Task.WhenAll([producer, .. workers]).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected: the pipeline was cancelled on purpose.
        }

        while (order.TryRead(out var pending))
        {
            if (pending.Task.IsCompletedSuccessfully)
            {
                pending.Task.Result.Dispose();
            }
            else if (!pending.Task.IsCompleted)
            {
                pending.TrySetCanceled();
            }
        }
    }
}
