using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Api;
using Strata.Data.Profiling;

namespace Strata.Monitoring.Drift;

public sealed partial class DriftProfile
{
    /// <summary>The format tag written in and required of drift profile JSON.</summary>
    public const string FormatVersion = "strata.drift-profile/1";

    /// <summary>The largest drift profile JSON accepted.</summary>
    public const int MaxJsonBytes = 256 << 20;

    /// <summary>The profile as UTF-8 JSON (layout, exact counts, sums and moments), so a loaded profile compares and merges as this one.</summary>
    public byte[] ToUtf8Json()
    {
        var document = new DriftProfileDocument
        {
            Format = FormatVersion,
            Rows = RowCount,
            Features = [.. Distributions.Select((d, i) => d switch
            {
                NumericDistribution n => new DriftFeatureDocument
                {
                    Name = d.Name,
                    Kind = "numeric",
                    Nulls = d.NullCount,
                    Edges = [.. n.Histogram.Edges],
                    Counts = [.. n.Histogram.Counts],
                    Sums = [.. n.Histogram.Sums],
                    Nan = n.Histogram.NanCount,
                    Moments = [n.MomentsState.Count, n.MomentsState.RawMean, n.MomentsState.M2, n.MomentsState.Min, n.MomentsState.Max,
                        n.MomentsState.NanCount, n.MomentsState.PositiveInfinityCount, n.MomentsState.NegativeInfinityCount],
                },
                CategoricalDistribution c => new DriftFeatureDocument
                {
                    Name = d.Name, Kind = "categorical", Nulls = d.NullCount, Values = new Dictionary<string, long>(c.Counts, StringComparer.Ordinal),
                },
                _ => throw new InvalidOperationException($"unknown distribution {d.GetType().Name} at {i}"),
            })],
        };
        return JsonSerializer.SerializeToUtf8Bytes(document, DriftProfileJson.Default.DriftProfileDocument);
    }

    /// <summary>Reads a profile written by <see cref="ToUtf8Json"/>.</summary>
    /// <exception cref="StrataException">Malformed, another format, inconsistent counts (<see cref="ErrorCodes.DataMalformed"/>) or too large (<see cref="ErrorCodes.DataLimit"/>).</exception>
    public static DriftProfile FromJson(ReadOnlySpan<byte> utf8Json)
    {
        if (utf8Json.Length > MaxJsonBytes)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"a drift profile may hold at most {MaxJsonBytes} bytes");
        }

        DriftProfileDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(utf8Json, DriftProfileJson.Default.DriftProfileDocument);
        }
        catch (JsonException e)
        {
            throw new StrataException(ErrorCodes.DataMalformed, JsonErrors.Describe(e, "the drift profile", DriftProfileJson.Default.DriftProfileDocument), e);
        }

        if (document is null || document.Format != FormatVersion)
        {
            throw new StrataException(ErrorCodes.DataMalformed, $"drift profile JSON: format must be {FormatVersion}");
        }

        var features = new List<DriftFeature>();
        var distributions = new List<FeatureDistribution>();
        foreach (var (f, i) in document.Features.Select((f, i) => (f, i)))
        {
            var path = $"features[{i}]";
            if (f.Nulls < 0)
            {
                throw new StrataException(ErrorCodes.DataMalformed, $"drift profile JSON: {path}.nulls is negative");
            }

            if (f.Kind == "numeric")
            {
                var m = f.Moments is { Length: 8 } ms ? ms : throw new StrataException(ErrorCodes.DataMalformed, $"drift profile JSON: {path}.moments must hold 8 numbers");
                var histogram = FixedBinHistogram.FromState(f.Edges ?? [], f.Counts ?? [], f.Sums ?? [], f.Nan);
                var moments = Moments.FromState((long)m[0], m[1], m[2], m[3], m[4], (long)m[5], (long)m[6], (long)m[7], $"{path}.moments");
                features.Add(new DriftFeature(f.Name, DriftFeatureKind.Numeric, f.Edges ?? []));
                distributions.Add(new NumericDistribution(f.Name, histogram, moments) { NullCount = f.Nulls });
            }
            else if (f.Kind == "categorical")
            {
                var c = new CategoricalDistribution(f.Name) { NullCount = f.Nulls };
                foreach (var (value, count) in f.Values ?? [])
                {
                    c.Add(value, count >= 0 ? count : throw new StrataException(ErrorCodes.DataMalformed, $"drift profile JSON: {path}.values['{value}'] is negative"));
                }

                features.Add(new DriftFeature(f.Name, DriftFeatureKind.Categorical, []));
                distributions.Add(c);
            }
            else
            {
                throw new StrataException(ErrorCodes.DataMalformed, $"drift profile JSON: {path}.kind must be numeric or categorical");
            }
        }

        return new DriftProfile(new DriftLayout(features), document.Rows, [.. distributions]);
    }
}

internal sealed class DriftProfileDocument
{
    public string Format { get; init; } = "";

    public long Rows { get; init; }

    public List<DriftFeatureDocument> Features { get; init; } = [];
}

internal sealed class DriftFeatureDocument
{
    public string Name { get; init; } = "";

    public string Kind { get; init; } = "";

    public long Nulls { get; init; }

    public double[]? Edges { get; init; }

    public long[]? Counts { get; init; }

    public double[]? Sums { get; init; }

    public long Nan { get; init; }

    public double[]? Moments { get; init; }

    public Dictionary<string, long>? Values { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DriftProfileDocument))]
internal sealed partial class DriftProfileJson : JsonSerializerContext;
