using Strata.Security;
using Strata.Stores;

namespace Strata.Registry;

/// <summary>Limits the registry service enforces on what callers send.</summary>
public sealed record RegistryOptions
{
    /// <summary>Largest artifact (run file or model package) accepted, in bytes; default 1 GiB.</summary>
    public long MaxArtifactBytes { get; init; } = 1L << 30;
}

/// <summary>
/// Tracking, registry, lineage, audit and key management with access control: the one place both the server and the
/// command line go through, so a rule (who may move a protected alias, who may read a project) holds on every path.
/// Every method takes the <see cref="Caller"/>, checks its role in the project first, and passes the request id on to
/// the audit log.
/// </summary>
public sealed partial class RegistryService
{
    private readonly IMetadataStore _metadata;
    private readonly IArtifactStore _artifacts;
    private readonly RegistryOptions _options;
    private readonly TimeProvider _clock;

    /// <summary>Creates the service over a metadata and an artifact store.</summary>
    public RegistryService(IMetadataStore metadata, IArtifactStore artifacts, RegistryOptions? options = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(artifacts);
        _metadata = metadata;
        _artifacts = artifacts;
        _options = options ?? new RegistryOptions();
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The limits in force.</summary>
    public RegistryOptions Options => _options;

    /// <summary>The metadata store (for health checks).</summary>
    public IMetadataStore Metadata => _metadata;

    private static void Require(Caller caller, string project, Role minimum)
    {
        ArgumentNullException.ThrowIfNull(caller);
        Names.Check("project", project);
        AccessPolicy.Require(caller.Principal, project, minimum);
    }

    private static StrataException NotFound(string what) => new(ErrorCodes.NotFound, what);

    private long Now() => Timestamp.FromDateTimeOffset(_clock.GetUtcNow());
}
