using System.Text;
using Microsoft.Data.Sqlite;
using Strata.Monitoring;
using Strata.Monitoring.Drift;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Testing;

namespace Strata.Tests.Monitoring;

public sealed class ReferenceProfileTests : IDisposable
{
    private readonly TempFolder _folder = new("reference-profiles");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Dispose();
    }

    [Fact]
    public async Task The_training_data_reference_is_stored_with_the_model_version_and_loads_back_identical()
    {
        await using var home = await StrataHome.OpenAsync(_folder.Path);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        await registry.CreateProjectAsync(Caller.Local, "flights", null);
        await registry.CreateModelAsync(Caller.Local, "flights", "delays", null, null);
        var version = await registry.UploadVersionAsync(Caller.Local, "flights", "delays", new VersionRegistration(), new MemoryStream(Encoding.UTF8.GetBytes("model")));
        var training = MonitorRunnerTests.Served(seed: 1, start: 0, rows: 3000, shift: 0);
        var batches = new[] { training.Slice(0, 1000), training.Slice(1000, 2000) };

        var reference = await ReferenceProfiles.BuildAsync(() => batches.ToAsyncEnumerable(), ["x", "color", "prediction"]);
        await ReferenceProfiles.SaveAsync(registry, Caller.Local, "flights", "delays", version.Version, reference);
        var loaded = await ReferenceProfiles.LoadAsync(registry, Caller.Local, "flights", "delays", version.Version);

        Assert.Equal(reference.ToUtf8Json(), loaded.ToUtf8Json());
        Assert.Equal(3000, loaded.RowCount);
        var drift = DriftDetector.Compare(loaded, DriftProfileBuilder.Profile(loaded.Layout, MonitorRunnerTests.Served(seed: 9, start: 0, rows: 2000, shift: 1)));
        Assert.Equal(DriftStatus.Drift, drift.Status);
        var digests = await home.Metadata.GetReferencedDigestsAsync(0);
        Assert.Equal(2, digests.Count);
    }

    [Fact]
    public async Task A_version_without_a_reference_profile_is_a_clear_not_found()
    {
        await using var home = await StrataHome.OpenAsync(_folder.Path);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        await registry.CreateProjectAsync(Caller.Local, "flights", null);
        await registry.CreateModelAsync(Caller.Local, "flights", "delays", null, null);
        var version = await registry.UploadVersionAsync(Caller.Local, "flights", "delays", new VersionRegistration(), new MemoryStream(Encoding.UTF8.GetBytes("model")));

        var e = await Assert.ThrowsAsync<StrataException>(() => ReferenceProfiles.LoadAsync(registry, Caller.Local, "flights", "delays", version.Version));

        Assert.Equal(ErrorCodes.NotFound, e.Code);
        Assert.Contains("reference profile", e.Message, StringComparison.Ordinal);
    }
}
