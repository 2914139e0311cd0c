namespace Strata.Stores;

/// <summary>A registered model: a name under which versions are kept, with aliases pointing at them.</summary>
public sealed record RegisteredModel(
    string Project,
    string Name,
    string? Description,
    long CreatedAt,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyList<string> ProtectedAliases,
    bool Archived);

/// <summary>Where a model version is in its life.</summary>
public enum VersionStatus
{
    /// <summary>Usable.</summary>
    Ready,
    /// <summary>Kept for the record; aliases cannot move to it.</summary>
    Archived,
    /// <summary>Deleted; its package is removed after the retention period.</summary>
    Deleted,
}

/// <summary>What to create a model version from: a package already in the artifact store, and what is known about it.</summary>
public sealed record ModelVersionSpec
{
    /// <summary>SHA-256 of the model package in the artifact store.</summary>
    public required string ArtifactDigest { get; init; }

    /// <summary>Size of the package in bytes.</summary>
    public required long ArtifactSize { get; init; }

    /// <summary>The run that trained it, if any.</summary>
    public string? RunId { get; init; }

    /// <summary>The model's signature as JSON (inputs and outputs).</summary>
    public string? Signature { get; init; }

    /// <summary>The learner (gbdt, logistic, xgboost…).</summary>
    public string? Learner { get; init; }

    /// <summary>Metrics at registration (a snapshot, not a link).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>Free text.</summary>
    public string? Description { get; init; }

    /// <summary>Tags.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// What a model reference names: <c>NAME@ALIAS</c> (where the alias points now), <c>NAME/VERSION</c>, or <c>NAME</c> (the
/// newest version); a leading <c>model:</c> is allowed. Parsed once here so the engine and the CLI read it alike.
/// </summary>
public sealed record ModelReference(string Model, string? Alias, int? Version)
{
    /// <summary>Parses a reference.</summary>
    /// <exception cref="StrataException">A version after '/' that is not a number.</exception>
    public static ModelReference Parse(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var text = reference.StartsWith("model:", StringComparison.Ordinal) ? reference["model:".Length..] : reference;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at > 0)
        {
            return new ModelReference(text[..at], text[(at + 1)..], null);
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            return int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number)
                ? new ModelReference(text[..slash], null, number)
                : throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'model' '{reference}': the version after '/' must be a number");
        }

        return new ModelReference(text, null, null);
    }
}

/// <summary>A version of a registered model.</summary>
public sealed record ModelVersion(
    string Project,
    string Model,
    int Version,
    string? RunId,
    string ArtifactDigest,
    long ArtifactSize,
    string? Signature,
    string? Learner,
    IReadOnlyDictionary<string, double> Metrics,
    string? Description,
    IReadOnlyDictionary<string, string> Tags,
    VersionStatus Status,
    long CreatedAt,
    string CreatedBy);

/// <summary>An alias (champion, challenger, any name) and the version it points at now.</summary>
public sealed record ModelAlias(string Project, string Model, string Alias, int Version, bool Protected, long UpdatedAt, string UpdatedBy);

/// <summary>One move of an alias: who moved it, when, from which version to which, why, and the approval behind it.</summary>
public sealed record AliasMove(
    string Project,
    string Model,
    string Alias,
    long Sequence,
    int? FromVersion,
    int? ToVersion,
    string Principal,
    long Time,
    string? Reason,
    string? ApprovalId);

/// <summary>Where a promotion request stands.</summary>
public enum ApprovalStatus
{
    /// <summary>Waiting for a deployer.</summary>
    Pending,
    /// <summary>Approved: the alias moved.</summary>
    Approved,
    /// <summary>Rejected: nothing moved.</summary>
    Rejected,
    /// <summary>Withdrawn, or overtaken by another move.</summary>
    Cancelled,
}

/// <summary>A request to point a protected alias at a version, and its decision.</summary>
public sealed record PromotionRequest(
    string Id,
    string Project,
    string Model,
    string Alias,
    int Version,
    string RequestedBy,
    long RequestedAt,
    string? Reason,
    ApprovalStatus Status,
    string? DecidedBy,
    long? DecidedAt,
    string? DecisionReason);
