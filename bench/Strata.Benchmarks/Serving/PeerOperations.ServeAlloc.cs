using Strata.Features;
using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer serve-alloc HOME [REQUESTS]`: bytes the serving runtime allocates per one-row prediction on the serve-setup
    /// home's "flights" (11 fields sent) and "enriched" (an entity key; 50 features from the embedded online store)
    /// endpoints, and per online read of the 50 features alone; in process and on one thread, so the figures are exact
    /// (garbage sets the rate of gen-0 pauses, and those pauses are the enriched endpoint's p99).
    /// </summary>
    private static void RegisterServeAlloc() =>
        PeerMeasurements.Register("serve-alloc", async args =>
        {
            var requests = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20_000;
            await using var home = await StrataHome.OpenAsync(args[0]).ConfigureAwait(false);
            await using var features = new FeatureStores(home.Metadata, new EmbeddedFeatureBackend(home.Path));
            await using var runtime = new ServingRuntime(home.Metadata, home.Artifacts, features, new MetricRegistry());
            await runtime.StartAsync(
                [
                    new Deployment { Name = "flights", Project = "bench", Model = "flights@live" },
                    new Deployment { Name = "enriched", Project = "bench", Model = "wide@live", FeatureService = "wide_service" },
                ],
                new Actor("bench")).ConfigureAwait(false);
            // As the server reads the bench's body: one row, its values in the order sent.
            var flights = new PredictionInput(
                FieldLayout.Of(
                [
                    "distance", "dep_hour", "dow", "doy", "origin_code", "dest_code", "origin_prev_dep_count", "origin_prev_mean_delay",
                    "origin_prev_frac_late15", "origin_prev_max_delay", "origin_prev_mean_distance",
                ])!,
                [258, 0, 4, 152, 119, 187, 22, 2.77270007, 0.0454999991, 18, 1418.5],
                null);
            var enriched = new PredictionInput(FieldLayout.Of(["entity_id"])!, [42], null);

            var store = await features.GetAsync("bench").ConfigureAwait(false);
            var references = store.Resolve(null, "wide_service");
            var keys = Table.From(("entity_id", Columns.Int64(42)));
            Task<double> PredictBytesAsync(string endpoint, PredictionInput input)
            {
                var request = new PredictionRequest { Endpoint = endpoint, Input = input, RequestId = "0123456789abcdef0123456789abcdef" };
                return BytesPerCallAsync(async () => await runtime.PredictAsync(request).ConfigureAwait(false), requests);
            }

            return new Dictionary<string, object>
            {
                ["operation"] = "serve-alloc",
                ["requests"] = requests,
                ["online_read_bytes_per_request"] = await BytesPerCallAsync(async () => await store.GetOnlineFeaturesAsync(references, keys).ConfigureAwait(false), requests).ConfigureAwait(false),
                ["flights_bytes_per_request"] = await PredictBytesAsync("flights", flights).ConfigureAwait(false),
                ["enriched_bytes_per_request"] = await PredictBytesAsync("enriched", enriched).ConfigureAwait(false),
            };
        });

    /// <summary>
    /// Bytes this thread allocates per call, after a thousand calls to warm up (tiering, caches). The call is a value
    /// task, so a call that completes synchronously adds nothing of its own.
    /// </summary>
    private static async Task<double> BytesPerCallAsync(Func<ValueTask> call, int calls)
    {
        for (var i = 0; i < 1000; i++)
        {
            await call().ConfigureAwait(false);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < calls; i++)
        {
            // NOTE: no await hops threads here: both endpoints and the read answer synchronously from memory.
            await call().ConfigureAwait(false);
        }

        return Math.Round((GC.GetAllocatedBytesForCurrentThread() - before) / (double)calls, 1);
    }
}
