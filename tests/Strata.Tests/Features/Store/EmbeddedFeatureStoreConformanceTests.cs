using Microsoft.Data.Sqlite;
using Strata.Features;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;
using Strata.Testing.Conformance;

namespace Strata.Tests.Features.Store;

/// <summary>The feature store over SQLite metadata and the embedded offline and online stores.</summary>
public sealed class EmbeddedFeatureStoreConformanceTests : FeatureStoreConformance, IDisposable
{
    private readonly TempFolder _folder = new("feature-store-conformance");

    protected override async Task<(IMetadataStore Metadata, IFeatureBackend Backend)> OpenAsync() =>
        (await SqliteMetadataStore.OpenAsync(_folder.File("strata.db")), new EmbeddedFeatureBackend(_folder.Path));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public void Dispose() => _folder.Dispose();
}
