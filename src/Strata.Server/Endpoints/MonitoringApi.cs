using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Strata.Monitoring;
using Strata.Monitoring.Skew;
using Strata.Server.Hosting;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>The answer to a feedback request.</summary>
/// <param name="Stored">Labels stored.</param>
public sealed record FeedbackResponse(int Stored);

/// <summary>A monitor declared through the API.</summary>
/// <param name="Endpoint">The endpoint.</param>
/// <param name="Name">The monitor's name.</param>
/// <param name="Definition">The definition (one strata.yaml monitors item as JSON).</param>
/// <param name="UpdatedAt">When it was stored (UTC microseconds).</param>
/// <param name="UpdatedBy">Who stored it.</param>
public sealed record MonitorDefinition(string Endpoint, string Name, JsonElement Definition, long UpdatedAt, string UpdatedBy);

/// <summary>
/// Monitoring: ground truth arriving after the prediction (feedback, joined to the prediction log by request id, for the
/// quality check) and the stored monitor results over time.
/// </summary>
internal static class MonitoringApi
{
    /// <summary>Most labels in one feedback request.</summary>
    public const int MaxLabels = FeedbackLabels.MaxLabels;

    /// <summary>Longest request id accepted.</summary>
    public const int MaxRequestId = FeedbackLabels.MaxRequestId;

    public static IEndpointRouteBuilder MapMonitoringApi(this IEndpointRouteBuilder app)
    {
        // Like predict: the role is checked in the endpoint's project once the endpoint is known.
        app.MapPost("/v1/endpoints/{name}/feedback", FeedbackAsync).RequireAnyKey().WithTags("monitoring");
        app.MapPost("/v1/endpoints/{name}/feedback/batch", FeedbackBatchAsync).RequireAnyKey().WithTags("monitoring");
        var monitors = app.MapGroup("/api/v1/projects/{project}/monitors").WithTags("monitoring");
        monitors.MapGet("/{endpoint}/results", ResultsAsync).RequireRole(Role.Viewer);
        monitors.MapPut("/{endpoint}", PutMonitorAsync).RequireRole(Role.Editor);
        monitors.MapGet("/{endpoint}", ListMonitorsAsync).RequireRole(Role.Viewer);
        monitors.MapDelete("/{endpoint}", DeleteMonitorAsync).RequireRole(Role.Editor);
        app.MapPut("/api/v1/projects/{project}/models/{model}/versions/{version:int}/reference-profile", PutReferenceAsync)
            .RequireRole(Role.Editor).WithTags("monitoring");
        return app;
    }

    /// <summary>Stores a version's reference profile (drift profile JSON, as <c>strata models register --reference-data</c> builds it).</summary>
    private static async Task<NoContent> PutReferenceAsync([AsParameters] ApiContext api, string project, string model, int version)
    {
        using var buffer = new MemoryStream();
        await api.Http.Request.Body.CopyToAsync(buffer, api.Aborted).ConfigureAwait(false);
        Strata.Monitoring.Drift.DriftProfile profile;
        try
        {
            profile = Strata.Monitoring.Drift.DriftProfile.FromJson(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        }
        catch (StrataException e) when (e.IsCallerError)
        {
            throw;
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"the body is not a drift profile: {e.Message}", e);
        }

        await ReferenceProfiles.SaveAsync(api.Registry, api.Caller, project, model, version, profile, api.Aborted).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Creates or replaces a monitor of the endpoint: the body is one <c>monitors:</c> item of strata.yaml as JSON
    /// (<c>endpoint</c> defaults to the route's, <c>name</c> to the endpoint's), validated like the file, and every feature
    /// it names must be one of the model's (its reference profile's columns, else its signature's inputs).
    /// </summary>
    private static async Task<Ok<MonitorDefinition>> PutMonitorAsync(
        [AsParameters] ApiContext api, string project, string endpoint, [FromServices] MonitorReferences references)
    {
        Names.Check("endpoint", endpoint);
        EndpointInProject(api, project, endpoint);
        System.Text.Json.Nodes.JsonObject body;
        using (var document = await RequestJson.ParseAsync(api.Http.Request.Body, 16, api.Aborted).ConfigureAwait(false))
        {
            body = System.Text.Json.Nodes.JsonNode.Parse(document.RootElement.GetRawText()) as System.Text.Json.Nodes.JsonObject
                ?? throw new StrataException(ErrorCodes.ArgumentInvalid, "the body must be a JSON object: one monitor, as in strata.yaml's monitors list");
        }

        if (body["endpoint"] is { } named && named.GetValueKind() == JsonValueKind.String && named.GetValue<string>() != endpoint)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'endpoint': '{named.GetValue<string>()}' is not the route's endpoint '{endpoint}'");
        }

        body["endpoint"] = endpoint;
        body["name"] ??= endpoint;
        var json = body.ToJsonString();
        MonitorSpec spec;
        try
        {
            spec = MonitorConfig.ParseOne(json, "body");
        }
        catch (DataFormatException e)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, e.Detail, e);
        }

        var (available, source) = await FeaturesOfAsync(api, project, spec.Model, references).ConfigureAwait(false);
        if (available.Count > 0)
        {
            // NOTE: a version registered without a signature or reference has no known features; the server's run reports a misfit.
            spec.CheckFeatures(available, source);
        }

        var deployed = api.State.Serving.List().FirstOrDefault(e => e.Name == endpoint);
        if (spec.Checks.Contains(MonitorChecks.Skew) && (deployed is not null || spec.SkewService is not null))
        {
            // NOTE: an endpoint not deployed yet has no known feature service; the server's run reports a misfit then.
            var service = SkewBaseline.ServiceOf(spec, deployed?.Deployment.FeatureService);
            try
            {
                SkewBaseline.Create(await api.State.Features.GetAsync(project, api.Aborted).ConfigureAwait(false), spec, service);
            }
            catch (StrataException e) when (e.Code == ErrorCodes.NotFound)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'skew.service': feature service '{service}' cannot be compared in project '{project}' ({e.Message})", e);
            }
        }

        await api.State.Home.Metadata.MonitorState.PutMonitorAsync(project, new StoredMonitor(endpoint, spec.Name, json), api.Caller.Actor, api.Aborted).ConfigureAwait(false);
        var stored = await api.State.Home.Metadata.MonitorState.ListMonitorsAsync(project, endpoint, api.Aborted).ConfigureAwait(false);
        return TypedResults.Ok(Definition(stored.Single(m => m.Monitor.Name == spec.Name).Monitor));
    }

    /// <summary>The monitors of an endpoint declared through the API.</summary>
    private static async Task<Ok<List<MonitorDefinition>>> ListMonitorsAsync([AsParameters] ApiContext api, string project, string endpoint)
    {
        Names.Check("endpoint", endpoint);
        var stored = await api.State.Home.Metadata.MonitorState.ListMonitorsAsync(project, endpoint, api.Aborted).ConfigureAwait(false);
        return TypedResults.Ok(stored.Select(m => Definition(m.Monitor)).ToList());
    }

    /// <summary>Deletes the endpoint's monitor <c>?name=</c> (default: the one named like the endpoint); 404 when there is none.</summary>
    private static async Task<NoContent> DeleteMonitorAsync([AsParameters] ApiContext api, string project, string endpoint, string? name)
    {
        Names.Check("endpoint", endpoint);
        var monitor = name ?? endpoint;
        Names.Check("name", monitor);
        return await api.State.Home.Metadata.MonitorState.DeleteMonitorAsync(project, endpoint, monitor, api.Caller.Actor, api.Aborted).ConfigureAwait(false)
            ? TypedResults.NoContent()
            : throw new StrataException(ErrorCodes.NotFound, $"no monitor '{monitor}' on endpoint '{endpoint}' in project '{project}'");
    }

    /// <summary>An endpoint deployed on this server must belong to the route's project (one not deployed yet may be monitored ahead).</summary>
    private static void EndpointInProject(ApiContext api, string project, string endpoint)
    {
        if (api.State.Serving.List().FirstOrDefault(e => e.Name == endpoint) is { } deployed && deployed.Deployment.Project != project)
        {
            throw new StrataException(ErrorCodes.NotFound, $"no endpoint '{endpoint}' in project '{project}'");
        }
    }

    /// <summary>The features of a model: its newest reference profile's columns, else its newest version's signature inputs.</summary>
    private static async Task<(IReadOnlySet<string> Features, string Source)> FeaturesOfAsync(ApiContext api, string project, string model, MonitorReferences references)
    {
        if (await references.GetAsync(project, model, null, api.Aborted).ConfigureAwait(false) is { } reference)
        {
            return (reference.Layout.Features.Select(f => f.Name).ToHashSet(StringComparer.Ordinal), $"the reference profile of model '{model}'");
        }

        var versions = await api.Registry.ListVersionsAsync(api.Caller, project, model, api.Aborted).ConfigureAwait(false);
        var newest = versions.MaxBy(v => v.Version)
            ?? throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'model': model '{model}' has no versions to monitor");
        var inputs = new HashSet<string>(StringComparer.Ordinal);
        if (newest.Signature is { Length: > 0 } signature)
        {
            using var document = JsonDocument.Parse(signature);
            if (document.RootElement.TryGetProperty("inputs", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (var input in list.EnumerateArray())
                {
                    if (input.TryGetProperty("name", out var n) && n.GetString() is { } text)
                    {
                        inputs.Add(text);
                    }
                }
            }
        }

        return (inputs, $"model '{model}' version {newest.Version}");
    }

    private static MonitorDefinition Definition(StoredMonitor m)
    {
        using var document = JsonDocument.Parse(m.Definition);
        return new MonitorDefinition(m.Endpoint, m.Name, document.RootElement.Clone(), m.UpdatedAt, m.UpdatedBy);
    }

    /// <summary>
    /// Stores labels <c>{"labels":[{"request_id":"…","label":1}]}</c> for predictions of the endpoint. Every request id
    /// must be one the endpoint answered, and every label fit the model that answered it; otherwise nothing of the batch is
    /// stored.
    /// </summary>
    private static async Task<Ok<FeedbackResponse>> FeedbackAsync([AsParameters] ApiContext api, string name)
    {
        var deployment = ServingApi.Authorize(api, name, Role.Editor);
        List<RawLabel> labels;
        using (var document = await RequestJson.ParseAsync(api.Http.Request.Body, 8, api.Aborted).ConfigureAwait(false))
        {
            labels = ParseLabels(document.RootElement);
        }

        return TypedResults.Ok(new FeedbackResponse(await StoreAsync(api, deployment.Project, name, labels).ConfigureAwait(false)));
    }

    /// <summary>
    /// Stores a chunk of a label file (the body: CSV with a <c>request_id,label</c> header, or JSON lines, by
    /// <c>?format=</c>); <c>?first_line=</c> is the file line of the body's first line, so errors name the file's lines.
    /// </summary>
    private static async Task<Ok<FeedbackResponse>> FeedbackBatchAsync([AsParameters] ApiContext api, string name, string? format, [FromQuery(Name = "first_line")] int? firstLine)
    {
        var deployment = ServingApi.Authorize(api, name, Role.Editor);
        if (firstLine is < 1)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'first_line': {firstLine} must be at least 1");
        }

        using var reader = new StreamReader(api.Http.Request.Body);
        var text = await reader.ReadToEndAsync(api.Aborted).ConfigureAwait(false);
        var labels = FeedbackLabels.Parse(text, format ?? "csv", firstLine ?? 1);
        if (labels.Count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "the label file has no labels");
        }

        return TypedResults.Ok(new FeedbackResponse(await StoreAsync(api, deployment.Project, name, labels).ConfigureAwait(false)));
    }

    /// <summary>Finds the labels' predictions in the index (bringing it up to date first), checks each label against its model, stores them all.</summary>
    private static async Task<int> StoreAsync(ApiContext api, string project, string endpoint, List<RawLabel> labels)
    {
        var serving = api.State.Serving;
        var folder = serving.PredictionLogFolder
            ?? throw new StrataException(ErrorCodes.NotFound, "this server keeps no prediction log, so feedback cannot be joined to predictions");
        var store = api.State.Home.Metadata.MonitorState;
        var ids = labels.Select(l => l.RequestId).Distinct(StringComparer.Ordinal).ToList();
        await IndexAsync(store, folder, project, endpoint, api.Aborted).ConfigureAwait(false);
        var found = await store.FindPredictionsAsync(project, endpoint, ids, api.Aborted).ConfigureAwait(false);
        if (found.Count < ids.Count)
        {
            // NOTE: a prediction of the last minute may still be in the open segment, which readers skip: close it and look again.
            await serving.FlushPredictionLogAsync(api.Aborted).ConfigureAwait(false);
            await IndexAsync(store, folder, project, endpoint, api.Aborted).ConfigureAwait(false);
            found = await store.FindPredictionsAsync(project, endpoint, ids, api.Aborted).ConfigureAwait(false);
        }

        var stored = new List<FeedbackLabel>(labels.Count);
        foreach (var label in labels)
        {
            var prediction = found.GetValueOrDefault(label.RequestId) ?? throw new StrataException(
                ErrorCodes.NotFound,
                $"field '{label.Field}.request_id': request id '{label.RequestId}' is not in endpoint '{endpoint}''s prediction log; no label of this request was stored");
            stored.Add(new FeedbackLabel(label.RequestId, FeedbackLabels.Resolve(label, prediction)));
        }

        await api.State.Home.Metadata.Monitoring.SaveLabelsAsync(project, endpoint, stored, api.Caller.Actor, api.Aborted).ConfigureAwait(false);
        return stored.Count;
    }

    /// <summary>Brings the endpoint's request index up to date, one catch-up per endpoint at a time.</summary>
    private static async Task IndexAsync(Stores.IMonitorStateStore store, string folder, string project, string endpoint, CancellationToken cancellationToken)
    {
        var gate = IndexGates.GetOrAdd(endpoint, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await FeedbackLabels.IndexAsync(store, folder, project, endpoint, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> IndexGates = new(StringComparer.Ordinal);

    /// <summary>The stored results of an endpoint's monitors whose windows start in [from, to) (ISO 8601 or UTC microseconds).</summary>
    private static async Task<Ok<IReadOnlyList<MonitorResult>>> ResultsAsync(
        [AsParameters] ApiContext api, string project, string endpoint, [FromQuery(Name = "from")] string? start, [FromQuery(Name = "to")] string? end,
        string? monitor, string? check, int? limit)
    {
        Names.Check("endpoint", endpoint);
        if (monitor is not null)
        {
            Names.Check("monitor", monitor);
        }

        if (check is not null)
        {
            MonitorChecks.CheckFilter("check", check);
        }

        long? from = start is null ? null : AliasesApi.ParseTime("from", start);
        long? to = end is null ? null : AliasesApi.ParseTime("to", end);
        if (from > to)
        {
            // An empty answer would read as "no results yet", not as a reversed range.
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'from' ({start}) is after field 'to' ({end})");
        }

        var query = new MonitorResultQuery(
            endpoint,
            from,
            to,
            monitor,
            check,
            limit ?? 10_000);
        return TypedResults.Ok(await api.State.Home.Metadata.Monitoring.ListResultsAsync(project, query, api.Aborted).ConfigureAwait(false));
    }

    /// <summary>Reads the feedback body, naming the field of the first mistake.</summary>
    internal static List<RawLabel> ParseLabels(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("labels", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'labels' must be an array of {\"request_id\": \"…\", \"label\": number}");
        }

        OnlyFields(root, "", "labels");
        var count = array.GetArrayLength();
        if (count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'labels' is empty");
        }

        if (count > MaxLabels)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"field 'labels' has {count} items; at most {MaxLabels} per request");
        }

        var labels = new List<RawLabel>(count);
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'labels[{i}]' must be an object with request_id and label");
            }

            OnlyFields(item, $"labels[{i}].", "request_id", "label");
            var id = item.TryGetProperty("request_id", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : null;
            if (string.IsNullOrEmpty(id) || id.Length > MaxRequestId)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'labels[{i}].request_id' must be a string of 1 to {MaxRequestId} characters");
            }

            if (!item.TryGetProperty("label", out var l))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'labels[{i}].label' is missing");
            }

            labels.Add(FeedbackLabels.FromJson(id, l, $"labels[{i}]"));
            i++;
        }

        return labels;
    }

    /// <summary>
    /// Refuses a field the object may not have: a misspelt field would be read as absent (the body's reader refuses a
    /// repeated one).
    /// </summary>
    private static void OnlyFields(JsonElement obj, string prefix, params string[] allowed)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (!allowed.Any(a => property.NameEquals(a)))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"unknown field '{prefix}{property.Name}' (known: {string.Join(", ", allowed)})");
            }
        }
    }
}
