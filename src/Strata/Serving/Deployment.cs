using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Strata.Api;
using Strata.Stores;

namespace Strata.Serving;

/// <summary>
/// What a serving endpoint answers with: the champion model (by alias, so a promotion reaches it without a restart, or a
/// fixed version), an optional challenger taking a share of traffic, an optional shadow that sees a copy of every
/// request, the feature service that fills in features from the online store, and the limits that protect the server.
/// </summary>
public sealed record Deployment
{
    // NOTE: optional properties have setters, not init: the JSON source generator would otherwise construct the record
    // with every missing init property set to its default (null, 0) instead of the initializer's value.

    // What a caller sends is read with unknown fields refused (see FromCallerJson); what the store holds, without.
    private static readonly ServingJson Strict = new(new JsonSerializerOptions(ServingJson.Default.Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow });

    /// <summary>The endpoint name (the URL segment).</summary>
    public required string Name { get; init; }

    /// <summary>The project whose registry and feature store it serves from.</summary>
    public required string Project { get; init; }

    /// <summary>The champion: <c>model@alias</c> or <c>model/version</c>.</summary>
    public required string Model { get; init; }

    /// <summary>An optional challenger, <c>model@alias</c> or <c>model/version</c>.</summary>
    public string? Challenger { get; set; }

    /// <summary>The share of traffic (0–1) the challenger gets, sticky per entity key.</summary>
    public double ChallengerWeight { get; set; }

    /// <summary>An optional shadow model: it gets a copy of each request; its result is logged, never returned.</summary>
    public string? Shadow { get; set; }

    /// <summary>The feature service whose online values fill in features the request does not carry.</summary>
    public string? FeatureService { get; set; }

    /// <summary>The request field whose hash keeps an entity on one side of a canary (without it, requests are split by request id).</summary>
    public string? StickyKey { get; set; }

    /// <summary>Request fields to mask in the prediction log besides features tagged PII.</summary>
    public IReadOnlyList<string> Pii { get; set; } = [];

    /// <summary>The share of predictions written to the prediction log (0–1).</summary>
    public double LogSampleRate { get; set; } = 1.0;

    /// <summary>Concurrency, queue, rate and size limits.</summary>
    public DeploymentLimits Limits { get; set; } = new();

    /// <summary>Coalescing of concurrent requests into one prediction call; null predicts each request on its own.</summary>
    public DeploymentBatching? Batching { get; set; }

    /// <summary>
    /// Equal when every setting is, as the stored form shows them. A record would compare the <see cref="Pii"/> list by
    /// reference, so a deployment read again from the store never equalled the one being served, and every change to
    /// the metadata store (a run logged, a label posted) rebuilt every endpoint's state for the same models.
    /// </summary>
    public bool Equals(Deployment? other) => other is not null && (ReferenceEquals(this, other) || string.Equals(ToJson(), other.ToJson(), StringComparison.Ordinal));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Project, Model);

    /// <summary>The champion reference, parsed.</summary>
    [JsonIgnore]
    public ModelReference ChampionReference => ModelReference.Parse(Model);

    /// <summary>Checks names, references and ranges; returns the deployment.</summary>
    /// <exception cref="StrataException">The first problem found, naming the field (invalid argument).</exception>
    public Deployment Validate()
    {
        Names.Check("name", Name);
        Names.Check("project", Project);

        // JSON may give null for any field: each is refused by name here rather than failing further on.
        if (Model is null)
        {
            throw Invalid("model", "is required");
        }

        if (Pii is null)
        {
            throw Invalid("pii", "must be a list of field names, not null");
        }

        if (Limits is null)
        {
            throw Invalid("limits", "must be an object, not null");
        }

        CheckReference("model", Model);
        if (Challenger is not null)
        {
            CheckReference("challenger", Challenger);
        }

        if (Shadow is not null)
        {
            CheckReference("shadow", Shadow);
        }

        // The champion as its own challenger or shadow would only repeat its answers (most likely a slip for another alias).
        if (Challenger is not null && ModelReference.Parse(Challenger) == ChampionReference)
        {
            throw Invalid("challenger", $"names the champion itself ('{Model}')");
        }

        if (Shadow is not null && ModelReference.Parse(Shadow) == ChampionReference)
        {
            throw Invalid("shadow", $"names the champion itself ('{Model}')");
        }

        if (FeatureService is not null)
        {
            Names.Check("feature_service", FeatureService);
        }

        if (StickyKey is not null)
        {
            Names.Check("sticky_key", StickyKey);
        }

        if (!(ChallengerWeight >= 0 && ChallengerWeight <= 1))
        {
            throw Invalid("challenger_weight", "must be between 0 and 1");
        }

        if (ChallengerWeight > 0 && Challenger is null)
        {
            throw Invalid("challenger_weight", "is set but no challenger is");
        }

        if (!(LogSampleRate >= 0 && LogSampleRate <= 1))
        {
            throw Invalid("log_sample_rate", "must be between 0 and 1");
        }

        if (Pii.Count > 1000)
        {
            throw Invalid("pii", "has more than 1000 entries");
        }

        foreach (var field in Pii)
        {
            Names.Check("pii", field);
        }

        Limits.Validate();
        Batching?.Validate();
        return this;
    }

    /// <summary>The canonical JSON stored in the metadata store.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ServingJson.Default.Deployment);

    /// <summary>Reads a stored deployment from its JSON and validates it; fields it does not know are skipped (a newer replica may have written them).</summary>
    /// <exception cref="StrataException">Malformed JSON or an invalid deployment.</exception>
    public static Deployment FromJson(string json) => Read(json, ServingJson.Default.Deployment);

    /// <summary>
    /// Reads a deployment a caller sent (the API's body) and validates it. A field it does not know is refused, naming
    /// it, as <c>strata.yaml</c> refuses an unknown key: a misspelt <c>challenger_weight</c> would otherwise leave the
    /// challenger without traffic and say nothing.
    /// </summary>
    /// <exception cref="StrataException">Malformed JSON, an unknown field or an invalid deployment.</exception>
    public static Deployment FromCallerJson(string json) => Read(json, Strict.Deployment);

    private static Deployment Read(string json, JsonTypeInfo<Deployment> type)
    {
        try
        {
            return (JsonSerializer.Deserialize(json, type) ?? throw Invalid("deployment", "is null")).Validate();
        }
        catch (JsonException e)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, JsonErrors.Describe(e, "the deployment", type), e);
        }
    }

    internal static StrataException Invalid(string field, string problem) => new(ErrorCodes.ArgumentInvalid, $"field '{field}' {problem}");

    private static void CheckReference(string field, string reference)
    {
        var parsed = ModelReference.Parse(reference);
        Names.Check(field, parsed.Model);
        if (parsed.Alias is { } alias)
        {
            Names.Check(field, alias);
        }
        else if (parsed.Version is null)
        {
            throw Invalid(field, $"'{reference}' must name an alias (model@alias) or a version (model/3)");
        }
        else if (parsed.Version <= 0)
        {
            throw Invalid(field, "must name a version of 1 or more");
        }
    }
}

/// <summary>
/// The limits of one endpoint: requests served at once, requests waiting beyond that (more get 503 with Retry-After),
/// requests per second per API key (more get 429; 0 = no limit), the time one request may take, and rows per request.
/// </summary>
public sealed record DeploymentLimits
{
    /// <summary>Requests predicted at once.</summary>
    public int MaxConcurrency { get; set; } = 256;

    /// <summary>Requests waiting for a slot; more are refused with 503.</summary>
    public int MaxQueue { get; set; } = 1024;

    /// <summary>Requests per second per API key (token bucket); 0 means no limit.</summary>
    public double RatePerSecond { get; set; }

    /// <summary>Requests a key may send at once above its rate (the bucket size); default the rate, at least 1.</summary>
    public double Burst { get; set; }

    /// <summary>How long one request may take, queue included, in milliseconds.</summary>
    public int TimeoutMs { get; set; } = 5000;

    /// <summary>Rows in one request.</summary>
    public int MaxRows { get; set; } = 1000;

    internal void Validate()
    {
        if (MaxConcurrency is < 1 or > 100_000)
        {
            throw Deployment.Invalid("limits.max_concurrency", "must be between 1 and 100000");
        }

        if (MaxQueue is < 0 or > 1_000_000)
        {
            throw Deployment.Invalid("limits.max_queue", "must be between 0 and 1000000");
        }

        if (!(RatePerSecond >= 0 && RatePerSecond <= 1e9))
        {
            throw Deployment.Invalid("limits.rate_per_second", "must be between 0 and 1e9");
        }

        if (!(Burst >= 0 && Burst <= 1e9))
        {
            throw Deployment.Invalid("limits.burst", "must be between 0 and 1e9");
        }

        if (TimeoutMs is < 1 or > 600_000)
        {
            throw Deployment.Invalid("limits.timeout_ms", "must be between 1 and 600000");
        }

        if (MaxRows is < 1 or > 100_000)
        {
            throw Deployment.Invalid("limits.max_rows", "must be between 1 and 100000");
        }
    }
}

/// <summary>
/// Request batching: single-row requests arriving together for the same model version are predicted in one call of up
/// to <see cref="MaxBatchSize"/> requests, the first waiting at most <see cref="MaxDelayMs"/> for company. Trades a little
/// latency for throughput on models whose per-call cost dominates.
/// </summary>
public sealed record DeploymentBatching
{
    /// <summary>Most requests in one batched call.</summary>
    public int MaxBatchSize { get; set; } = 32;

    /// <summary>How long the first request of a batch waits for more, in milliseconds.</summary>
    public double MaxDelayMs { get; set; } = 2;

    internal void Validate()
    {
        if (MaxBatchSize is < 1 or > 10_000)
        {
            throw Deployment.Invalid("batching.max_batch_size", "must be between 1 and 10000");
        }

        if (!(MaxDelayMs >= 0 && MaxDelayMs <= 1000))
        {
            throw Deployment.Invalid("batching.max_delay_ms", "must be between 0 and 1000");
        }
    }
}

/// <summary>JSON of the serving records (snake_case, the same names as <c>strata.yaml</c>).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 16, Converters = [typeof(WholeNumberConverter)])]
[JsonSerializable(typeof(Deployment))]
internal sealed partial class ServingJson : JsonSerializerContext;

/// <summary>
/// A deployment's whole numbers as <c>strata.yaml</c> reads them: one written as a float (<c>1e3</c>) or beyond an int
/// is taken at its value, clamped, so the deployment's range check names the range (<c>"timeout_ms": 1e12</c> was
/// "must be a whole number"); a fraction or anything but a number is still refused as not a whole number.
/// </summary>
internal sealed class WholeNumberConverter : JsonConverter<int>
{
    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt32(out var value))
            {
                return value;
            }

            if (reader.TryGetDouble(out var number) && double.IsFinite(number) && number == Math.Floor(number))
            {
                return (int)Math.Clamp(number, int.MinValue, int.MaxValue);
            }
        }

        throw new JsonException(); // the serializer words it ("could not be converted to System.Int32", with the path)
    }

    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumberValue(value);
    }
}
