using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Strata.Stores;

namespace Strata.Security;

/// <summary>A key as shown to its owner once: the token to send, and what is stored (the secret's hash only).</summary>
public sealed record IssuedKey(ApiKey Key, string Token);

/// <summary>
/// API key tokens: <c>strata_&lt;id&gt;_&lt;secret&gt;</c>, where the id is 8 random bytes and the secret 32 random bytes,
/// both lower-case hex. The id finds the stored key; only the secret's SHA-256 is stored, and it is compared in constant
/// time. A secret of 256 random bits needs no slow password hash: there is nothing to guess.
/// </summary>
public static class ApiKeys
{
    /// <summary>Every token starts with this, so leaked keys are easy to scan for.</summary>
    public const string Prefix = "strata_";

    private const int IdBytes = 8;
    private const int SecretBytes = 32;

    // Compared against when a key id is unknown, so a miss costs the same time as a wrong secret.
    private static readonly byte[] Decoy = SHA256.HashData("strata-decoy"u8);

    /// <summary>Makes a new key for <paramref name="principal"/> with <paramref name="role"/> in <paramref name="project"/> ("*" for all).</summary>
    public static (ApiKey Key, string Token) Generate(string principal, string project, Role role, string? description, string createdBy, long createdAt)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdBytes));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SecretBytes));
        var key = new ApiKey(id, principal, project, role, Hash(secret), createdAt, createdBy, false, description);
        return (key, Prefix + id + "_" + secret);
    }

    /// <summary>The stored form of a secret: its SHA-256, lower-case hex.</summary>
    public static string Hash(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
    }

    /// <summary>Splits a token into its id and secret; false for anything not shaped like a Strata key.</summary>
    public static bool TryParse(string? token, [NotNullWhen(true)] out string? id, [NotNullWhen(true)] out string? secret)
    {
        id = null;
        secret = null;
        if (token is null || token.Length != Prefix.Length + (2 * IdBytes) + 1 + (2 * SecretBytes) || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var body = token.AsSpan(Prefix.Length);
        if (body[2 * IdBytes] != '_' || !IsHex(body[..(2 * IdBytes)]) || !IsHex(body[((2 * IdBytes) + 1)..]))
        {
            return false;
        }

        id = body[..(2 * IdBytes)].ToString();
        secret = body[((2 * IdBytes) + 1)..].ToString();
        return true;
    }

    /// <summary>True when <paramref name="secret"/> hashes to <paramref name="storedHash"/>; the comparison takes the same time wherever they differ.</summary>
    public static bool Verify(string secret, string? storedHash)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var actual = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
        var expected = storedHash is { Length: 64 } && IsHex(storedHash) ? Convert.FromHexString(storedHash) : Decoy;
        return CryptographicOperations.FixedTimeEquals(actual, expected) && !ReferenceEquals(expected, Decoy);
    }

    /// <summary>
    /// Finds the principal a bearer token stands for.
    /// </summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.Unauthorized"/> for a missing, malformed, unknown, wrong or revoked key; the message never says which.</exception>
    public static async Task<Principal> AuthenticateAsync(IApiKeyStore keys, string? token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (string.IsNullOrEmpty(token))
        {
            throw new StrataException(ErrorCodes.Unauthorized, "an API key is required: send 'Authorization: Bearer <key>' (create one with `strata auth create-key`)");
        }

        if (TryParse(token, out var id, out var secret))
        {
            var key = await keys.GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (Verify(secret, key?.SecretHash) && key is { Revoked: false })
            {
                return Principal.FromKey(key);
            }
        }
        else
        {
            // Same work as a lookup miss, so malformed and unknown keys cannot be told apart by timing.
            Verify(token, null);
        }

        throw new StrataException(ErrorCodes.Unauthorized, "the API key is not valid (unknown, malformed or revoked)");
    }

    /// <summary>Reads the token from an <c>Authorization</c> header value (<c>Bearer &lt;key&gt;</c>); null when there is none.</summary>
    public static string? FromAuthorizationHeader(string? header)
    {
        const string scheme = "Bearer ";
        if (string.IsNullOrWhiteSpace(header))
        {
            return null;
        }

        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : "";
    }

    private static bool IsHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
