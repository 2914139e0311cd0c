using System.Diagnostics;
using System.Globalization;
using System.Text;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Benchmarks;

internal static partial class PeerOperations
{
    /// <summary>
    /// `peer online-http-setup HOME [ENTITIES]`: prepares a home for bench/peers/online_http.sh — project "bench" whose
    /// push-fed view "wide" has 50 float64 features keyed by an int64 entity_id, ENTITIES rows (default 100,000) pushed
    /// to the online store, and a viewer key, printed in the JSON line for the script to send.
    /// </summary>
    private static void RegisterOnlineHttp() => PeerMeasurements.Register("online-http-setup", async args =>
    {
        const string Project = "bench";
        const int Features = 50;
        var homePath = args[0];
        var entities = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
        var watch = Stopwatch.StartNew();
        await using var home = await StrataHome.OpenAsync(homePath).ConfigureAwait(false);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        await registry.CreateProjectAsync(Caller.Local, Project, "online HTTP latency benchmark").ConfigureAwait(false);
        await new FeatureRegistry(home.Metadata).ApplyAsync(Project, FeatureRepositoryYaml.Parse([("features.yaml", WideDefinitions(Features))]), force: false, new Actor("bench")).ConfigureAwait(false);
        var key = await registry.CreateKeyAsync(Caller.Local, Project, "bench-reader", Role.Viewer, null).ConfigureAwait(false);

        await using var stores = new FeatureStores(home.Metadata, new EmbeddedFeatureBackend(home.Path));
        var store = await stores.GetAsync(Project).ConfigureAwait(false);
        var random = new Random(7);
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        for (var start = 0; start < entities; start += 10_000)
        {
            var n = Math.Min(10_000, entities - start);
            var columns = new List<(string, Column)>
            {
                ("entity_id", Columns.Int64([.. Enumerable.Range(start, n).Select(i => (long?)i)])),
                ("ts", Columns.Timestamp([.. Enumerable.Range(0, n).Select(_ => (long?)now)])),
            };
            for (var f = 0; f < Features; f++)
            {
                columns.Add(($"f{f}", Columns.Float64([.. Enumerable.Range(0, n).Select(_ => (double?)random.NextDouble())])));
            }

            await store.PushAsync("wide_events", Table.From([.. columns]), PushTarget.Online).ConfigureAwait(false);
        }

        return new Dictionary<string, object>
        {
            ["operation"] = "online-http-setup",
            ["project"] = Project,
            ["entities"] = entities,
            ["features"] = Features,
            ["setup_s"] = PeerMeasurements.Seconds(watch),
            ["key"] = key.Token,
        };
    });

    private static string WideDefinitions(int features)
    {
        var fields = new StringBuilder();
        for (var f = 0; f < features; f++)
        {
            fields.Append(CultureInfo.InvariantCulture, $"      - {{ name: f{f}, type: float64 }}\n");
        }

        return $$"""
            entities:
              - name: entity
                join_keys: [{ name: entity_id, type: int64 }]
            sources:
              - name: wide_events
                kind: push
                timestamp_field: ts
                schema:
                  - { name: entity_id, type: int64 }
                  - { name: ts, type: timestamp }
            {{fields}}
            feature_views:
              - name: wide
                entities: [entity]
                source: wide_events
                ttl: 30d
                features:
            {{fields}}
            """;
    }
}
