namespace Strata.Stores;

/// <summary>
/// One applied version of a project's feature definitions: the canonical JSON the engine wrote and its digest, so a
/// re-apply of the same definitions is recognized and every served feature can be traced to the definitions in force.
/// </summary>
/// <param name="Project">The project.</param>
/// <param name="Version">1, 2, … per project.</param>
/// <param name="Digest">SHA-256 (hex) of <paramref name="Definition"/>.</param>
/// <param name="Definition">The canonical JSON of the definitions.</param>
/// <param name="CreatedAt">When it was applied (UTC microseconds).</param>
/// <param name="CreatedBy">Who applied it.</param>
public sealed record FeatureRepositoryVersion(string Project, int Version, string Digest, string Definition, long CreatedAt, string CreatedBy);

/// <summary>
/// The feature registry's records: versioned definitions per project and, per stored view, the materialization
/// watermark (the event time up to which the online store holds the offline store's rows).
/// </summary>
public interface IFeatureRegistryStore
{
    /// <summary>
    /// Stores definitions as the project's next version; when <paramref name="digest"/> equals the latest version's, returns
    /// that version unchanged and writes nothing (applying the same definitions twice is a no-op).
    /// </summary>
    Task<FeatureRepositoryVersion> ApplyAsync(string project, string definitionJson, string digest, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>The latest version, or null when none was applied.</summary>
    Task<FeatureRepositoryVersion?> GetLatestAsync(string project, CancellationToken cancellationToken = default);

    /// <summary>A version, or null.</summary>
    Task<FeatureRepositoryVersion?> GetVersionAsync(string project, int version, CancellationToken cancellationToken = default);

    /// <summary>Every version of a project, newest first.</summary>
    Task<IReadOnlyList<FeatureRepositoryVersion>> ListVersionsAsync(string project, CancellationToken cancellationToken = default);

    /// <summary>A view's materialization watermark (UTC microseconds), or null when it was never materialized.</summary>
    Task<long?> GetWatermarkAsync(string project, string view, CancellationToken cancellationToken = default);

    /// <summary>Moves a view's watermark forward to <paramref name="micros"/>; an earlier or equal value changes nothing.</summary>
    Task SetWatermarkAsync(string project, string view, long micros, Actor actor, CancellationToken cancellationToken = default);
}
