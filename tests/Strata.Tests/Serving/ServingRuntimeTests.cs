using Strata.Serving;
using Strata.Serving.Metrics;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Serving;

/// <summary>The serving runtime over a real embedded home: shadow traffic, the prediction log, admission and rates.</summary>
public sealed class ServingRuntimeTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("strata-serving");
    private StrataHome _home = null!;
    private string[] _inputs = [];

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        _inputs = await FlightsModelSeed.SeedAsync(_home, versions: 2);
    }

    public async Task DisposeAsync() => await _home.DisposeAsync();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_slow_shadow_adds_no_latency_and_its_answers_are_only_logged()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var runtime = await StartAsync(
            new Deployment { Name = "shadowed", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
            ct => gate.Task.WaitAsync(ct));

        // Every request completes while the shadow has not answered a single copy: nothing waits for it.
        for (var i = 0; i < 20; i++)
        {
            var output = await runtime.PredictAsync(Request("shadowed", $"r{i}"));
            Assert.Equal(1, output.Version);
            Assert.Equal(ServingRoles.Champion, output.Role);
        }

        Assert.Equal((0, 0), runtime.ShadowCounts("shadowed"));

        gate.SetResult();
        await WaitUntilAsync(() => runtime.ShadowCounts("shadowed").Answered == 20);
        await runtime.FlushPredictionLogAsync();
        var records = await ReadLogAsync();
        Assert.Equal(20, records.Count(r => r.Role == ServingRoles.Champion && r.Version == 1));
        Assert.Equal(20, records.Count(r => r.Role == ServingRoles.Shadow && r.Version == 2));
        Assert.Equal(
            records.Where(r => r.Role == ServingRoles.Champion).Select(r => r.RequestId).Order(),
            records.Where(r => r.Role == ServingRoles.Shadow).Select(r => r.RequestId).Order());
    }

    [Fact]
    public async Task A_shadow_or_challenger_naming_the_version_that_answers_is_not_run_again()
    {
        // After a promotion both aliases name version 2: a shadow or challenger there would only repeat the champion.
        var registry = new Strata.Registry.RegistryService(_home.Metadata, _home.Artifacts);
        await registry.SetAliasAsync(Strata.Security.Caller.Local, "flights", "delay", "champion", 2, null);
        await registry.SetAliasAsync(Strata.Security.Caller.Local, "flights", "delay", "candidate", 2, null);
        await using var runtime = await StartAsync(
            new Deployment { Name = "promoted", Project = "flights", Model = "delay@champion", Shadow = "delay@candidate" },
            new Deployment { Name = "split", Project = "flights", Model = "delay/1", Challenger = "delay/2", ChallengerWeight = 0.5, Shadow = "delay/2" },
            new Deployment { Name = "promoted-canary", Project = "flights", Model = "delay@champion", Challenger = "delay@candidate", ChallengerWeight = 1 });

        for (var i = 0; i < 40; i++)
        {
            await runtime.PredictAsync(Request("promoted", $"p{i}"));
            await runtime.PredictAsync(Request("promoted-canary", $"c{i}"));
            await runtime.PredictAsync(Request("split", $"s{i}"));
        }

        // The split endpoint's shadow evaluates version 2 on the requests version 1 answered, and only on those.
        await runtime.FlushPredictionLogAsync();
        var records = await ReadLogAsync();
        var byChampion = records.Where(r => r.Endpoint == "split" && r.Role == ServingRoles.Champion).Select(r => r.RequestId).Order().ToList();
        Assert.InRange(byChampion.Count, 1, 39);
        await WaitUntilAsync(() => runtime.ShadowCounts("split").Answered >= byChampion.Count);
        await Task.Delay(200); // any further copy would have been answered by now
        Assert.Equal(byChampion.Count, runtime.ShadowCounts("split").Answered);
        await runtime.FlushPredictionLogAsync();
        records = await ReadLogAsync();
        Assert.Equal(byChampion, records.Where(r => r.Endpoint == "split" && r.Role == ServingRoles.Shadow).Select(r => r.RequestId).Order());
        Assert.Equal((0, 0), runtime.ShadowCounts("promoted"));
        Assert.Equal(40, records.Count(r => r.Endpoint == "promoted-canary" && r.Role == ServingRoles.Champion && r.Version == 2));
        Assert.DoesNotContain(records, r => r.Endpoint == "promoted" && r.Role == ServingRoles.Shadow);
        Assert.Equal(40, records.Count(r => r.Endpoint == "promoted" && r.Role == ServingRoles.Champion && r.Version == 2));
    }

    [Fact]
    public async Task A_declaration_that_cannot_serve_does_not_replace_a_stored_deployment_at_start()
    {
        await (await StartAsync(new Deployment { Name = "kept", Project = "flights", Model = "delay/1" })).DisposeAsync();

        // A replica starts with a mistake in its strata.yaml: a version that does not exist.
        var warnings = new List<string>();
        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, new MetricRegistry(), new ServingOptions { Warn = warnings.Add });
        await runtime.StartAsync(
            [new Deployment { Name = "kept", Project = "flights", Model = "delay/99" }, new Deployment { Name = "fresh", Project = "flights", Model = "delay/98" }],
            new Actor("test"));

        // The stored endpoint keeps serving version 1 (here and on every replica's next start); a new one is not created.
        Assert.Equal(1, (await runtime.PredictAsync(Request("kept", "k1"))).Version);
        Assert.Equal("delay/1", Deployment.FromJson((await _home.Metadata.Endpoints.GetAsync("kept"))!.Definition).Model);
        Assert.Contains(warnings, w => w.StartsWith("strata.yaml: endpoint 'kept' keeps its stored deployment", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith("strata.yaml: endpoint 'fresh' is not created", StringComparison.Ordinal));
        Assert.Null(await _home.Metadata.Endpoints.GetAsync("fresh"));
    }

    [Fact]
    public async Task A_full_shadow_queue_drops_and_counts_copies_instead_of_waiting()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var runtime = await StartAsync(
            new Deployment { Name = "flooded", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
            ct => gate.Task.WaitAsync(ct),
            shadowCapacity: 2);

        for (var i = 0; i < 10; i++)
        {
            await runtime.PredictAsync(Request("flooded", $"r{i}"));
        }

        var (_, dropped) = runtime.ShadowCounts("flooded");
        gate.SetResult();
        Assert.InRange(dropped, 7, 8); // the worker holds at most one copy, the queue two
    }

    [Fact]
    public async Task A_slow_shadow_drops_only_its_own_endpoints_copies()
    {
        // The first shadow copy hangs until the gate opens, and it is the slow endpoint's: its shadow is stuck. Every
        // other copy is answered at once. Each endpoint's queue holds two copies.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await using var runtime = await StartAsync(
            [
                new Deployment { Name = "slow-shadowed", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
                new Deployment { Name = "quick-shadowed", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
            ],
            ct => Interlocked.Increment(ref calls) == 1 ? gate.Task.WaitAsync(ct) : Task.CompletedTask,
            shadowCapacity: 2);

        // The slow endpoint is flooded beyond its queue: its worker holds one copy, its queue two, the rest are dropped.
        for (var i = 0; i < 10; i++)
        {
            await runtime.PredictAsync(Request("slow-shadowed", $"s{i}"));
        }

        await WaitUntilAsync(() => Volatile.Read(ref calls) == 1);

        var slow = runtime.ShadowCounts("slow-shadowed");
        Assert.Equal(0, slow.Answered);
        Assert.InRange(slow.Dropped, 7, 8);

        // Meanwhile every copy of the other endpoint is answered: none waits behind the slow one's, none is dropped.
        for (var i = 0; i < 10; i++)
        {
            await runtime.PredictAsync(Request("quick-shadowed", $"q{i}"));
            Assert.Equal(0, runtime.ShadowCounts("quick-shadowed").Dropped);
            var answered = i + 1;
            await WaitUntilAsync(() => runtime.ShadowCounts("quick-shadowed").Answered == answered);
        }

        Assert.Equal((10, 0), runtime.ShadowCounts("quick-shadowed"));
        Assert.Equal(slow, runtime.ShadowCounts("slow-shadowed"));

        // Let go, the slow shadow answers what its queue held: every copy is answered or counted as dropped, under its label.
        gate.SetResult();
        await WaitUntilAsync(() => runtime.ShadowCounts("slow-shadowed") is var (slowAnswered, slowDropped) && slowAnswered + slowDropped == 10);
        await runtime.FlushPredictionLogAsync();
        var records = await ReadLogAsync();
        Assert.Equal(10, records.Count(r => r.Endpoint == "quick-shadowed" && r.Role == ServingRoles.Shadow));
        Assert.Equal(runtime.ShadowCounts("slow-shadowed").Answered, records.Count(r => r.Endpoint == "slow-shadowed" && r.Role == ServingRoles.Shadow));
    }

    [Fact]
    public async Task A_deleted_or_unloaded_endpoints_shadow_worker_ends_and_stopping_counts_each_endpoints_backlog()
    {
        // The first shadow copy, the held endpoint's, hangs until the runtime stops; every other copy is answered at once.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var runtime = await StartAsync(
            [
                new Deployment { Name = "parked-shadow", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
                new Deployment { Name = "deleted-shadow", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
                new Deployment { Name = "held-shadow", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
            ],
            ct => Interlocked.Increment(ref calls) == 1 ? gate.Task.WaitAsync(ct) : Task.CompletedTask);
        Assert.Equal(0, runtime.ShadowWorkers); // a worker is started by an endpoint's first copy
        foreach (var endpoint in new[] { "held-shadow", "parked-shadow", "deleted-shadow" })
        {
            for (var i = 0; i < 5; i++)
            {
                await runtime.PredictAsync(Request(endpoint, $"{endpoint}-{i}"));
            }

            await WaitUntilAsync(() => Volatile.Read(ref calls) >= 1);
        }

        Assert.Equal(3, runtime.ShadowWorkers);
        await runtime.UnloadAsync("parked-shadow");
        await runtime.DeleteAsync("deleted-shadow", new Actor("test"));

        // Their workers answer what was queued and end; the held one's keeps waiting.
        await WaitUntilAsync(() => runtime.ShadowWorkers == 1);
        Assert.Equal((5, 0), runtime.ShadowCounts("parked-shadow"));

        // Stopping ends the held worker after the copy in hand; the four queued behind it are counted as its drops.
        await runtime.DisposeAsync();
        Assert.Equal((0, 5), runtime.ShadowCounts("held-shadow"));
    }

    [Fact]
    public async Task Stopping_with_a_shadow_backlog_ends_promptly_counts_the_copies_left_as_dropped_and_closes_the_log()
    {
        // A slow shadow that does not look at the token (a model taking 20 ms a copy): the worker used to answer its whole
        // backlog before the log was closed, 400 copies for 8 s or more, past the 2 s the CLI then gave the process.
        const int Copies = 400;
        var runtime = await StartAsync(
            new Deployment { Name = "backlog", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
            _ => Task.Delay(20, CancellationToken.None));
        for (var i = 0; i < Copies; i++)
        {
            await runtime.PredictAsync(Request("backlog", $"r{i}"));
        }

        await runtime.DisposeAsync();
        await runtime.DisposeAsync(); // a second owner's dispose is a no-op

        // Stopped promptly, told by what was left (no timing asserted): most of the backlog dropped, not answered.
        var (answered, dropped) = runtime.ShadowCounts("backlog");
        Assert.Equal(Copies, answered + dropped);
        Assert.True(dropped > Copies / 2, $"answered {answered}, dropped {dropped}");
        var folder = Path.Combine(_folder.Path, "predictions");
        Assert.Empty(Directory.GetFiles(folder, "*" + PredictionLog.OpenExtension));
        var records = await ReadLogAsync();
        Assert.Equal(Copies, records.Count(r => r.Role == ServingRoles.Champion));
        Assert.Equal(answered, records.Count(r => r.Role == ServingRoles.Shadow));
    }

    [Fact]
    public async Task A_challenger_or_shadow_reading_a_new_field_gets_it_from_requests_the_champion_also_answers()
    {
        await RegisterWithNewFieldAsync("delay-plus", "weather");
        await using var runtime = await StartAsync(
            new Deployment { Name = "shadowed", Project = "flights", Model = "delay/1", Shadow = "delay-plus/1" },
            new Deployment { Name = "held-back", Project = "flights", Model = "delay/1", Challenger = "delay-plus/1", ChallengerWeight = 0 },
            new Deployment { Name = "all-in", Project = "flights", Model = "delay/1", Challenger = "delay-plus/1", ChallengerWeight = 1 },
            new Deployment { Name = "alone", Project = "flights", Model = "delay/1" });

        // The champion answers a request that carries the other model's field as well as its own.
        Assert.Equal(ServingRoles.Champion, (await runtime.PredictAsync(WithWeather("shadowed", "s1"))).Role);
        Assert.Equal(ServingRoles.Champion, (await runtime.PredictAsync(WithWeather("held-back", "h1"))).Role);
        var challenger = await runtime.PredictAsync(WithWeather("all-in", "a1"));
        Assert.Equal(("delay-plus", ServingRoles.Challenger), (challenger.Model, challenger.Role));
        await WaitUntilAsync(() => runtime.ShadowCounts("shadowed").Answered == 1);

        // The challenger still needs its field, and a field no model of the endpoint reads is still refused.
        var missing = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(Request("all-in", "a2")).AsTask());
        Assert.StartsWith("missing field 'weather'", Assert.Single(missing.Problems), StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAsync<InputProblemsException>(() => runtime.PredictAsync(WithWeather("alone", "x1")).AsTask());
        Assert.StartsWith("unknown field 'weather'", Assert.Single(unknown.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_shadow_failure_naming_a_pii_field_is_logged_without_its_value()
    {
        // The warning quoted the value ("field 'weather' is 1E+39 in row 0, beyond the model's features"), which the
        // caller's answer and the prediction log mask.
        await RegisterWithNewFieldAsync("delay-plus", "weather");
        var warnings = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, new MetricRegistry(), new ServingOptions { Warn = warnings.Enqueue });
        await runtime.StartAsync([new Deployment { Name = "masked", Project = "flights", Model = "delay/1", Shadow = "delay-plus/1", Pii = ["weather"] }], new Actor("test"));
        var request = Request("masked", "p1");
        var columns = request.Input.Fields.ToDictionary(f => f.Key, f => f.Value);
        columns["weather"] = InputColumn.OfNumbers([1e39]);

        Assert.Equal(ServingRoles.Champion, (await runtime.PredictAsync(request with { Input = new PredictionInput(1, columns) })).Role);
        await WaitUntilAsync(() => warnings.Any(w => w.Contains("shadow delay-plus/1 failed", StringComparison.Ordinal)));

        var warning = Assert.Single(warnings, w => w.Contains("shadow delay-plus/1 failed", StringComparison.Ordinal));
        Assert.EndsWith("field 'weather' (PII): reason withheld, as it may hold the value", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("E+39", warning, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Series_of_a_removed_challenger_an_unloaded_endpoint_and_a_deleted_endpoint_are_no_longer_exported()
    {
        var registry = new MetricRegistry();
        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, registry);
        var actor = new Actor("test");
        await runtime.StartAsync(
            [
                new Deployment { Name = "canary", Project = "flights", Model = "delay/1", Challenger = "delay/2", ChallengerWeight = 0.5 },
                new Deployment { Name = "big", Project = "flights", Model = "delay/1", Shadow = "delay/2" },
                new Deployment { Name = "gone", Project = "flights", Model = "delay/1" },
            ],
            actor);
        for (var i = 0; i < 5; i++)
        {
            await runtime.PredictAsync(Request("gone", $"g{i}"));
        }

        var before = PrometheusText.ToText(registry);
        Assert.Contains("strata_serving_model_version{endpoint=\"canary\",role=\"challenger\"} 2\n", before, StringComparison.Ordinal);
        Assert.Contains("strata_serving_model_version{endpoint=\"big\",role=\"champion\"} 1\n", before, StringComparison.Ordinal);
        Assert.Contains("strata_serving_model_version{endpoint=\"big\",role=\"shadow\"} 2\n", before, StringComparison.Ordinal);
        Assert.Contains("strata_serving_requests_total{endpoint=\"gone\",version=\"1\",status=\"200\"} 5\n", before, StringComparison.Ordinal);
        Assert.Contains("strata_serving_model_swaps_total{endpoint=\"gone\"} 1\n", before, StringComparison.Ordinal);

        await runtime.PutAsync(new Deployment { Name = "canary", Project = "flights", Model = "delay/1" }, actor);
        await runtime.UnloadAsync("big");
        await runtime.DeleteAsync("gone", actor);
        var after = PrometheusText.ToText(registry);

        Assert.DoesNotContain("role=\"challenger\"", after, StringComparison.Ordinal);
        Assert.Contains("strata_serving_model_version{endpoint=\"canary\",role=\"champion\"} 1\n", after, StringComparison.Ordinal);
        Assert.DoesNotContain("strata_serving_model_version{endpoint=\"big\"", after, StringComparison.Ordinal);
        Assert.Contains("strata_serving_requests_in_flight{endpoint=\"big\"} 0\n", after, StringComparison.Ordinal); // unloaded, not gone
        Assert.DoesNotContain("endpoint=\"gone\"", after, StringComparison.Ordinal); // gauges, counters and histograms

        // Loaded again, the versions come back; made again, an endpoint counts from zero.
        await runtime.LoadAsync("big");
        await runtime.PutAsync(new Deployment { Name = "gone", Project = "flights", Model = "delay/2" }, actor);
        await runtime.PredictAsync(Request("gone", "again"));
        var again = PrometheusText.ToText(registry);
        Assert.Contains("strata_serving_model_version{endpoint=\"big\",role=\"shadow\"} 2\n", again, StringComparison.Ordinal);
        Assert.Contains("strata_serving_model_version{endpoint=\"gone\",role=\"champion\"} 2\n", again, StringComparison.Ordinal);
        Assert.Contains("strata_serving_requests_total{endpoint=\"gone\",version=\"2\",status=\"200\"} 1\n", again, StringComparison.Ordinal);
        Assert.DoesNotContain("strata_serving_requests_total{endpoint=\"gone\",version=\"1\"", again, StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_recorded_after_its_endpoint_was_dropped_is_counted_where_a_scrape_sees_it()
    {
        // The same thread and the same endpoint string: the cached children of its last request are what is at stake.
        var registry = new MetricRegistry();
        var metrics = new ServingMetrics(registry);
        const string Endpoint = "reborn";
        metrics.Record(Endpoint, 1, "200", 0.001);

        metrics.DropEndpoints(name => name == Endpoint);
        Assert.DoesNotContain(Endpoint, PrometheusText.ToText(registry), StringComparison.Ordinal);
        metrics.Record(Endpoint, 1, "200", 0.001);

        var text = PrometheusText.ToText(registry);
        Assert.Contains("strata_serving_requests_total{endpoint=\"reborn\",version=\"1\",status=\"200\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("strata_serving_request_duration_seconds_count{endpoint=\"reborn\",version=\"1\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refresh_after_an_unrelated_change_keeps_the_endpoints_state()
    {
        await using var runtime = await StartAsync(new Deployment { Name = "steady", Project = "flights", Model = "delay/1", Pii = ["origin_code"] });
        var before = runtime.RuntimeOf("steady").State;

        await ChangeTheStoreAsync();
        await runtime.RefreshAsync();

        Assert.NotNull(before);
        Assert.Same(before, runtime.RuntimeOf("steady").State);
    }

    [Fact]
    public async Task An_unloaded_endpoint_does_not_make_the_poller_refresh_on_every_tick()
    {
        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, new MetricRegistry(), new ServingOptions { PollInterval = TimeSpan.FromMilliseconds(20) });
        await runtime.StartAsync([new Deployment { Name = "parked", Project = "flights", Model = "delay/1" }], new Actor("test"));
        await runtime.UnloadAsync("parked");

        // A refresh forgets every cached key (its generation moves); with nothing changed in the store there is none.
        var generation = runtime.KeyGeneration;
        await Task.Delay(400);
        Assert.Equal(generation, runtime.KeyGeneration);

        // The poller is alive: a change in the store is still picked up.
        await ChangeTheStoreAsync();
        await WaitUntilAsync(() => runtime.KeyGeneration > generation);
        Assert.True(runtime.Ready); // unloaded on purpose is not "not ready"
    }

    [Fact]
    public async Task Retrying_a_failed_load_keeps_the_cached_keys_when_nothing_changed()
    {
        // A stored endpoint whose version fails verification (a declaration of it would not be stored).
        var registry = new Strata.Registry.RegistryService(_home.Metadata, _home.Artifacts);
        var blob = await registry.PutBlobAsync(Strata.Security.Caller.Local, "flights", new MemoryStream("not a model package"u8.ToArray()));
        var broken = await registry.RegisterVersionAsync(Strata.Security.Caller.Local, "flights", "delay", new Strata.Registry.VersionRegistration { ArtifactDigest = blob.Digest });
        await _home.Metadata.Endpoints.PutAsync("broken", "flights", new Deployment { Name = "broken", Project = "flights", Model = $"delay/{broken.Version}" }.ToJson(), new Actor("test"));
        await using var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, new MetricRegistry(), new ServingOptions { PollInterval = TimeSpan.FromMilliseconds(20) });
        await runtime.StartAsync([], new Actor("test"));
        Assert.False(runtime.Ready);
        var generation = runtime.KeyGeneration;

        // The load is retried on every tick, but no key can have been revoked while the store did not change.
        await Task.Delay(400);
        Assert.Equal(generation, runtime.KeyGeneration);
        Assert.False(runtime.Ready);

        // A change in the store still makes the next refresh forget the cached keys.
        await ChangeTheStoreAsync();
        await WaitUntilAsync(() => runtime.KeyGeneration > generation);
    }

    [Fact]
    public async Task The_prediction_log_masks_pii_fields_and_reads_back_what_was_predicted()
    {
        await using var runtime = await StartAsync(new Deployment { Name = "logged", Project = "flights", Model = "delay/1", Pii = ["origin_code"] });

        var output = await runtime.PredictAsync(Request("logged", "req-1"));
        await runtime.FlushPredictionLogAsync();

        var record = Assert.Single(await ReadLogAsync());
        Assert.Equal(("req-1", "logged", "delay", 1), (record.RequestId, record.Endpoint, record.Model, record.Version));
        Assert.True(record.LatencyMs > 0);
        var row = Assert.Single(record.Rows);
        Assert.Equal(PredictionLog.Mask, row.Inputs["origin_code"].GetString());
        Assert.Equal(258, row.Inputs["distance"].GetDouble());
        Assert.Equal(output.Labels![0], row.Label);
        Assert.Equal(output.Probabilities![1], row.Probabilities![1]);
        Assert.Empty(Directory.GetFiles(Path.Combine(_folder.Path, "predictions"), "*" + PredictionLog.OpenExtension));
    }

    [Fact]
    public async Task A_full_prediction_log_drops_and_counts_without_blocking_the_request()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var runtime = await StartAsync(
            new Deployment { Name = "flooded-log", Project = "flights", Model = "delay/1" },
            logCapacity: 3,
            beforeLogWrite: () => gate.Task);

        // The writer is held before it drains anything, so the queue keeps the first three and the rest are dropped;
        // every request still completes (a request that waited for the log would never finish here).
        for (var i = 0; i < 10; i++)
        {
            var output = await runtime.PredictAsync(Request("flooded-log", $"r{i}")).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, output.Version);
        }

        Assert.Equal((0, 7), runtime.LogCounts());
        gate.SetResult();
        await runtime.FlushPredictionLogAsync();
        Assert.Equal((3, 7), runtime.LogCounts());
        Assert.Equal(["r0", "r1", "r2"], (await ReadLogAsync()).Select(r => r.RequestId).Order());
    }

    [Fact]
    public async Task Batched_requests_get_the_answers_they_get_alone_each_their_own_and_are_counted()
    {
        await using var runtime = await StartAsync(
            new Deployment { Name = "batched", Project = "flights", Model = "delay/1", Batching = new DeploymentBatching { MaxBatchSize = 8, MaxDelayMs = 200 } },
            new Deployment { Name = "alone", Project = "flights", Model = "delay/1" });
        var requests = Enumerable.Range(0, 24).Select(i => Distance(Request("batched", $"r{i}"), 100 + (97 * i))).ToList();

        // Sent together, so they share batches; one of them is malformed and fails by itself.
        var bad = requests[5] with { Input = new PredictionInput(1, new Dictionary<string, InputColumn> { ["distance"] = InputColumn.OfTexts(["far"]) }) };
        requests[5] = bad;
        var answers = requests.Select(r => runtime.PredictAsync(r).AsTask()).ToList();
        var error = await Assert.ThrowsAsync<InputProblemsException>(() => answers[5]);
        Assert.Equal(ErrorCodes.SchemaInvalid, error.Code);

        for (var i = 0; i < requests.Count; i++)
        {
            if (i == 5)
            {
                continue;
            }

            var batched = await answers[i];
            var alone = await runtime.PredictAsync(requests[i] with { Endpoint = "alone" });
            Assert.Equal(alone.Probabilities, batched.Probabilities);
            Assert.Equal(alone.Labels, batched.Labels);
        }

        var (count, sum) = runtime.BatchSizes("batched");
        Assert.Equal(23, sum); // every good request went through a batch
        Assert.True(count < 23, $"{count} batches for 23 requests: none was shared");
    }

    [Fact]
    public async Task A_batched_request_that_runs_out_of_time_gets_a_timeout_refusal()
    {
        // Stored as written (a PUT now refuses a delay not below the timeout, but one stored before still loads).
        var deployment = new Deployment
        {
            Name = "slow-batch",
            Project = "flights",
            Model = "delay/1",
            Limits = new DeploymentLimits { TimeoutMs = 20 },
            Batching = new DeploymentBatching { MaxBatchSize = 100, MaxDelayMs = 1000 }, // waits far longer than the timeout for company
        };
        await _home.Metadata.Endpoints.PutAsync(deployment.Name, deployment.Project, deployment.ToJson(), new Actor("test"));
        await using var runtime = await StartAsync();

        var refusal = await Assert.ThrowsAsync<ServingRefusal>(() => runtime.PredictAsync(Request("slow-batch", "late")).AsTask());

        Assert.Equal(504, refusal.Status);
    }

    [Fact]
    public async Task Explaining_stops_at_the_timeout_and_when_the_caller_goes()
    {
        // TreeSHAP ran to the end of every row, past timeout_ms and after the client had gone (about 1 s of CPU for 1,000 rows).
        var deployment = new Deployment { Name = "explained", Project = "flights", Model = "delay/1", Limits = new DeploymentLimits { TimeoutMs = 1 } };
        await using var runtime = await StartAsync(deployment);
        var one = Request("explained", "x");
        var rows = one.Input.Fields.ToDictionary(f => f.Key, f => InputColumn.OfNumbers(Enumerable.Repeat(f.Value.NumberOrNaN(0), 1000).ToArray()));
        var many = one with { Input = new PredictionInput(1000, rows), Explain = 100 };

        var refusal = await Assert.ThrowsAsync<ServingRefusal>(() => runtime.PredictAsync(many with { RequestId = "late" }).AsTask());
        Assert.Equal(504, refusal.Status);

        using var gone = new CancellationTokenSource();
        await gone.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => runtime.PredictAsync(many with { RequestId = "gone" }, gone.Token).AsTask());

        // Without explain the same rows are answered at once, as before (the timeout only bounds waiting and explaining).
        Assert.Equal(1000, (await runtime.PredictAsync(many with { RequestId = "plain", Explain = 0 })).Rows);
    }

    [Fact]
    public async Task A_default_request_is_refused_for_its_missing_parts()
    {
        await using var runtime = await StartAsync(new Deployment { Name = "plain", Project = "flights", Model = "delay/1" });

        var refusal = await Assert.ThrowsAsync<ArgumentException>(() => runtime.PredictAsync(default).AsTask());

        Assert.Equal("request", refusal.ParamName);
    }

    [Fact]
    public void Sampling_logs_about_its_share_and_decides_the_same_for_a_request_id()
    {
        var sampled = Enumerable.Range(0, 10_000).Count(i => LogSampling.Sampled($"request-{i}", 0.1));

        Assert.InRange(sampled, 800, 1200);
        Assert.Equal(LogSampling.Sampled("abc", 0.5), LogSampling.Sampled("abc", 0.5));
        Assert.False(LogSampling.Sampled("abc", 0));
    }

    [Fact]
    public async Task Admission_refuses_beyond_the_queue_and_lets_waiters_in_as_slots_free()
    {
        using var admission = new Admission("e", maxConcurrency: 1, maxQueue: 1);
        var first = await admission.EnterAsync(CancellationToken.None);
        var waiting = admission.EnterAsync(CancellationToken.None).AsTask();

        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, admission.Waiting);
        var refusal = await Assert.ThrowsAsync<ServingRefusal>(async () => await admission.EnterAsync(CancellationToken.None));
        Assert.Equal((503, 1), (refusal.Status, refusal.RetryAfterSeconds));

        first.Dispose();
        (await waiting).Dispose();
        Assert.Equal((0, 0), (admission.Running, admission.Waiting));
    }

    [Fact]
    public void The_rate_limiter_allows_the_burst_then_the_rate_per_key()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch, TimeSpan.Zero);
        var limiter = new RateLimiter(rate: 2, burst: 3, clock);

        Assert.True(limiter.TryTake("a", out _) && limiter.TryTake("a", out _) && limiter.TryTake("a", out _));
        Assert.False(limiter.TryTake("a", out var retry));
        Assert.Equal(1, retry);
        Assert.True(limiter.TryTake("b", out _));
        clock.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(limiter.TryTake("a", out _));
        Assert.False(limiter.TryTake("a", out _));
    }

    private static PredictionRequest Distance(PredictionRequest request, double distance)
    {
        var columns = new Dictionary<string, InputColumn>(request.Input.Columns) { ["distance"] = InputColumn.OfNumbers([distance]) };
        return request with { Input = new PredictionInput(1, columns) };
    }

    private async Task<ServingRuntime> StartAsync(params Deployment[] deployments)
    {
        var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, new MetricRegistry(), new ServingOptions { PredictionLogFolder = Path.Combine(_folder.Path, "predictions") });
        await runtime.StartAsync(deployments, new Actor("test"));
        return runtime;
    }

    private Task<ServingRuntime> StartAsync(
        Deployment deployment, Func<CancellationToken, Task>? beforeShadow = null, int shadowCapacity = 1024, int logCapacity = 16_384, Func<Task>? beforeLogWrite = null) =>
        StartAsync([deployment], beforeShadow, shadowCapacity, logCapacity, beforeLogWrite);

    private async Task<ServingRuntime> StartAsync(
        Deployment[] deployments, Func<CancellationToken, Task>? beforeShadow, int shadowCapacity = 1024, int logCapacity = 16_384, Func<Task>? beforeLogWrite = null)
    {
        var runtime = new ServingRuntime(_home.Metadata, _home.Artifacts, null, new MetricRegistry(), new ServingOptions
        {
            PredictionLogFolder = Path.Combine(_folder.Path, "predictions"),
            BeforeShadow = beforeShadow,
            ShadowCapacity = shadowCapacity,
            PredictionLogCapacity = logCapacity,
            BeforeLogWrite = beforeLogWrite,
        });
        await runtime.StartAsync(deployments, new Actor("test"));
        return runtime;
    }

    private PredictionRequest Request(string endpoint, string id) => FlightsModelSeed.Request(_inputs, endpoint, id);

    /// <summary>A write that moves the store's change sequence (which makes the poller refresh) and changes no endpoint.</summary>
    private async Task ChangeTheStoreAsync() =>
        await new Strata.Registry.RegistryService(_home.Metadata, _home.Artifacts).CreateModelAsync(Strata.Security.Caller.Local, "flights", "unrelated", null, null);

    private PredictionRequest WithWeather(string endpoint, string id)
    {
        var request = Request(endpoint, id);
        var columns = request.Input.Fields.ToDictionary(f => f.Key, f => f.Value);
        columns["weather"] = InputColumn.OfNumbers([0.5]);
        return request with { Input = new PredictionInput(1, columns) };
    }

    /// <summary>Registers a small model that reads the flights model's inputs and one more field.</summary>
    private async Task RegisterWithNewFieldAsync(string name, string field)
    {
        var random = new Random(5);
        var columns = _inputs.Append(field)
            .Select(input => (input, (Column)Columns.Float64([.. Enumerable.Range(0, 100).Select(_ => (double?)random.NextDouble())])))
            .Append(("late", Columns.Int64([.. Enumerable.Range(0, 100).Select(i => (long?)(i % 2))])));
        var model = await new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 3 })
            .FitAsync(Strata.Learning.TrainingData.FromTable(Table.From([.. columns]), new Strata.Learning.TrainingSpec { Label = "late", Task = Strata.Learning.LearningTask.BinaryClassification }));
        await TestModels.RegisterAsync(_home, "flights", name, model);
    }

    private async Task<List<PredictionRecord>> ReadLogAsync()
    {
        var records = new List<PredictionRecord>();
        await foreach (var record in PredictionLogReader.ReadAsync(Path.Combine(_folder.Path, "predictions")))
        {
            records.Add(record);
        }

        return records;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting");
            await Task.Delay(10);
        }
    }
}
