using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Serving;

namespace Strata.Server.Serving;

/// <summary>
/// A deployment in API answers as <c>PUT /v1/endpoints/{name}</c> takes it and <c>strata.yaml</c> declares it
/// (snake_case: <c>challenger_weight</c>, <c>limits.max_queue</c>), not in the API's camelCase: what a GET answers can
/// be edited and PUT back as it is.
/// </summary>
internal sealed class DeploymentJsonConverter : JsonConverter<Deployment>
{
    public override Deployment Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return Deployment.FromCallerJson(document.RootElement.GetRawText());
    }

    public override void Write(Utf8JsonWriter writer, Deployment value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteRawValue(value.ToJson(), skipInputValidation: true);
    }
}
