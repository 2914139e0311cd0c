namespace Strata.Features.OnlineStore;

/// <summary>Tuning of the embedded online store, so tests and deployments can trade log length against snapshot cost.</summary>
public sealed record OnlineStoreOptions
{
    /// <summary>Take a snapshot (and rotate the log) once the active log segment exceeds this many bytes; 0 never does.</summary>
    public long SnapshotAfterLogBytes { get; init; } = 64L << 20;
}
