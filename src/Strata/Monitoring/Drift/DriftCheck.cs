namespace Strata.Monitoring.Drift;

/// <summary>The profiles and verdict of a drift check between two data sets.</summary>
/// <param name="Reference">The reference's drift profile.</param>
/// <param name="Current">The current data's drift profile on the reference's layout.</param>
/// <param name="Drift">The verdict.</param>
public sealed record DriftCheckResult(DriftProfile Reference, DriftProfile Current, DatasetDrift Drift);

/// <summary>
/// Drift between two data sets read as batches, in memory bounded by the profiles: the reference is read twice (its
/// quantile sketch fixes the bin edges, then exact counts on them) and the current data once.
/// </summary>
public static class DriftCheck
{
    /// <summary>Runs the check on every column the reference and current data share (or on <paramref name="features"/>).</summary>
    /// <param name="reference">Opens the reference's batches (called twice).</param>
    /// <param name="current">The current data's batches.</param>
    /// <param name="features">Features to test; null for every reference column present in the current data's first batch.</param>
    /// <param name="options">Drift options.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <exception cref="StrataException">No reference rows (<see cref="ErrorCodes.DataEmpty"/>), an unknown feature (<see cref="ErrorCodes.NotFound"/>).</exception>
    public static async Task<DriftCheckResult> RunAsync(
        Func<IAsyncEnumerable<Table>> reference, IAsyncEnumerable<Table> current, IReadOnlyList<string>? features, DriftOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        var profile = await ReferenceProfiles.SketchAsync(reference, cancellationToken).ConfigureAwait(false);
        DriftProfileBuilder? currentBuilder = null;
        DriftLayout? layout = null;
        await foreach (var batch in current.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (layout is null)
            {
                var names = features ?? [.. profile.Columns.Where(c => !c.IsPii && batch.Schema.Contains(c.Name)).Select(c => c.Name)];
                layout = DriftLayout.FromProfile(profile, names);
                currentBuilder = new DriftProfileBuilder(layout);
            }

            currentBuilder!.Add(batch);
        }

        layout ??= DriftLayout.FromProfile(profile, features ?? []);
        var referenceProfile = await ReferenceProfiles.CountAsync(layout, reference(), cancellationToken).ConfigureAwait(false);
        var currentProfile = currentBuilder?.Build() ?? DriftProfile.Empty(layout);
        return new DriftCheckResult(referenceProfile, currentProfile, DriftDetector.Compare(referenceProfile, currentProfile, options));
    }
}
