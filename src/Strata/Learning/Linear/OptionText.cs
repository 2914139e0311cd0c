using System.Globalization;

namespace Strata.Learning.Linear;

/// <summary>
/// Reads and writes option values as invariant text (<c>--set key=value</c>, manifests). Every error names the learner,
/// the key and the offending value, because the CLI shows it to someone who typed one of them.
/// </summary>
internal static class OptionText
{
    public static double Double(string learner, string key, string value, double min, double max)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var result) || double.IsNaN(result))
        {
            throw Invalid(learner, key, value, "is not a number");
        }

        return result >= min && result <= max
            ? result
            : throw Invalid(learner, key, value, $"is outside [{Format(min)}, {Format(max)}]");
    }

    public static int Int32(string learner, string key, string value, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result))
        {
            throw Invalid(learner, key, value, "is not an integer");
        }

        return result >= min && result <= max
            ? result
            : throw Invalid(learner, key, value, $"is outside [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]");
    }

    public static bool Bool(string learner, string key, string value) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw Invalid(learner, key, value, "is not true or false"),
    };

    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Format(bool value) => value ? "true" : "false";

    public static StrataException Unknown(string learner, string key, IEnumerable<string> known) =>
        new(ErrorCodes.ArgumentInvalid, $"{learner}: unknown option '{key}' (known: {string.Join(", ", known)})");

    /// <summary>Applies settings one by one, in order, so a later key wins as on a command line.</summary>
    public static T Apply<T>(T options, IEnumerable<KeyValuePair<string, string>> settings, Func<T, string, string, T> with)
    {
        ArgumentNullException.ThrowIfNull(settings);
        foreach (var (key, value) in settings)
        {
            // A model's settings carry its training warnings next to the options; reading them back as options skips them.
            if (key != LinearModel.WarningsKey)
            {
                options = with(options, key.Trim(), value?.Trim() ?? "");
            }
        }

        return options;
    }

    /// <summary>Splits <c>key=value</c> pairs as given on the command line.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Pairs(string learner, IEnumerable<string> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        foreach (var pair in pairs)
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: '{pair}' is not key=value");
            }

            yield return new KeyValuePair<string, string>(pair[..eq], pair[(eq + 1)..]);
        }
    }

    private static StrataException Invalid(string learner, string key, string value, string problem) =>
        new(ErrorCodes.ArgumentInvalid, $"{learner}: option '{key}': '{value}' {problem}");
}
