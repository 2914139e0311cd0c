using Microsoft.Data.Sqlite;
using Strata.Features.Definitions;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.Tests.Features.Definitions;

public sealed class FeatureRegistryTests : IAsyncLifetime, IDisposable
{
    private static readonly Actor Alice = new("alice");
    private readonly TempFolder _folder = new("feature-registry");
    private IMetadataStore? _store;

    private IMetadataStore Store => _store!;

    public async Task InitializeAsync()
    {
        _store = await SqliteMetadataStore.OpenAsync(_folder.File("strata.db"));
        await Store.Projects.CreateAsync("flights", null, Alice);
    }

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Apply_stores_versions_and_reapplying_is_a_no_op()
    {
        var registry = new FeatureRegistry(Store);
        var repo = FeatureRepositoryJsonTests.Sample();

        Assert.Empty((await registry.GetAsync("flights")).Entities);
        var plan = await registry.PlanAsync("flights", repo);
        Assert.True(plan.HasChanges);
        Assert.Null(plan.CurrentVersion);
        var v1 = await registry.ApplyAsync("flights", repo, force: false, Alice);
        var again = await registry.ApplyAsync("flights", repo, force: false, Alice);

        Assert.Equal(1, v1.Version);
        Assert.Equal(v1, again);
        Assert.Equal(repo.ComputeDigest(), v1.Digest);
        Assert.Equal(repo.ToCanonicalJson(), (await registry.GetAsync("flights")).ToCanonicalJson());
        var replan = await registry.PlanAsync("flights", repo);
        Assert.False(replan.HasChanges);
        Assert.Empty(replan.Changes);
    }

    [Fact]
    public async Task Breaking_changes_are_refused_unless_forced()
    {
        var registry = new FeatureRegistry(Store);
        var repo = FeatureRepositoryJsonTests.Sample();
        await registry.ApplyAsync("flights", repo, force: false, Alice);
        var hourly = repo.FeatureViews[0];
        var retyped = repo with { FeatureViews = [hourly with { Features = [hourly.Features[0], new Field("mean_delay", DataType.Int64)] }] };

        var e = await Assert.ThrowsAsync<StrataException>(() => registry.ApplyAsync("flights", retyped, force: false, Alice));
        Assert.Equal(ErrorCodes.Conflict, e.Code);
        Assert.Contains("feature 'mean_delay' type float64 → int64 (breaking)", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await Store.Features.GetLatestAsync("flights"))!.Version);

        var forced = await registry.ApplyAsync("flights", retyped, force: true, Alice);
        Assert.Equal(2, forced.Version);
    }

    [Fact]
    public async Task Invalid_definitions_are_refused_before_anything_is_stored()
    {
        var registry = new FeatureRegistry(Store);
        var repo = FeatureRepositoryJsonTests.Sample();
        var broken = repo with { FeatureViews = [repo.FeatureViews[0] with { Entities = ["orign"] }] };

        var e = await Assert.ThrowsAsync<StrataException>(() => registry.ApplyAsync("flights", broken, force: true, Alice));

        Assert.Equal("feature view 'origin_hourly' names unknown entity 'orign'", e.Message);
        Assert.Null(await Store.Features.GetLatestAsync("flights"));
    }
}
