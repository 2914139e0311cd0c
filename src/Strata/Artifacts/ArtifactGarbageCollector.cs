using Strata.Stores;

namespace Strata.Artifacts;

/// <summary>What a collection did.</summary>
public sealed record GarbageReport(int Blobs, int Referenced, int Deleted, long BytesFreed, int KeptForGrace);

/// <summary>
/// Deletes blobs nothing refers to. Safe against concurrent writers: a writer stores its blob before it records the
/// reference, so a blob written (or re-put) within the grace period is kept even when no reference is visible yet.
/// </summary>
public static class ArtifactGarbageCollector
{
    /// <summary>Collects; with <paramref name="dryRun"/> only counts.</summary>
    public static async Task<GarbageReport> CollectAsync(
        IArtifactStore artifacts,
        IMetadataStore metadata,
        TimeSpan grace,
        TimeSpan retention,
        TimeProvider? clock = null,
        bool dryRun = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        ArgumentNullException.ThrowIfNull(metadata);
        var now = (clock ?? TimeProvider.System).GetUtcNow();

        // List first, then read references: any reference committed before the listing is seen, and anything written
        // after the listing is not a candidate at all.
        var blobs = new List<(BlobInfo Blob, DateTimeOffset Written)>();
        await foreach (var blob in artifacts.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            blobs.Add(blob);
        }

        var referenced = await metadata.GetReferencedDigestsAsync(Timestamp.FromDateTimeOffset(now - retention), cancellationToken).ConfigureAwait(false);
        int deleted = 0, kept = 0, live = 0;
        long freed = 0;
        foreach (var (blob, written) in blobs)
        {
            if (referenced.Contains(blob.Digest))
            {
                live++;
            }
            else if (now - written < grace)
            {
                kept++;
            }
            else
            {
                if (!dryRun)
                {
                    await artifacts.DeleteAsync(blob.Digest, cancellationToken).ConfigureAwait(false);
                }

                deleted++;
                freed += blob.Size;
            }
        }

        return new GarbageReport(blobs.Count, live, deleted, freed, kept);
    }
}
