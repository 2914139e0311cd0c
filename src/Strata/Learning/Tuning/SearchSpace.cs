using System.Globalization;

namespace Strata.Learning.Tuning;

/// <summary>How a dimension of a search space draws its values.</summary>
public enum DimensionKind
{
    /// <summary>A real number, evenly over [low, high].</summary>
    Uniform,
    /// <summary>A positive real number, evenly over [log low, log high] (learning rates, regularization).</summary>
    LogUniform,
    /// <summary>An integer in [low, high].</summary>
    Integer,
    /// <summary>One of a list of values.</summary>
    Categorical,
}

/// <summary>
/// One learner option to search over. Every draw maps a point u in [0, 1) to a value, so samplers (random, TPE) work in
/// the unit interval whatever the dimension's kind.
/// </summary>
public sealed record Dimension(string Name, DimensionKind Kind, double Low, double High, IReadOnlyList<string> Choices)
{
    /// <summary>The option's value (invariant text, as learners parse settings) at <paramref name="u"/> in [0, 1).</summary>
    public string ValueAt(double u)
    {
        u = Math.Clamp(u, 0, 1 - 1e-12);
        return Kind switch
        {
            DimensionKind.Uniform => (Low + (u * (High - Low))).ToString("R", CultureInfo.InvariantCulture),
            DimensionKind.LogUniform => Math.Exp(Math.Log(Low) + (u * (Math.Log(High) - Math.Log(Low)))).ToString("R", CultureInfo.InvariantCulture),
            DimensionKind.Integer => ((long)Math.Floor(Low + (u * (High - Low + 1)))).ToString(CultureInfo.InvariantCulture),
            _ => Choices[(int)Math.Floor(u * Choices.Count)],
        };
    }

    /// <summary>
    /// Parses <c>uniform 0.5 1</c>, <c>log-uniform 0.01 0.3</c>, <c>int 3 8</c> or <c>choice a b c</c>.
    /// </summary>
    /// <exception cref="StrataException">Text in none of those forms, or bounds out of order.</exception>
    public static Dimension Parse(string name, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            throw Bad(name, text);
        }

        var kind = parts[0] switch
        {
            "uniform" => DimensionKind.Uniform,
            "log-uniform" or "loguniform" or "log" => DimensionKind.LogUniform,
            "int" or "integer" => DimensionKind.Integer,
            "choice" or "categorical" => DimensionKind.Categorical,
            _ => throw Bad(name, text),
        };
        if (kind == DimensionKind.Categorical)
        {
            return parts.Length >= 2 ? new Dimension(name, kind, 0, 0, parts[1..]) : throw Bad(name, text);
        }

        if (parts.Length != 3
            || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var low)
            || !double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var high)
            || !double.IsFinite(low) || !double.IsFinite(high) || high < low
            || (kind == DimensionKind.LogUniform && low <= 0))
        {
            throw Bad(name, text);
        }

        return new Dimension(name, kind, low, high, []);
    }

    private static StrataException Bad(string name, string text) => new(ErrorCodes.ArgumentInvalid,
        $"search space '{name}': '{text}' is not 'uniform LOW HIGH', 'log-uniform LOW HIGH' (LOW > 0), 'int LOW HIGH' or 'choice A B …'");
}

/// <summary>The options a tuning searches over, in a fixed (ordinal) order so a seed always gives the same draws.</summary>
public sealed class SearchSpace
{
    /// <summary>Creates a space.</summary>
    public SearchSpace(IEnumerable<Dimension> dimensions)
    {
        Dimensions = dimensions.OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
        if (Dimensions.Count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "a search space needs at least one dimension");
        }
    }

    /// <summary>The dimensions by name.</summary>
    public IReadOnlyList<Dimension> Dimensions { get; }

    /// <summary>Parses name → dimension text (see <see cref="Dimension.Parse"/>).</summary>
    public static SearchSpace Parse(IReadOnlyDictionary<string, string> dimensions)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        return new SearchSpace(dimensions.Select(d => Dimension.Parse(d.Key, d.Value)));
    }

    /// <summary>The settings at a point of the unit cube.</summary>
    public Dictionary<string, string> At(IReadOnlyList<double> point) =>
        Dimensions.Select((d, i) => (d.Name, Value: d.ValueAt(point[i]))).ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);
}
