using Microsoft.Data.Sqlite;
using Strata.Storage;
using Strata.Stores;
using Xunit;

namespace Strata.Testing;

/// <summary>A test class over a fresh SQLite metadata store in its own temporary folder, opened and closed per test.</summary>
public abstract class SqliteStoreTests(string folderName) : IAsyncLifetime, IDisposable
{
    private IMetadataStore? _store;

    /// <summary>The test's folder (the store's file is strata.db in it).</summary>
    protected TempFolder Folder { get; } = new(folderName);

    /// <summary>The store.</summary>
    protected IMetadataStore Store => _store!;

    public async Task InitializeAsync() => _store = await SqliteMetadataStore.OpenAsync(Folder.File("strata.db"));

    public async Task DisposeAsync()
    {
        await Store.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public void Dispose()
    {
        Folder.Dispose();
        GC.SuppressFinalize(this);
    }
}
