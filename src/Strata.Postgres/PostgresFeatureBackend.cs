using Strata.Features;

namespace Strata.Postgres;

/// <summary>Feature data in PostgreSQL: the offline history and the online values, shared by every server replica.</summary>
/// <param name="connectionString">The database.</param>
public sealed class PostgresFeatureBackend(string connectionString) : IFeatureBackend
{
    /// <inheritdoc />
    public async ValueTask<IOfflineStore> OpenOfflineAsync(string project, CancellationToken cancellationToken = default) =>
        await PostgresOfflineStore.OpenAsync(connectionString, project, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IOnlineStore> OpenOnlineAsync(string project, IReadOnlyList<FeatureViewLayout> views, CancellationToken cancellationToken = default)
    {
        var store = await PostgresOnlineStore.OpenAsync(connectionString, project, cancellationToken).ConfigureAwait(false);
        try
        {
            await store.ApplyViewsAsync(views, cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
