using System.Globalization;
using Strata.Security;
using Strata.Stores;

namespace Strata.Registry;

// The training data's reference profile, stored with a model version as a content-addressed blob that a lineage artifact
// of the project refers to (so garbage collection keeps it as long as the record exists).
public sealed partial class RegistryService
{
    /// <summary>The lineage artifact type of reference profiles.</summary>
    public const string ReferenceProfileType = "reference_profile";

    /// <summary>Stores (or replaces) the reference profile of a model version; returns the lineage artifact that refers to it.</summary>
    /// <exception cref="StrataException">No such version (<see cref="ErrorCodes.NotFound"/>), not allowed (<see cref="ErrorCodes.Forbidden"/>).</exception>
    public async Task<LineageArtifact> PutReferenceProfileAsync(Caller caller, string project, string model, int version, Stream profile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(profile);
        Require(caller, project, Role.Editor);
        await GetVersionAsync(caller, project, model, version, cancellationToken).ConfigureAwait(false);
        var blob = await _artifacts.PutAsync(profile, _options.MaxArtifactBytes, cancellationToken).ConfigureAwait(false);
        var properties = new Dictionary<string, string> { ["model"] = model, ["version"] = version.ToString(CultureInfo.InvariantCulture) };
        return await _metadata.Lineage.PutArtifactAsync(
            new LineageArtifact(ReferenceProfileId(model, version), project, ReferenceProfileType, $"{model}@{version}", blob.Digest, properties, 0),
            caller.Actor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens the reference profile stored with a model version.</summary>
    /// <exception cref="StrataException">The version has none (<see cref="ErrorCodes.NotFound"/>, saying how to add one).</exception>
    public async Task<Stream> OpenReferenceProfileAsync(Caller caller, string project, string model, int version, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        await GetVersionAsync(caller, project, model, version, cancellationToken).ConfigureAwait(false);
        var artifact = await _metadata.Lineage.GetArtifactAsync(project, ReferenceProfileId(model, version), cancellationToken).ConfigureAwait(false);
        if (artifact?.Digest is not { } digest)
        {
            throw NotFound($"model '{model}' version {version} has no reference profile; store one from its training data at registration");
        }

        return await _artifacts.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
    }

    private static string ReferenceProfileId(string model, int version) => $"reference-{model}-{version}";
}
