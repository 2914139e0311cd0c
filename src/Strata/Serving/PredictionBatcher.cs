using System.Threading.Channels;
using Strata.Serving.Metrics;

namespace Strata.Serving;

/// <summary>
/// Coalesces concurrent requests for one model version of one endpoint into batched prediction calls. One loop takes
/// the first waiting request, gathers more until the batch holds <c>max_batch_size</c> requests or <c>max_delay_ms</c> has
/// passed, predicts them in one call and hands each request its own output. A request that gives up (timeout, caller
/// gone) is left out of its batch; one that arrives after the batcher closed (a swap) is predicted on its own.
/// </summary>
internal sealed class PredictionBatcher
{
    private readonly LoadedModel _model;
    private readonly DeploymentBatching _options;
    private readonly Histogram.Child _sizes;
    private readonly Channel<Pending> _queue;

    public PredictionBatcher(LoadedModel model, DeploymentBatching options, int capacity, Histogram.Child sizes)
    {
        _model = model;
        _options = options;
        _sizes = sizes;
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(1, capacity)) { SingleReader = true });
        _ = Task.Run(LoopAsync);
    }

    /// <summary>Predicts a checked input as part of a batch.</summary>
    /// <exception cref="OperationCanceledException">The request gave up before its batch was predicted.</exception>
    public async Task<PredictionOutput> PredictAsync(PredictionInput input, CancellationToken cancellationToken)
    {
        var pending = new Pending(input);
        if (!_queue.Writer.TryWrite(pending))
        {
            return _model.Predict(input, 0, CancellationToken.None); // closed by a swap, or full: answer it alone rather than refuse it
        }

        using (cancellationToken.UnsafeRegister(static p => ((Pending)p!).Result.TrySetCanceled(), pending))
        {
            return await pending.Result.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Stops taking requests; those queued are still predicted.</summary>
    public void Close() => _queue.Writer.TryComplete();

    private async Task LoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<Pending>();
        var delay = TimeSpan.FromMilliseconds(_options.MaxDelayMs);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            if (reader.TryRead(out var first))
            {
                Add(batch, first);
            }

            // Gather company for the first request, at most max_delay_ms.
            using (var window = new CancellationTokenSource(delay))
            {
                while (batch.Count < _options.MaxBatchSize)
                {
                    if (reader.TryRead(out var next))
                    {
                        Add(batch, next);
                        continue;
                    }

                    try
                    {
                        if (!await reader.WaitToReadAsync(window.Token).ConfigureAwait(false))
                        {
                            break;
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }
            }

            Predict(batch);
        }
    }

    private static void Add(List<Pending> batch, Pending pending)
    {
        if (!pending.Result.Task.IsCompleted)
        {
            batch.Add(pending);
        }
    }

    private void Predict(List<Pending> batch)
    {
        batch.RemoveAll(p => p.Result.Task.IsCompleted); // gave up while the batch gathered
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            var outputs = _model.PredictBatch(batch.ConvertAll(p => p.Input));
            _sizes.Observe(batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Result.TrySetResult(outputs[i]);
            }
        }
#pragma warning disable CA1031 // a failed batch fails its requests, never the loop that serves the next one
        catch (Exception e)
#pragma warning restore CA1031
        {
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(e);
            }
        }
    }

    private sealed class Pending(PredictionInput input)
    {
        public PredictionInput Input { get; } = input;

        public TaskCompletionSource<PredictionOutput> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
