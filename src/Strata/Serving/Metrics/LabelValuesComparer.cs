using System.Diagnostics.CodeAnalysis;

namespace Strata.Serving.Metrics;

/// <summary>
/// Compares label-value arrays by content, and looks them up by a span so that finding an existing child allocates
/// nothing (the array is made only when a new label set is first seen).
/// </summary>
internal sealed class LabelValuesComparer : IEqualityComparer<string[]>, IAlternateEqualityComparer<ReadOnlySpan<string>, string[]>
{
    public static readonly LabelValuesComparer Instance = new();

    public bool Equals(string[]? x, string[]? y) => x is null ? y is null : y is not null && Equals(x.AsSpan(), y);

    public int GetHashCode([DisallowNull] string[] obj) => GetHashCode(obj.AsSpan());

    public bool Equals(ReadOnlySpan<string> alternate, string[] other)
    {
        if (alternate.Length != other.Length)
        {
            return false;
        }

        for (var i = 0; i < alternate.Length; i++)
        {
            if (!string.Equals(alternate[i], other[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    public int GetHashCode(ReadOnlySpan<string> alternate)
    {
        var hash = default(HashCode);
        foreach (var value in alternate)
        {
            hash.Add(string.GetHashCode(value, StringComparison.Ordinal));
        }

        return hash.ToHashCode();
    }

    public string[] Create(ReadOnlySpan<string> alternate) => alternate.ToArray();
}
