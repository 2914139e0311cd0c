namespace Strata.Testing;

/// <summary>
/// Locates the repository and the peer data in ../shared/peers (real data sets with sources and licences). Tests that
/// need a peer file skip when it is absent; CI runs in a checkout that has it.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string> Root = new(FindRepositoryRoot);

    /// <summary>The repository root (the folder holding Strata.slnx).</summary>
    public static string RepositoryRoot => Root.Value;

    /// <summary>../shared/peers relative to the repository, or STRATA_PEERS when set.</summary>
    public static string PeersFolder =>
        Environment.GetEnvironmentVariable("STRATA_PEERS") is { Length: > 0 } env
            ? env
            : Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "peers"));

    /// <summary>A file under the peers folder.</summary>
    public static string Peer(params string[] parts) => Path.Combine([PeersFolder, .. parts]);

    /// <summary>A file in the repository.</summary>
    public static string InRepository(params string[] parts) => Path.Combine([RepositoryRoot, .. parts]);

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Strata.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException($"no Strata.slnx above {AppContext.BaseDirectory}");
    }
}
