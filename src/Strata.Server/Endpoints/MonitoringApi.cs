using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Strata.Monitoring;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>The answer to a feedback request.</summary>
/// <param name="Stored">Labels stored.</param>
public sealed record FeedbackResponse(int Stored);

/// <summary>
/// Monitoring: ground truth arriving after the prediction (feedback, joined to the prediction log by request id, for the
/// quality check) and the stored monitor results over time.
/// </summary>
internal static class MonitoringApi
{
    /// <summary>Most labels in one feedback request.</summary>
    public const int MaxLabels = 10_000;

    /// <summary>Longest request id accepted.</summary>
    public const int MaxRequestId = 200;

    public static IEndpointRouteBuilder MapMonitoringApi(this IEndpointRouteBuilder app)
    {
        // Like predict: the role is checked in the endpoint's project once the endpoint is known.
        app.MapPost("/v1/endpoints/{name}/feedback", FeedbackAsync).RequireAnyKey().WithTags("monitoring");
        app.MapGroup("/api/v1/projects/{project}/monitors").WithTags("monitoring")
            .MapGet("/{endpoint}/results", ResultsAsync).RequireRole(Role.Viewer);
        return app;
    }

    /// <summary>
    /// Stores labels <c>{"labels":[{"request_id":"…","label":1}]}</c> for predictions of the endpoint. Every request id
    /// must be in the endpoint's prediction log; if one is not, nothing of the batch is stored.
    /// </summary>
    private static async Task<Ok<FeedbackResponse>> FeedbackAsync([AsParameters] ApiContext api, string name)
    {
        var deployment = ServingApi.Authorize(api, name, Role.Editor);
        List<FeedbackLabel> labels;
        using (var document = await JsonDocument.ParseAsync(api.Http.Request.Body, new JsonDocumentOptions { MaxDepth = 8 }, api.Aborted).ConfigureAwait(false))
        {
            labels = ParseLabels(document.RootElement);
        }

        var serving = api.State.Serving;
        var folder = serving.PredictionLogFolder
            ?? throw new StrataException(ErrorCodes.NotFound, "this server keeps no prediction log, so feedback cannot be joined to predictions");
        var wanted = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var label in labels)
        {
            wanted[label.RequestId] = label.Label;
        }

        var feed = new PredictionLogFeed(folder, name);
        var (_, found) = await feed.JoinLabelsAsync(wanted, api.Aborted).ConfigureAwait(false);
        if (found.Count < wanted.Count)
        {
            // NOTE: a prediction of the last minute may still be in the open segment, which readers skip: close it and look again.
            await serving.FlushPredictionLogAsync(api.Aborted).ConfigureAwait(false);
            (_, found) = await feed.JoinLabelsAsync(wanted, api.Aborted).ConfigureAwait(false);
        }

        var missing = labels.FindIndex(l => !found.Contains(l.RequestId));
        if (missing >= 0)
        {
            throw new StrataException(
                ErrorCodes.NotFound,
                $"field 'labels[{missing}].request_id': request id '{labels[missing].RequestId}' is not in endpoint '{name}''s prediction log; no label of this request was stored");
        }

        await api.State.Home.Metadata.Monitoring.SaveLabelsAsync(deployment.Project, name, labels, api.Caller.Actor, api.Aborted).ConfigureAwait(false);
        return TypedResults.Ok(new FeedbackResponse(labels.Count));
    }

    /// <summary>The stored results of an endpoint's monitors whose windows start in [from, to) (ISO 8601 or UTC microseconds).</summary>
    private static async Task<Ok<IReadOnlyList<MonitorResult>>> ResultsAsync(
        [AsParameters] ApiContext api, string project, string endpoint, [FromQuery(Name = "from")] string? start, [FromQuery(Name = "to")] string? end,
        string? monitor, string? check, int? limit)
    {
        Names.Check("endpoint", endpoint);
        var query = new MonitorResultQuery(
            endpoint,
            start is null ? null : AliasesApi.ParseTime("from", start),
            end is null ? null : AliasesApi.ParseTime("to", end),
            monitor,
            check,
            limit ?? 10_000);
        return TypedResults.Ok(await api.State.Home.Metadata.Monitoring.ListResultsAsync(project, query, api.Aborted).ConfigureAwait(false));
    }

    /// <summary>Reads the feedback body, naming the field of the first mistake.</summary>
    internal static List<FeedbackLabel> ParseLabels(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("labels", out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'labels' must be an array of {\"request_id\": \"…\", \"label\": number}");
        }

        var count = array.GetArrayLength();
        if (count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "field 'labels' is empty");
        }

        if (count > MaxLabels)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"field 'labels' has {count} items; at most {MaxLabels} per request");
        }

        var labels = new List<FeedbackLabel>(count);
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'labels[{i}]' must be an object with request_id and label");
            }

            var id = item.TryGetProperty("request_id", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : null;
            if (string.IsNullOrEmpty(id) || id.Length > MaxRequestId)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'labels[{i}].request_id' must be a string of 1 to {MaxRequestId} characters");
            }

            if (!item.TryGetProperty("label", out var l))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"field 'labels[{i}].label' is missing");
            }

            var label = l.ValueKind switch
            {
                JsonValueKind.Number when l.TryGetDouble(out var d) && double.IsFinite(d) => d,
                JsonValueKind.True => 1.0,
                JsonValueKind.False => 0.0,
                _ => throw new StrataException(
                    ErrorCodes.ArgumentInvalid, $"field 'labels[{i}].label' must be a number (or true/false), not {l.ValueKind.ToString().ToLowerInvariant()}"),
            };
            labels.Add(new FeedbackLabel(id, label));
            i++;
        }

        return labels;
    }
}
