using System.Text;
using System.Text.Json;
using Strata.Api;
using Strata.Artifacts;

namespace Strata.Data.Profiling;

public sealed partial class TableProfile
{
    /// <summary>The format tag written in and required of profile JSON.</summary>
    public const string FormatVersion = "strata.profile/1";

    /// <summary>The largest profile JSON that <see cref="FromJson(ReadOnlySpan{byte})"/> and <see cref="LoadAsync"/> accept.</summary>
    public const int MaxJsonBytes = 256 << 20;

    /// <summary>
    /// The profile as UTF-8 JSON: every sketch's state (so a loaded profile merges and answers queries exactly as this
    /// one), and a derived <c>summary</c> per column for readers, which loading ignores. Doubles round-trip exactly.
    /// </summary>
    public byte[] ToUtf8Json(bool indented = false) => JsonSerializer.SerializeToUtf8Bytes(ProfileJson.ToDocument(this), Context(indented).ProfileDocument);

    /// <summary>The profile as JSON text (see <see cref="ToUtf8Json"/>).</summary>
    public string ToJson(bool indented = false) => Encoding.UTF8.GetString(ToUtf8Json(indented));

    /// <summary>Reads a profile from JSON text.</summary>
    /// <exception cref="StrataException">Malformed JSON, another format version or inconsistent sketch state
    /// (<see cref="ErrorCodes.DataMalformed"/>, naming the field), or too large (<see cref="ErrorCodes.DataLimit"/>).</exception>
    public static TableProfile FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if ((long)json.Length > MaxJsonBytes)
        {
            throw TooLarge(json.Length);
        }

        return FromJson(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>Reads a profile from UTF-8 JSON.</summary>
    /// <exception cref="StrataException">Malformed JSON, another format version or inconsistent sketch state
    /// (<see cref="ErrorCodes.DataMalformed"/>, naming the field), or too large (<see cref="ErrorCodes.DataLimit"/>).</exception>
    public static TableProfile FromJson(ReadOnlySpan<byte> utf8Json)
    {
        if (utf8Json.Length > MaxJsonBytes)
        {
            throw TooLarge(utf8Json.Length);
        }

        ProfileDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(utf8Json, ProfileJsonContext.Default.ProfileDocument);
        }
        catch (JsonException e)
        {
            throw new StrataException(ErrorCodes.DataMalformed, JsonErrors.Describe(e, "the profile", ProfileJsonContext.Default.ProfileDocument), e);
        }

        return ProfileJson.FromDocument(document ?? throw new StrataException(ErrorCodes.DataMalformed, "profile JSON: the document is null"));
    }

    /// <summary>Saves the profile as JSON, atomically (a crash leaves the old file or the new one).</summary>
    public Task SaveAsync(string path, CancellationToken cancellationToken = default)
    {
        var document = ProfileJson.ToDocument(this);
        return DurableFile.WriteAsync(
            path, (stream, ct) => JsonSerializer.SerializeAsync(stream, document, ProfileJsonContext.Default.ProfileDocument, ct), cancellationToken);
    }

    /// <summary>Loads a profile saved with <see cref="SaveAsync"/>.</summary>
    /// <exception cref="StrataException">No such file (<see cref="ErrorCodes.NotFound"/>), or its content is invalid
    /// (see <see cref="FromJson(ReadOnlySpan{byte})"/>).</exception>
    public static async Task<TableProfile> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                if (stream.Length > MaxJsonBytes)
                {
                    throw TooLarge(stream.Length);
                }

                bytes = new byte[stream.Length];
                await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StrataException(ErrorCodes.NotFound, $"no profile at '{path}'", e);
        }

        return FromJson(bytes);
    }

    private static ProfileJsonContext Context(bool indented) => indented ? IndentedContext.Value : ProfileJsonContext.Default;

    private static readonly Lazy<ProfileJsonContext> IndentedContext =
        new(() => new ProfileJsonContext(new JsonSerializerOptions(ProfileJsonContext.Default.Options) { WriteIndented = true }));

    private static StrataException TooLarge(long bytes) =>
        new(ErrorCodes.DataLimit, $"profile JSON of {bytes} bytes exceeds the limit of {MaxJsonBytes} bytes");
}
