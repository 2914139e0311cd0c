using System.Security.Cryptography;
using System.Text;
using Strata.Stores;

namespace Strata.Storage.Sql;

// Feature definitions, versioned per project, and per-view materialization watermarks.
internal sealed partial class SqlMetadataStore
{
    /// <summary>Largest stored definition (canonical JSON), in characters.</summary>
    private const int MaxDefinition = 16 << 20;

    async Task<FeatureRepositoryVersion> IFeatureRegistryStore.ApplyAsync(string project, string definitionJson, string digest, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("project", project);
        ArgumentNullException.ThrowIfNull(definitionJson);
        CheckText("definition", definitionJson, MaxDefinition);
        BlobInfo.CheckDigest(digest);

        // The digest names the text: a mismatch means the caller hashed something else, and change detection would lie.
        if (Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(definitionJson))) != digest)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'digest' is not the SHA-256 of the definition");
        }

        return await WriteIfChangedAsync(actor, "features.apply", project, project, async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            var latest = await db.First<FeatureVersionRow?>(FeatureVersionSelect + " WHERE project = @project ORDER BY version DESC LIMIT 1", new { project }).ConfigureAwait(false);
            if (latest is not null && latest.Digest == digest)
            {
                return (latest.ToVersion(), null, false);
            }

            var created = new FeatureRepositoryVersion(project, (int)(latest?.Version ?? 0) + 1, digest, definitionJson, Now(), actor.Principal);
            await db.Execute(
                "INSERT INTO feature_repository_versions (project, version, digest, definition, created_at, created_by) " +
                "VALUES (@Project, @Version, @Digest, @Definition, @CreatedAt, @CreatedBy)",
                created).ConfigureAwait(false);
            return (created, $"version={created.Version} digest={digest}", true);
        }, cancellationToken).ConfigureAwait(false);
    }

    Task<FeatureRepositoryVersion?> IFeatureRegistryStore.GetLatestAsync(string project, CancellationToken cancellationToken) =>
        ReadAsync(async db => (await db.First<FeatureVersionRow?>(FeatureVersionSelect + " WHERE project = @project ORDER BY version DESC LIMIT 1", new { project }).ConfigureAwait(false))?.ToVersion(), cancellationToken);

    Task<FeatureRepositoryVersion?> IFeatureRegistryStore.GetVersionAsync(string project, int version, CancellationToken cancellationToken) =>
        ReadAsync(async db => (await db.First<FeatureVersionRow?>(FeatureVersionSelect + " WHERE project = @project AND version = @version", new { project, version }).ConfigureAwait(false))?.ToVersion(), cancellationToken);

    async Task<IReadOnlyList<FeatureRepositoryVersion>> IFeatureRegistryStore.ListVersionsAsync(string project, CancellationToken cancellationToken) =>
        await ReadAsync(async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            return (IReadOnlyList<FeatureRepositoryVersion>)(await db.Query<FeatureVersionRow>(FeatureVersionSelect + " WHERE project = @project ORDER BY version DESC", new { project }).ConfigureAwait(false))
                .Select(r => r.ToVersion()).ToList();
        }, cancellationToken).ConfigureAwait(false);

    Task<long?> IFeatureRegistryStore.GetWatermarkAsync(string project, string view, CancellationToken cancellationToken) =>
        ReadAsync(db => db.Scalar<long?>("SELECT watermark FROM feature_watermarks WHERE project = @project AND view_name = @view", new { project, view }), cancellationToken);

    async Task IFeatureRegistryStore.SetWatermarkAsync(string project, string view, long micros, Actor actor, CancellationToken cancellationToken)
    {
        Names.Check("view", view);
        await WriteIfChangedAsync(actor, "features.watermark", project, view, async db =>
        {
            await RequireProjectAsync(db, project).ConfigureAwait(false);
            var current = await db.Scalar<long?>("SELECT watermark FROM feature_watermarks WHERE project = @project AND view_name = @view", new { project, view }).ConfigureAwait(false);
            if (current is { } c && c >= micros)
            {
                return (false, null, false);
            }

            await db.Execute(
                "INSERT INTO feature_watermarks (project, view_name, watermark, updated_at, updated_by) VALUES (@project, @view, @micros, @now, @principal) " +
                "ON CONFLICT (project, view_name) DO UPDATE SET watermark = excluded.watermark, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                new { project, view, micros, now = Now(), principal = actor.Principal }).ConfigureAwait(false);
            return (true, $"watermark={micros}", true);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="WriteAsync{T}"/> for mutations that may turn out to be no-ops (a re-apply, a watermark that would move
    /// back): those roll back and leave no audit entry, so the change sequence only moves when something changed.
    /// With <paramref name="audit"/> false a change commits without an audit entry (derived data such as indexes).
    /// </summary>
    private async Task<T> WriteIfChangedAsync<T>(
        Actor actor, string action, string project, string target, Func<Db, Task<(T Result, string? Details, bool Changed)>> work, CancellationToken cancellationToken, bool audit = true)
    {
        ArgumentNullException.ThrowIfNull(actor);
        Names.Check("principal", actor.Principal, NameKind.Key);
        var connection = await _dialect.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await _dialect.BeginWriteAsync(connection, cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var db = new Db(_dialect, connection, transaction, cancellationToken);
                var (result, details, changed) = await work(db).ConfigureAwait(false);
                if (!changed)
                {
                    await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                    return result;
                }

                if (audit)
                {
                    await AppendAuditAsync(db, actor, action, project, target, details).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
        }
    }

    private const string FeatureVersionSelect =
        "SELECT project AS Project, version AS Version, digest AS Digest, definition AS Definition, created_at AS CreatedAt, created_by AS CreatedBy FROM feature_repository_versions";

    private sealed class FeatureVersionRow
    {
        public string Project { get; init; } = "";

        public long Version { get; init; }

        public string Digest { get; init; } = "";

        public string Definition { get; init; } = "";

        public long CreatedAt { get; init; }

        public string CreatedBy { get; init; } = "";

        public FeatureRepositoryVersion ToVersion() => new(Project, (int)Version, Digest, Definition, CreatedAt, CreatedBy);
    }
}
