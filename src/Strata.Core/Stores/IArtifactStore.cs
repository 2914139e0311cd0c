namespace Strata.Stores;

/// <summary>A stored blob: its SHA-256 (lower-case hex) and size.</summary>
public sealed record BlobInfo(string Digest, long Size)
{
    /// <summary>True for a blob name: 64 lower-case hex characters (a SHA-256), the only form that may become a path.</summary>
    public static bool IsDigest(string? digest) =>
        digest is { Length: 64 } && digest.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    /// <summary>Refuses anything but a blob name, naming the field.</summary>
    /// <exception cref="StrataException">Not 64 lower-case hex characters.</exception>
    public static void CheckDigest(string? digest, string field = "digest")
    {
        if (!IsDigest(digest))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field '{field}' must be 64 lower-case hex characters (SHA-256)");
        }
    }
}

/// <summary>
/// Content-addressed blobs: a blob's name is the SHA-256 of its bytes, so duplicate content is stored once and every read
/// can be verified. Names users give artifacts live only in metadata; nothing a caller supplies becomes a path.
/// </summary>
public interface IArtifactStore
{
    /// <summary>Stores a stream (crash-safely), up to <paramref name="maxBytes"/>; returns its digest and size.</summary>
    Task<BlobInfo> PutAsync(Stream content, long maxBytes, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a blob for reading; the stream verifies the digest as it is read and throws at the end on a mismatch, so a
    /// corrupted blob is never served as good.
    /// </summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.NotFound"/> for an unknown digest.</exception>
    Task<Stream> OpenReadAsync(string digest, CancellationToken cancellationToken = default);

    /// <summary>The blob's size, or null when it is not stored.</summary>
    Task<long?> GetSizeAsync(string digest, CancellationToken cancellationToken = default);

    /// <summary>Every stored blob with its last write time (for garbage collection).</summary>
    IAsyncEnumerable<(BlobInfo Blob, DateTimeOffset Written)> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a blob (garbage collection only).</summary>
    Task DeleteAsync(string digest, CancellationToken cancellationToken = default);
}
