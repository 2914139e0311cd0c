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
        // The current data's first batch says which reference columns the check can compare.
        DriftProfileBuilder? currentBuilder = null;
        DriftLayout? layout = null;
        var pending = new List<Table>();
        var enumerator = current.GetAsyncEnumerator(cancellationToken);
        await using (enumerator.ConfigureAwait(false))
        {
            IReadOnlyList<string>? names = features;
            if (await enumerator.MoveNextAsync().ConfigureAwait(false))
            {
                pending.Add(enumerator.Current);
            }

            var sketch = new DriftLayoutBuilder(names ?? (pending.Count > 0 ? pending[0].Schema.Names.ToList() : null));
            var common = names is null && pending.Count > 0 ? pending[0].Schema : null;
            await foreach (var batch in reference().WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (common is not null)
                {
                    sketch = new DriftLayoutBuilder([.. common.Where(f => !f.IsPii && batch.Schema.Contains(f.Name) && !batch.Schema[f.Name].IsPii).Select(f => f.Name)]);
                    common = null;
                }

                sketch.Add(batch);
            }

            if (sketch.RowCount == 0)
            {
                throw new StrataException(ErrorCodes.DataEmpty, "the reference has no rows");
            }

            layout = sketch.Build();
            currentBuilder = new DriftProfileBuilder(layout);
            foreach (var batch in pending)
            {
                currentBuilder.Add(batch);
            }

            while (await enumerator.MoveNextAsync().ConfigureAwait(false))
            {
                currentBuilder.Add(enumerator.Current);
            }
        }

        var referenceProfile = await ReferenceProfiles.CountAsync(layout, reference(), cancellationToken).ConfigureAwait(false);
        var currentProfile = currentBuilder.Build();
        return new DriftCheckResult(referenceProfile, currentProfile, DriftDetector.Compare(referenceProfile, currentProfile, options));
    }
}
