using Strata.Stores;
using Xunit;

namespace Strata.Testing.Conformance;

/// <summary>
/// The behaviour every <see cref="IMetadataStore"/> backend must show, written once; each backend runs it through a small
/// sealed subclass. Results must be identical across backends.
/// </summary>
public abstract partial class MetadataStoreConformance : IAsyncLifetime
{
    protected static readonly Actor Alice = new("alice", "req-1");
    protected static readonly Actor Bob = new("bob", "req-2");

    private IMetadataStore? _store;

    protected ManualClock Clock { get; } = new();

    protected IMetadataStore Store => _store ?? throw new InvalidOperationException("store not open");

    /// <summary>Opens a fresh, empty store using <paramref name="clock"/>.</summary>
    protected abstract Task<IMetadataStore> OpenStoreAsync(TimeProvider clock);

    public async Task InitializeAsync() => _store = await OpenStoreAsync(Clock);

    public virtual async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    private async Task<(Project Project, Experiment Experiment)> ProjectWithExperimentAsync(string project = "flights", string experiment = "delays")
    {
        var p = await Store.Projects.CreateAsync(project, "test", Alice);
        var e = await Store.Tracking.CreateExperimentAsync(project, experiment, new Dictionary<string, string> { ["team"] = "ml" }, Alice);
        return (p, e);
    }

    [BackendFact]
    public async Task Projects_are_created_listed_and_unique()
    {
        await Store.Projects.CreateAsync("b-project", null, Alice);
        await Store.Projects.CreateAsync("a-project", "first", Alice);

        Assert.Equal(new[] { "a-project", "b-project" }, (await Store.Projects.ListAsync()).Select(p => p.Name));
        Assert.Equal("first", (await Store.Projects.GetAsync("a-project"))!.Description);
        Assert.Null(await Store.Projects.GetAsync("nope"));
        var e = await Assert.ThrowsAsync<StrataException>(() => Store.Projects.CreateAsync("a-project", null, Alice));
        Assert.Equal(ErrorCodes.Conflict, e.Code);
    }

    [BackendTheory]
    [InlineData("../etc")]
    [InlineData("..\\windows")]
    [InlineData("%2e%2e%2f")]
    [InlineData("%252e%252e")]
    [InlineData("/absolute")]
    [InlineData("//proc/self/root")]
    [InlineData("..;/x")]
    [InlineData("bad\u0000name")]
    [InlineData("tab\tname")]
    [InlineData("caf\u00e9")]
    [InlineData("")]
    public async Task Hostile_names_are_refused_naming_the_field(string name)
    {
        var e = await Assert.ThrowsAsync<StrataException>(() => Store.Projects.CreateAsync(name, null, Alice));

        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
        Assert.Contains("field 'project'", e.Message, StringComparison.Ordinal);
    }

    [BackendFact]
    public async Task Over_long_names_are_refused()
    {
        var e = await Assert.ThrowsAsync<StrataException>(() => Store.Projects.CreateAsync(new string('a', 65), null, Alice));
        Assert.Contains("limit is 64", e.Message, StringComparison.Ordinal);
    }

    [BackendFact]
    public async Task Experiments_belong_to_a_project_and_have_unique_names()
    {
        var (_, experiment) = await ProjectWithExperimentAsync();

        Assert.Equal(experiment, await Store.Tracking.GetExperimentAsync("flights", "delays"), ExperimentComparer.Instance);
        Assert.Equal(experiment, await Store.Tracking.GetExperimentAsync("flights", experiment.Id), ExperimentComparer.Instance);
        Assert.Equal("ml", experiment.Tags["team"]);
        Assert.Single(await Store.Tracking.ListExperimentsAsync("flights"));
        Assert.Equal(ErrorCodes.Conflict, (await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.CreateExperimentAsync("flights", "delays", null, Alice))).Code);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.CreateExperimentAsync("nope", "x", null, Alice))).Code);
    }

    [BackendFact]
    public async Task Runs_keep_params_tags_metric_series_and_the_latest_value_by_step()
    {
        var (_, experiment) = await ProjectWithExperimentAsync();
        var run = await Store.Tracking.CreateRunAsync("flights", experiment.Id, new RunSpec
        {
            Name = "first try",
            Params = new Dictionary<string, string> { ["depth"] = "6" },
            Source = new RunSource("abc123", true, new Dictionary<string, string> { ["train.csv"] = new string('a', 64) }, ".NET 10", new Dictionary<string, string> { ["Strata"] = "0.1" }, "strata train"),
        }, Alice);

        await Store.Tracking.LogBatchAsync("flights", run.Id, [new("auc", 0.70, 1, 0), new("auc", 0.75, 2, 0), new("loss", 0.5, 0, 0)], new Dictionary<string, string> { ["eta"] = "0.1" }, new Dictionary<string, string> { ["stage"] = "dev" }, Alice);
        // A later batch with an earlier step does not replace the latest value.
        await Store.Tracking.LogBatchAsync("flights", run.Id, [new("auc", 0.10, 0, 0)], null, new Dictionary<string, string> { ["stage"] = "prod" }, Alice);
        var ended = await Store.Tracking.EndRunAsync("flights", run.Id, RunStatus.Finished, Alice);

        Assert.Equal(RunStatus.Finished, ended.Status);
        Assert.NotNull(ended.EndTime);
        Assert.Equal(0.75, ended.Metrics["auc"]);
        Assert.Equal("6", ended.Params["depth"]);
        Assert.Equal("0.1", ended.Params["eta"]);
        Assert.Equal("prod", ended.Tags["stage"]);
        Assert.Equal("abc123", ended.Source!.GitCommit);
        Assert.Equal("first try", ended.Name);
        var history = await Store.Tracking.GetMetricHistoryAsync("flights", run.Id, "auc");
        Assert.Equal(new[] { 0.10, 0.70, 0.75 }, history.Select(p => p.Value));
    }

    [BackendFact]
    public async Task Parameters_are_written_once_and_bad_values_are_refused()
    {
        var (_, experiment) = await ProjectWithExperimentAsync();
        var run = await Store.Tracking.CreateRunAsync("flights", experiment.Id, new RunSpec { Params = new Dictionary<string, string> { ["depth"] = "6" } }, Alice);

        await Store.Tracking.LogBatchAsync("flights", run.Id, [], new Dictionary<string, string> { ["depth"] = "6" }, null, Alice);
        Assert.Equal(ErrorCodes.Conflict, (await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.LogBatchAsync("flights", run.Id, [], new Dictionary<string, string> { ["depth"] = "7" }, null, Alice))).Code);
        var nan = await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.LogBatchAsync("flights", run.Id, [new("auc", double.NaN, 0, 0)], null, null, Alice));
        Assert.Contains("metrics[0].value", nan.Message, StringComparison.Ordinal);
        var key = await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.LogBatchAsync("flights", run.Id, [new("../x", 1, 0, 0)], null, null, Alice));
        Assert.Contains("metrics[0].key", key.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.LogBatchAsync("flights", "nope", [], null, null, Alice))).Code);
    }

    [BackendFact]
    public async Task Search_filters_orders_and_pages_through_every_run_once()
    {
        var (_, experiment) = await ProjectWithExperimentAsync();
        var random = new Random(4);
        var expected = new List<(string Id, double Auc, string Depth)>();
        for (var i = 0; i < 57; i++)
        {
            var depth = (i % 4 + 3).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var run = await Store.Tracking.CreateRunAsync("flights", experiment.Id, new RunSpec { Params = new Dictionary<string, string> { ["depth"] = depth } }, Alice);
            var auc = Math.Round(random.NextDouble(), 2); // ties on purpose
            await Store.Tracking.LogBatchAsync("flights", run.Id, [new("auc", auc, 0, 0)], null, null, Alice);
            if (i % 5 == 0)
            {
                await Store.Tracking.EndRunAsync("flights", run.Id, RunStatus.Failed, Alice);
            }

            expected.Add((run.Id, auc, depth));
        }

        var query = new RunQuery { Filter = "metrics.auc > 0.3 and params.depth = '4'", OrderBy = "metrics.auc desc", MaxResults = 4 };
        var seen = new List<Run>();
        string? token = null;
        do
        {
            var page = await Store.Tracking.SearchRunsAsync("flights", query with { PageToken = token });
            Assert.True(page.Runs.Count <= 4);
            seen.AddRange(page.Runs);
            token = page.NextPageToken;
        }
        while (token is not null);

        var want = expected.Where(e => e.Auc > 0.3 && e.Depth == "4").OrderByDescending(e => e.Auc).ThenByDescending(e => e.Id, StringComparer.Ordinal).Select(e => e.Id).ToList();
        Assert.Equal(want, seen.Select(r => r.Id).ToList());

        var failed = await Store.Tracking.SearchRunsAsync("flights", new RunQuery { Filter = "attributes.status = 'FAILED'", MaxResults = 1000 });
        Assert.Equal(12, failed.Runs.Count);

        var byParam = await Store.Tracking.SearchRunsAsync("flights", new RunQuery { OrderBy = "params.depth asc", MaxResults = 1000 });
        Assert.Equal(expected.OrderBy(e => e.Depth, StringComparer.Ordinal).ThenBy(e => e.Id, StringComparer.Ordinal).Select(e => e.Id), byParam.Runs.Select(r => r.Id));

        var newest = await Store.Tracking.SearchRunsAsync("flights", new RunQuery { MaxResults = 3 });
        Assert.Equal(expected.TakeLast(3).Reverse().Select(e => e.Id), newest.Runs.Select(r => r.Id));
    }

    [BackendTheory]
    [InlineData("metrics.auc >> 1")]
    [InlineData("metrics.auc > 'x'")]
    [InlineData("params.depth = 6")]
    [InlineData("metrics.auc > 0.5 or params.x = '1'")]
    [InlineData("colour.x = '1'")]
    [InlineData("metrics.auc > 0.5 and")]
    [InlineData("params.depth = 'unterminated")]
    public async Task Malformed_filters_are_clear_errors(string filter)
    {
        await ProjectWithExperimentAsync();
        var e = await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.SearchRunsAsync("flights", new RunQuery { Filter = filter }));

        Assert.Equal(ErrorCodes.ArgumentInvalid, e.Code);
        Assert.StartsWith("run search:", e.Message, StringComparison.Ordinal);
    }

    [BackendFact]
    public async Task A_page_token_of_another_query_is_refused()
    {
        var (_, experiment) = await ProjectWithExperimentAsync();
        for (var i = 0; i < 3; i++)
        {
            await Store.Tracking.CreateRunAsync("flights", experiment.Id, new RunSpec(), Alice);
        }

        var page = await Store.Tracking.SearchRunsAsync("flights", new RunQuery { MaxResults = 1 });
        var e = await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.SearchRunsAsync("flights", new RunQuery { MaxResults = 1, OrderBy = "start_time asc", PageToken = page.NextPageToken }));
        Assert.Contains("another query", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.SearchRunsAsync("flights", new RunQuery { PageToken = "garbage!" }));
    }

    [BackendFact]
    public async Task Model_versions_count_up_and_protected_aliases_need_an_approved_promotion()
    {
        await ProjectWithExperimentAsync();
        await Store.Registry.CreateModelAsync("flights", "delay", "late flights", null, Alice);
        var v1 = await Store.Registry.CreateVersionAsync("flights", "delay", Spec('1'), Alice);
        var v2 = await Store.Registry.CreateVersionAsync("flights", "delay", Spec('2'), Alice);
        Assert.Equal((1, 2), (v1.Version, v2.Version));

        var forbidden = await Assert.ThrowsAsync<StrataException>(() => Store.Registry.MoveAliasAsync("flights", "delay", "champion", 1, "go", Alice));
        Assert.Equal(ErrorCodes.Forbidden, forbidden.Code);

        await Store.Registry.MoveAliasAsync("flights", "delay", "challenger", 2, "try it", Alice);
        var request = await Store.Registry.RequestPromotionAsync("flights", "delay", "champion", 1, "best AUC", Alice);
        var other = await Store.Registry.RequestPromotionAsync("flights", "delay", "champion", 2, "or this", Alice);
        Assert.Equal(ApprovalStatus.Pending, request.Status);
        Assert.Null(await Store.Registry.GetAliasAsync("flights", "delay", "champion"));

        var approved = await Store.Registry.DecidePromotionAsync("flights", request.Id, approve: true, "looks good", Bob);
        Assert.Equal(ApprovalStatus.Approved, approved.Status);
        Assert.Equal("bob", approved.DecidedBy);
        var champion = await Store.Registry.GetAliasAsync("flights", "delay", "champion");
        Assert.Equal(1, champion!.Version);
        Assert.True(champion.Protected);
        Assert.Equal(ApprovalStatus.Cancelled, (await Store.Registry.ListPromotionsAsync("flights", "delay", null)).Single(p => p.Id == other.Id).Status);
        Assert.Equal(ErrorCodes.Conflict, (await Assert.ThrowsAsync<StrataException>(() => Store.Registry.DecidePromotionAsync("flights", request.Id, true, null, Bob))).Code);

        var history = await Store.Registry.GetAliasHistoryAsync("flights", "delay", "champion");
        var move = Assert.Single(history);
        Assert.Equal((null, 1, "bob", request.Id), (move.FromVersion, move.ToVersion, move.Principal, move.ApprovalId));
    }

    [BackendFact]
    public async Task Rejected_promotions_move_nothing()
    {
        await ProjectWithExperimentAsync();
        await Store.Registry.CreateModelAsync("flights", "delay", null, null, Alice);
        await Store.Registry.CreateVersionAsync("flights", "delay", Spec('1'), Alice);
        var request = await Store.Registry.RequestPromotionAsync("flights", "delay", "champion", 1, null, Alice);

        var rejected = await Store.Registry.DecidePromotionAsync("flights", request.Id, approve: false, "AUC too low", Bob);

        Assert.Equal(ApprovalStatus.Rejected, rejected.Status);
        Assert.Null(await Store.Registry.GetAliasAsync("flights", "delay", "champion"));
        Assert.Empty(await Store.Registry.GetAliasHistoryAsync("flights", "delay", "champion"));
    }

    [BackendFact]
    public async Task Which_version_an_alias_pointed_to_at_any_time_is_answered_from_its_history()
    {
        await ProjectWithExperimentAsync();
        await Store.Registry.CreateModelAsync("flights", "delay", null, null, Alice);
        for (var v = 1; v <= 3; v++)
        {
            await Store.Registry.CreateVersionAsync("flights", "delay", Spec((char)('0' + v)), Alice);
        }

        var before = Timestamp.FromDateTimeOffset(Clock.Peek());
        Clock.Advance(TimeSpan.FromDays(1));
        await Store.Registry.MoveAliasAsync("flights", "delay", "prod", 1, "launch", Alice);
        var t1 = Timestamp.FromDateTimeOffset(Clock.Peek());
        Clock.Advance(TimeSpan.FromDays(30));
        await Store.Registry.MoveAliasAsync("flights", "delay", "prod", 3, "retrain", Alice);
        var t2 = Timestamp.FromDateTimeOffset(Clock.Peek());
        Clock.Advance(TimeSpan.FromDays(1));
        await Store.Registry.MoveAliasAsync("flights", "delay", "prod", null, "retired", Alice);
        var t3 = Timestamp.FromDateTimeOffset(Clock.Peek());

        Assert.Null(await Store.Registry.ResolveAliasAtAsync("flights", "delay", "prod", before));
        Assert.Equal(1, await Store.Registry.ResolveAliasAtAsync("flights", "delay", "prod", t1));
        Assert.Equal(3, await Store.Registry.ResolveAliasAtAsync("flights", "delay", "prod", t2));
        Assert.Null(await Store.Registry.ResolveAliasAtAsync("flights", "delay", "prod", t3));
        Assert.Equal(new int?[] { 1, 3, null }, (await Store.Registry.GetAliasHistoryAsync("flights", "delay", "prod")).Select(m => m.ToVersion));
    }

    [BackendFact]
    public async Task An_aliased_version_cannot_be_archived_and_an_archived_one_cannot_be_aliased()
    {
        await ProjectWithExperimentAsync();
        await Store.Registry.CreateModelAsync("flights", "delay", null, null, Alice);
        await Store.Registry.CreateVersionAsync("flights", "delay", Spec('1'), Alice);
        await Store.Registry.CreateVersionAsync("flights", "delay", Spec('2'), Alice);
        await Store.Registry.MoveAliasAsync("flights", "delay", "staging", 1, null, Alice);

        Assert.Equal(ErrorCodes.Conflict, (await Assert.ThrowsAsync<StrataException>(() => Store.Registry.SetVersionStatusAsync("flights", "delay", 1, VersionStatus.Archived, Alice))).Code);
        await Store.Registry.SetVersionStatusAsync("flights", "delay", 2, VersionStatus.Archived, Alice);
        Assert.Equal(ErrorCodes.Conflict, (await Assert.ThrowsAsync<StrataException>(() => Store.Registry.MoveAliasAsync("flights", "delay", "staging", 2, null, Alice))).Code);
        Assert.Equal(VersionStatus.Archived, (await Store.Registry.GetVersionAsync("flights", "delay", 2))!.Status);
    }

    [BackendFact]
    public async Task Lineage_walks_upstream_from_a_model_and_downstream_from_a_data_set()
    {
        await ProjectWithExperimentAsync();
        var raw = await Store.Lineage.PutArtifactAsync(Artifact("dataset", "flights.csv"), Alice);
        var profile = await Store.Lineage.PutArtifactAsync(Artifact("profile", "flights.profile"), Alice);
        var train = await Store.Lineage.PutArtifactAsync(Artifact("training_set", "train.arrow"), Alice);
        var model = await Store.Lineage.PutArtifactAsync(Artifact("model", "delay v1"), Alice);
        var other = await Store.Lineage.PutArtifactAsync(Artifact("dataset", "unrelated.csv"), Alice);
        var join = await Store.Lineage.PutExecutionAsync(Execution("training-set"), Alice);
        var fit = await Store.Lineage.PutExecutionAsync(Execution("train"), Alice);
        var describe = await Store.Lineage.PutExecutionAsync(Execution("profile"), Alice);
        await Store.Lineage.AddEventsAsync(
        [
            new(join.Id, raw.Id, LineageEventType.Input, 0), new(join.Id, train.Id, LineageEventType.Output, 0),
            new(fit.Id, train.Id, LineageEventType.Input, 0), new(fit.Id, model.Id, LineageEventType.Output, 0),
            new(describe.Id, raw.Id, LineageEventType.Input, 0), new(describe.Id, profile.Id, LineageEventType.Output, 0),
        ], Alice);

        var up = await Store.Lineage.GetUpstreamAsync("flights", model.Id);
        Assert.Equal(new[] { model.Id, train.Id, raw.Id }.Order(), up.Artifacts.Select(a => a.Id).Order());
        Assert.Equal(new[] { join.Id, fit.Id }.Order(), up.Executions.Select(e => e.Id).Order());

        var down = await Store.Lineage.GetDownstreamAsync("flights", raw.Id);
        Assert.Equal(new[] { raw.Id, profile.Id, train.Id, model.Id }.Order(), down.Artifacts.Select(a => a.Id).Order());
        Assert.DoesNotContain(down.Artifacts, a => a.Id == other.Id);

        var context = await Store.Lineage.PutContextAsync(new LineageContext("", "flights", "experiment", "delays", [raw.Id, model.Id], [fit.Id]), Alice);
        Assert.Equal(2, context.ArtifactIds.Count);
        Assert.Single(await Store.Lineage.FindArtifactsAsync("flights", "model", null, null));
    }

    [BackendFact]
    public async Task Every_mutation_is_audited_in_an_intact_chain()
    {
        var before = await Store.GetChangeSequenceAsync();
        var (_, experiment) = await ProjectWithExperimentAsync();
        var run = await Store.Tracking.CreateRunAsync("flights", experiment.Id, new RunSpec(), Bob);
        await Store.Tracking.LogBatchAsync("flights", run.Id, [new("auc", 0.7, 0, 0)], null, null, Bob);

        var entries = await Store.Audit.ReadAsync(1, 100);
        Assert.Equal(new[] { "project.create", "experiment.create", "run.create", "run.log" }, entries.Select(e => e.Action));
        Assert.Equal("bob", entries[2].Principal);
        Assert.Equal("req-2", entries[2].RequestId);
        Assert.Equal(run.Id, entries[2].Target);
        Assert.Equal(before + 4, await Store.GetChangeSequenceAsync());
        var verification = await Store.Audit.VerifyAsync();
        Assert.True(verification.Intact, verification.Problem);
        Assert.Equal(4, verification.Entries);
    }

    [BackendFact]
    public async Task A_failed_mutation_leaves_no_audit_entry_and_no_data()
    {
        await ProjectWithExperimentAsync();
        var before = await Store.GetChangeSequenceAsync();
        await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.CreateRunAsync("flights", 999, new RunSpec(), Alice));

        Assert.Equal(before, await Store.GetChangeSequenceAsync());
        Assert.True((await Store.Audit.VerifyAsync()).Intact);
    }

    [BackendFact]
    public async Task Api_keys_store_only_hashes_and_can_be_revoked()
    {
        await Store.Projects.CreateAsync("flights", null, Alice);
        Assert.False(await Store.Keys.AnyAsync());
        var key = await Store.Keys.CreateAsync(new ApiKey("k1", "ci-bot", "flights", Role.Deployer, new string('f', 64), 0, "", false, "deploys"), Alice);

        Assert.True(await Store.Keys.AnyAsync());
        var stored = await Store.Keys.GetAsync("k1");
        Assert.Equal((Role.Deployer, "ci-bot", new string('f', 64), "alice"), (stored!.Role, stored.Principal, stored.SecretHash, stored.CreatedBy));
        Assert.Single(await Store.Keys.ListAsync("flights"));
        await Store.Keys.RevokeAsync("k1", Alice);
        Assert.True((await Store.Keys.GetAsync("k1"))!.Revoked);
        Assert.False(await Store.Keys.AnyAsync());
        Assert.Equal(key.Id, stored.Id);
    }

    [BackendFact]
    public async Task Run_artifacts_record_logical_paths_and_digests()
    {
        var (_, experiment) = await ProjectWithExperimentAsync();
        var run = await Store.Tracking.CreateRunAsync("flights", experiment.Id, new RunSpec(), Alice);
        await Store.Tracking.LogArtifactAsync("flights", run.Id, "model/model.stpkg", new string('a', 64), 123, Alice);

        Assert.Equal(("model/model.stpkg", new string('a', 64), 123L), Assert.Single(await Store.Tracking.ListArtifactsAsync("flights", run.Id)));
        var e = await Assert.ThrowsAsync<StrataException>(() => Store.Tracking.LogArtifactAsync("flights", run.Id, "../../etc/passwd", new string('a', 64), 1, Alice));
        Assert.Contains("field 'path'", e.Message, StringComparison.Ordinal);
    }

    [BackendFact]
    public async Task Feature_definitions_are_versioned_and_reapplying_the_same_digest_changes_nothing()
    {
        await Store.Projects.CreateAsync("flights", null, Alice);
        Assert.Null(await Store.Features.GetLatestAsync("flights"));
        var (first, firstDigest) = Definition("{\"v\":1}");
        var (second, secondDigest) = Definition("{\"v\":2}");

        var v1 = await Store.Features.ApplyAsync("flights", first, firstDigest, Alice);
        Clock.Advance(TimeSpan.FromSeconds(1));
        var sequence = await Store.GetChangeSequenceAsync();
        var again = await Store.Features.ApplyAsync("flights", first, firstDigest, Bob);
        var v2 = await Store.Features.ApplyAsync("flights", second, secondDigest, Bob);

        Assert.Equal((1, "alice", firstDigest), (v1.Version, v1.CreatedBy, v1.Digest));
        Assert.Equal(v1, again);
        Assert.Equal((2, "bob", second), (v2.Version, v2.CreatedBy, v2.Definition));
        Assert.Equal(sequence + 1, await Store.GetChangeSequenceAsync());
        Assert.Equal(v2, await Store.Features.GetLatestAsync("flights"));
        Assert.Equal(v1, await Store.Features.GetVersionAsync("flights", 1));
        Assert.Null(await Store.Features.GetVersionAsync("flights", 3));
        Assert.Equal(new[] { 2, 1 }, (await Store.Features.ListVersionsAsync("flights")).Select(v => v.Version));
        var audit = await Store.Audit.ReadAsync(1, 100);
        Assert.Equal(2, audit.Count(e => e.Action == "features.apply"));
        Assert.True((await Store.Audit.VerifyAsync()).Intact);
    }

    [BackendFact]
    public async Task Feature_definitions_need_a_project_and_a_matching_digest()
    {
        await Store.Projects.CreateAsync("flights", null, Alice);
        var (json, digest) = Definition("{}");

        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Store.Features.ApplyAsync("nope", json, digest, Alice))).Code);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Store.Features.ListVersionsAsync("nope"))).Code);
        var mismatch = await Assert.ThrowsAsync<StrataException>(() => Store.Features.ApplyAsync("flights", json + " ", digest, Alice));
        Assert.Contains("field 'digest'", mismatch.Message, StringComparison.Ordinal);
        Assert.Empty(await Store.Features.ListVersionsAsync("flights"));
    }

    [BackendFact]
    public async Task Feature_watermarks_are_per_view_and_only_move_forward()
    {
        await Store.Projects.CreateAsync("flights", null, Alice);
        await Store.Projects.CreateAsync("other", null, Alice);
        Assert.Null(await Store.Features.GetWatermarkAsync("flights", "origin_hourly"));

        await Store.Features.SetWatermarkAsync("flights", "origin_hourly", 1_000, Alice);
        var sequence = await Store.GetChangeSequenceAsync();
        await Store.Features.SetWatermarkAsync("flights", "origin_hourly", 500, Alice);
        await Store.Features.SetWatermarkAsync("flights", "origin_hourly", 1_000, Alice);
        Assert.Equal(sequence, await Store.GetChangeSequenceAsync());
        await Store.Features.SetWatermarkAsync("flights", "origin_hourly", 2_000, Bob);
        await Store.Features.SetWatermarkAsync("flights", "origin_delay_windows", 7, Bob);

        Assert.Equal(2_000, await Store.Features.GetWatermarkAsync("flights", "origin_hourly"));
        Assert.Equal(7, await Store.Features.GetWatermarkAsync("flights", "origin_delay_windows"));
        Assert.Null(await Store.Features.GetWatermarkAsync("other", "origin_hourly"));
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Store.Features.SetWatermarkAsync("nope", "v", 1, Alice))).Code);
        Assert.Equal(ErrorCodes.ArgumentInvalid, (await Assert.ThrowsAsync<StrataException>(() => Store.Features.SetWatermarkAsync("flights", "../v", 1, Alice))).Code);
        Assert.Equal(3, (await Store.Audit.ReadAsync(1, 100)).Count(e => e.Action == "features.watermark"));
    }

    private static (string Json, string Digest) Definition(string json) =>
        (json, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json))));

    protected static ModelVersionSpec Spec(char digit) => new() { ArtifactDigest = new string(digit, 64), ArtifactSize = 10, Learner = "gbdt", Metrics = new Dictionary<string, double> { ["auc"] = 0.7 } };

    private static LineageArtifact Artifact(string type, string name) => new("", "flights", type, name, null, new Dictionary<string, string>(), 0);

    private static LineageExecution Execution(string type) => new("", "flights", type, type, "complete", new Dictionary<string, string>(), 0);

    private sealed class ExperimentComparer : IEqualityComparer<Experiment?>
    {
        public static readonly ExperimentComparer Instance = new();

        public bool Equals(Experiment? x, Experiment? y) =>
            x is not null && y is not null && x.Id == y.Id && x.Name == y.Name && x.Project == y.Project && x.Tags.OrderBy(t => t.Key).SequenceEqual(y.Tags.OrderBy(t => t.Key));

        public int GetHashCode(Experiment? obj) => obj?.Id.GetHashCode() ?? 0;
    }

    [BackendFact]
    public async Task Pipeline_runs_and_steps_round_trip_and_succeeded_steps_are_found_by_cache_key()
    {
        await Store.Projects.CreateAsync("flights", null, Alice);
        var digest = new string('a', 64);
        var run = new PipelineRun("run1", "flights", "daily", digest, "{}", PipelineState.Running, 10, null, null, "alice", null, new Dictionary<string, string> { ["folder"] = "/p" });
        await Store.Pipelines.CreateRunAsync(run, Alice);
        var step = new PipelineStepRun("run1", "train", "train", PipelineState.Running, "key1", 11, null, new Dictionary<string, string> { ["train"] = "table:" + digest }, new Dictionary<string, string>(), null, null);
        await Store.Pipelines.PutStepAsync("flights", step, Alice);
        Assert.Null(await Store.Pipelines.FindCachedStepAsync("flights", "key1"));

        await Store.Pipelines.PutStepAsync("flights", step with { State = PipelineState.Succeeded, EndedAt = 12, Outputs = new Dictionary<string, string> { ["model"] = "model:" + digest } }, Alice);
        await Store.Pipelines.PutStepAsync("flights", step with { Step = "evaluate", State = PipelineState.Failed, CacheKey = "key2", Error = "boom" }, Alice);
        await Store.Pipelines.UpdateRunAsync(run with { State = PipelineState.Failed, EndedAt = 13, Error = "step 'evaluate' failed: boom" }, Alice);

        var cached = await Store.Pipelines.FindCachedStepAsync("flights", "key1");
        Assert.Equal("model:" + digest, cached!.Outputs["model"]);
        Assert.Null(await Store.Pipelines.FindCachedStepAsync("flights", "key2"));
        Assert.Null(await Store.Pipelines.FindCachedStepAsync("other", "key1"));
        var stored = await Store.Pipelines.GetRunAsync("flights", "run1");
        Assert.Equal((PipelineState.Failed, "step 'evaluate' failed: boom", "/p"), (stored!.State, stored.Error, stored.Properties["folder"]));
        Assert.Equal(new[] { "train", "evaluate" }, (await Store.Pipelines.ListStepsAsync("flights", "run1")).Select(s => s.Step));
        Assert.Equal("run1", Assert.Single(await Store.Pipelines.ListRunsAsync("flights", "daily", 10)).Id);
        Assert.Empty(await Store.Pipelines.ListRunsAsync("flights", "weekly", 10));
        Assert.Equal("run1", Assert.Single(await Store.Pipelines.ListRunsAsync("flights", null, 10)).Id);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Store.Pipelines.PutStepAsync("other", step, Alice))).Code);
    }
}
