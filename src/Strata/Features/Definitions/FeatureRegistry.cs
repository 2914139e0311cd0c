using Strata.Stores;

namespace Strata.Features.Definitions;

/// <summary>
/// Plans and applies a project's feature definitions against the metadata store: a plan is computed from the stored
/// version before anything is written, and apply refuses breaking changes unless forced, so a served model never finds
/// its features retyped or gone without someone having said so.
/// </summary>
public sealed class FeatureRegistry(IMetadataStore store)
{
    /// <summary>The changes applying <paramref name="repository"/> to the project would make.</summary>
    /// <exception cref="StrataException">The definitions are invalid, or the stored ones cannot be read.</exception>
    public async Task<FeaturePlan> PlanAsync(string project, FeatureRepository repository, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repository);
        Names.Check("project", project);
        repository.Validate();
        var latest = await store.Features.GetLatestAsync(project, cancellationToken).ConfigureAwait(false);
        var current = latest is null ? FeatureRepository.Empty : FeatureRepository.FromJson(latest.Definition);
        var changes = FeaturePlan.Diff(current, repository);
        return new FeaturePlan(project, latest?.Version, latest?.Digest, repository.ComputeDigest(), changes);
    }

    /// <summary>
    /// Stores the definitions as the project's next version (or returns the latest when nothing changed).
    /// </summary>
    /// <exception cref="StrataException">
    /// <see cref="ErrorCodes.Conflict"/> listing the breaking changes when there are some and <paramref name="force"/> is
    /// false; invalid definitions; an unknown project.
    /// </exception>
    public async Task<FeatureRepositoryVersion> ApplyAsync(string project, FeatureRepository repository, bool force, Actor actor, CancellationToken cancellationToken = default)
    {
        var plan = await PlanAsync(project, repository, cancellationToken).ConfigureAwait(false);
        if (plan.Breaking is { Count: > 0 } breaking && !force)
        {
            throw new StrataException(
                ErrorCodes.Conflict,
                $"the definitions make {breaking.Count} breaking change{(breaking.Count == 1 ? "" : "s")} (apply with force to make them anyway):\n" +
                string.Join("\n", breaking.Select(c => "  " + c)));
        }

        // NOTE: breaking changes are checked against the version the plan read; another apply landing between the plan and
        // this write is not re-checked (applies are rare and made by people, and both are in the audit log).
        var json = repository.ToCanonicalJson();
        return await store.Features.ApplyAsync(project, json, FeatureRepository.DigestOf(json), actor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The project's current definitions, or <see cref="FeatureRepository.Empty"/> when none were applied.</summary>
    public async Task<FeatureRepository> GetAsync(string project, CancellationToken cancellationToken = default)
    {
        var latest = await store.Features.GetLatestAsync(project, cancellationToken).ConfigureAwait(false);
        return latest is null ? FeatureRepository.Empty : FeatureRepository.FromJson(latest.Definition);
    }
}
