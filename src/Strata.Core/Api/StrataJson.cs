using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Strata.Api;

/// <summary>The JSON the API speaks: camelCase names, enums as camelCase strings, dictionary keys verbatim, depth at most 32.</summary>
public static class StrataJson
{
    /// <summary>Deepest nesting a request may have; anything deeper is refused (a 400), not parsed.</summary>
    public const int MaxDepth = 32;

    /// <summary>The serializer options both the server and the client use.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Copies the API's settings onto options the caller owns (the server's HTTP JSON options).</summary>
    public static void Apply(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.PropertyNameCaseInsensitive = true;
        options.MaxDepth = MaxDepth;

        // Metrics may be ±Infinity (a loss that diverged); NaN is refused by the store with a clear message.
        options.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        Apply(options);
        options.MakeReadOnly();
        return options;
    }
}
