using Strata.Artifacts;
using Strata.Stores;

namespace Strata.Storage;

/// <summary>
/// Strata's state folder on the embedded default: <c>strata.db</c> (metadata), <c>objects/</c> (content-addressed
/// artifacts), <c>keys/</c> (secrets, readable by the owner only). Chosen by <c>--home</c>, <c>STRATA_HOME</c>, or
/// <c>./.strata</c>.
/// </summary>
public sealed class StrataHome : IAsyncDisposable
{
    private StrataHome(string path, IMetadataStore metadata, FileArtifactStore artifacts)
    {
        Path = path;
        Metadata = metadata;
        Artifacts = artifacts;
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>The metadata store.</summary>
    public IMetadataStore Metadata { get; }

    /// <summary>The artifact store.</summary>
    public FileArtifactStore Artifacts { get; }

    /// <summary>The folder for secrets (created with mode 0700).</summary>
    public string KeysFolder => System.IO.Path.Combine(Path, "keys");

    /// <summary>
    /// Opens a home folder, creating its layout; <paramref name="metadata"/> replaces the embedded SQLite store (e.g. a
    /// PostgreSQL store shared by replicas).
    /// </summary>
    public static async Task<StrataHome> OpenAsync(string path, IMetadataStore? metadata = null, TimeProvider? clock = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(full);
        var keys = System.IO.Path.Combine(full, "keys");
        if (!Directory.Exists(keys))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(keys);
            }
            else
            {
                Directory.CreateDirectory(keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        var artifacts = new FileArtifactStore(System.IO.Path.Combine(full, "objects"));
        artifacts.CleanIncoming(TimeSpan.FromHours(1));
        metadata ??= await SqliteMetadataStore.OpenAsync(System.IO.Path.Combine(full, "strata.db"), clock, cancellationToken).ConfigureAwait(false);
        return new StrataHome(full, metadata, artifacts);
    }

    /// <summary>Closes the metadata store.</summary>
    public ValueTask DisposeAsync() => Metadata.DisposeAsync();
}
