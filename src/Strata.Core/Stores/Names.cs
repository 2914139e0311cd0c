using System.Text;

namespace Strata.Stores;

/// <summary>What a user-supplied name identifies, which decides the characters it may hold.</summary>
public enum NameKind
{
    /// <summary>Projects, experiments, models, aliases, roles' principals: one ASCII token.</summary>
    Identifier,
    /// <summary>Parameter, metric and tag keys: a token that may also hold '/' (MLflow-style grouping, e.g. "eval/auc").</summary>
    Key,
    /// <summary>Logical artifact names within a run: '/'-separated identifier segments.</summary>
    ArtifactPath,
}

/// <summary>
/// The rules every user-supplied name passes before it is stored. Names are metadata only — never part of a file-system
/// path — and they are also kept to a small alphabet, so traversal tricks (<c>../</c>, <c>%2e%2e%2f</c>,
/// <c>..;/</c>, <c>//proc/self/root</c>), control characters and Unicode look-alikes are refused outright with an
/// error naming the field, and two different names can never collide after URL-decoding or normalization.
/// </summary>
public static class Names
{
    /// <summary>Longest identifier.</summary>
    public const int MaxIdentifier = 64;

    /// <summary>Longest key.</summary>
    public const int MaxKey = 250;

    /// <summary>Longest artifact path.</summary>
    public const int MaxArtifactPath = 512;

    /// <summary>Checks a name; returns it unchanged when valid.</summary>
    /// <exception cref="StrataException"><see cref="ErrorCodes.ArgumentInvalid"/> naming <paramref name="field"/> and the rule broken.</exception>
    public static string Check(string field, string? value, NameKind kind = NameKind.Identifier)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw Invalid(field, "is empty");
        }

        var max = kind switch { NameKind.Identifier => MaxIdentifier, NameKind.Key => MaxKey, _ => MaxArtifactPath };
        if (value.Length > max)
        {
            throw Invalid(field, $"is {value.Length} characters long; the limit is {max}");
        }

        if (kind == NameKind.ArtifactPath)
        {
            foreach (var segment in value.Split('/'))
            {
                CheckToken(field, segment, allowSlash: false, value);
            }

            return value;
        }

        CheckToken(field, value, allowSlash: kind == NameKind.Key, value);
        return value;
    }

    /// <summary>True when a name passes <see cref="Check"/>.</summary>
    public static bool IsValid(string? value, NameKind kind = NameKind.Identifier)
    {
        try
        {
            Check("name", value, kind);
            return true;
        }
        catch (StrataException)
        {
            return false;
        }
    }

    private static void CheckToken(string field, string token, bool allowSlash, string whole)
    {
        if (token.Length == 0)
        {
            throw Invalid(field, $"'{Show(whole)}' has an empty segment (a leading, trailing or doubled '/')");
        }

        if (token is "." or ".." || token.Contains("..", StringComparison.Ordinal))
        {
            throw Invalid(field, $"'{Show(whole)}' contains '..'");
        }

        if (!char.IsAsciiLetterOrDigit(token[0]))
        {
            throw Invalid(field, $"'{Show(whole)}' must start with a letter or digit");
        }

        foreach (var ch in token)
        {
            var ok = char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.' || (allowSlash && ch == '/');
            if (!ok)
            {
                throw Invalid(field, $"'{Show(whole)}' holds {Describe(ch)}; use letters, digits, '-', '_' and '.'{(allowSlash ? " and '/'" : "")}");
            }
        }

        if (allowSlash && (token.StartsWith('/') || token.EndsWith('/') || token.Contains("//", StringComparison.Ordinal)))
        {
            throw Invalid(field, $"'{Show(whole)}' has an empty segment (a leading, trailing or doubled '/')");
        }
    }

    private static string Describe(char ch) => ch switch
    {
        '%' => "'%' (names are never URL-decoded)",
        '/' => "'/'",
        '\\' => "'\\'",
        ';' => "';'",
        _ when char.IsControl(ch) => $"a control character (U+{(int)ch:X4})",
        _ when ch > 127 => $"a non-ASCII character (U+{(int)ch:X4})",
        _ => $"'{ch}'",
    };

    private static string Show(string value)
    {
        var sb = new StringBuilder();
        foreach (var ch in value.Length > 80 ? value[..80] : value)
        {
            sb.Append(char.IsControl(ch) ? $"\\u{(int)ch:x4}" : ch.ToString());
        }

        return value.Length > 80 ? sb + "…" : sb.ToString();
    }

    private static StrataException Invalid(string field, string problem) =>
        new(ErrorCodes.ArgumentInvalid, $"field '{field}' {problem}");
}
