using Strata.Monitoring.Drift;
using Strata.Registry;
using Strata.Security;

namespace Strata.Monitoring;

/// <summary>
/// The reference a model version is monitored against: the drift profile of its training data (inputs, and predictions
/// when the data carries them), built at registration and stored with the version in the registry.
/// </summary>
public static class ReferenceProfiles
{
    /// <summary>
    /// Builds a reference from training data read as batches (twice: the quantile sketch fixes the bin edges, then exact
    /// counts on them), on every column or on <paramref name="features"/>.
    /// </summary>
    /// <exception cref="StrataException">No rows (<see cref="ErrorCodes.DataEmpty"/>), an unknown feature (<see cref="ErrorCodes.NotFound"/>).</exception>
    public static async Task<DriftProfile> BuildAsync(Func<IAsyncEnumerable<Table>> data, IReadOnlyList<string>? features = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var layout = new DriftLayoutBuilder(features);
        await foreach (var batch in data().WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            layout.Add(batch);
        }

        if (layout.RowCount == 0)
        {
            throw new StrataException(ErrorCodes.DataEmpty, "the reference data has no rows");
        }

        return await CountAsync(layout.Build(), data(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores <paramref name="reference"/> with a model version.</summary>
    public static async Task SaveAsync(RegistryService registry, Caller caller, string project, string model, int version, DriftProfile reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(reference);
        using var json = new MemoryStream(reference.ToUtf8Json(), writable: false);
        await registry.PutReferenceProfileAsync(caller, project, model, version, json, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads the reference stored with a model version.</summary>
    /// <exception cref="StrataException">The version has none (<see cref="ErrorCodes.NotFound"/>).</exception>
    public static async Task<DriftProfile> LoadAsync(RegistryService registry, Caller caller, string project, string model, int version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var stream = await registry.OpenReferenceProfileAsync(caller, project, model, version, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return DriftProfile.FromJson(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        }
    }

    /// <summary>
    /// The reference stored with a version, or with the newest version that has one when <paramref name="version"/> is
    /// null; null when there is none (a monitor leaves such versions' rows out).
    /// </summary>
    public static async Task<DriftProfile?> FindAsync(RegistryService registry, Caller caller, string project, string model, int? version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        IEnumerable<int> candidates;
        if (version is { } v)
        {
            candidates = [v];
        }
        else
        {
            try
            {
                candidates = (await registry.ListVersionsAsync(caller, project, model, cancellationToken).ConfigureAwait(false)).Select(x => x.Version).OrderDescending();
            }
            catch (StrataException e) when (e.Code == ErrorCodes.NotFound)
            {
                return null;
            }
        }

        foreach (var candidate in candidates)
        {
            try
            {
                return await LoadAsync(registry, caller, project, model, candidate, cancellationToken).ConfigureAwait(false);
            }
            catch (StrataException e) when (e.Code == ErrorCodes.NotFound)
            {
                // no reference stored with this version: try the next older one
            }
        }

        return null;
    }

    /// <summary>Exact counts of all batches on a layout.</summary>
    internal static async Task<DriftProfile> CountAsync(DriftLayout layout, IAsyncEnumerable<Table> data, CancellationToken cancellationToken)
    {
        var builder = new DriftProfileBuilder(layout);
        await builder.AddAsync(data, cancellationToken).ConfigureAwait(false);
        return builder.Build();
    }
}
