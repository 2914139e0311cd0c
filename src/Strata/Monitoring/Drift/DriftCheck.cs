using Strata.Data.Profiling;

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
        ProfileBuilder? sketch = null;
        await foreach (var batch in reference().WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            sketch ??= new ProfileBuilder(batch.Schema);
            sketch.Add(batch);
        }

        if (sketch is null || sketch.RowCount == 0)
        {
            throw new StrataException(ErrorCodes.DataEmpty, "the reference has no rows");
        }

        var profile = sketch.Build();
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
        var referenceBuilder = new DriftProfileBuilder(layout);
        await referenceBuilder.AddAsync(reference(), cancellationToken).ConfigureAwait(false);
        var referenceProfile = referenceBuilder.Build();
        var currentProfile = currentBuilder?.Build() ?? DriftProfile.Empty(layout);
        return new DriftCheckResult(referenceProfile, currentProfile, DriftDetector.Compare(referenceProfile, currentProfile, options));
    }
}
