using System.Text.Json;
using Strata.Api;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Server.Features;
using Strata.Server.Hosting;
using Strata.Server.Http;
using Strata.Stores;

namespace Strata.Server.Endpoints;

/// <summary>
/// The feature server: Feast-compatible routes at the root (<c>/get-online-features</c>, <c>/push</c>,
/// <c>/materialize</c>, <c>/materialize-incremental</c>; the project comes from <c>?project=</c>, the
/// <c>Strata-Project</c> header or the server's default) and the same operations under
/// <c>/api/v1/projects/{project}/features…</c>, with the API keys and roles of the registry.
/// </summary>
internal static class FeaturesApi
{
    public static IEndpointRouteBuilder MapFeaturesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/get-online-features", GetOnlineFeaturesAsync).RequireRole(Role.Viewer).WithCachedKeyCheck().WithTags("feast");
        app.MapPost("/push", PushAsync).RequireRole(Role.Editor).WithTags("feast");
        app.MapPost("/materialize", MaterializeAsync).RequireRole(Role.Editor).WithTags("feast");
        app.MapPost("/materialize-incremental", MaterializeIncrementalAsync).RequireRole(Role.Editor).WithTags("feast");

        var api = app.MapGroup("/api/v1/projects/{project}/features").WithTags("features");
        api.MapGet("/", GetDefinitionsAsync).RequireRole(Role.Viewer);
        api.MapGet("/versions", ListVersionsAsync).RequireRole(Role.Viewer);
        api.MapPost("/online", GetOnlineFeaturesAsync).RequireRole(Role.Viewer).WithCachedKeyCheck();
        api.MapPost("/push", PushAsync).RequireRole(Role.Editor);
        api.MapPost("/materialize", MaterializeAsync).RequireRole(Role.Editor);
        api.MapPost("/materialize-incremental", MaterializeIncrementalAsync).RequireRole(Role.Editor);
        return app;
    }

    private static async Task GetOnlineFeaturesAsync(HttpContext http, ServerState state, ServerMetrics metrics)
    {
        var store = await state.Features.GetAsync(FeatureProject.Of(http), http.RequestAborted).ConfigureAwait(false);
        using var body = await ReadBodyAsync(http).ConfigureAwait(false);
        var request = FeastJson.ReadOnlineRequest(body.RootElement);
        RequireServiceOfKeyEndpoints(http, state, store.Project, request.FeatureService);
        var features = store.Resolve(request.Features, request.FeatureService);
        var rows = FeastJson.EntityRows(request, DeclaredTypes(store, features));
        var values = await store.GetOnlineFeaturesAsync(features, rows, request.FullFeatureNames, http.RequestAborted).ConfigureAwait(false);

        // Counted once answered: a lookup that failed is in strata_http_requests_total with its status instead.
        metrics.FeatureLookups.Labels(store.Project).Inc();
        metrics.FeatureEntities.Labels(store.Project).Inc(rows.RowCount);

        http.Response.ContentType = "application/json";
        await using (var writer = new Utf8JsonWriter(http.Response.BodyWriter))
        {
            FeastJson.WriteOnlineResponse(writer, rows, values);
        }

        await http.Response.BodyWriter.FlushAsync(http.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<IResult> PushAsync(HttpContext http, ServerState state)
    {
        RequireKeyNotLimitedToEndpoints(http, state, "push feature data");
        var store = await state.Features.GetAsync(FeatureProject.Of(http), http.RequestAborted).ConfigureAwait(false);
        using var body = await ReadBodyAsync(http).ConfigureAwait(false);
        var (source, frame, to) = FeastJson.ReadPush(body.RootElement);
        var definition = store.Repository.Sources.FirstOrDefault(s => s.Name == source)
            ?? throw new StrataException(ErrorCodes.NotFound, $"push source '{source}' is not defined in project '{store.Project}'");
        if (definition.Kind != SourceKind.Push || definition.Schema is null)
        {
            throw FeastJson.Invalid($"source '{source}' is not a push source");
        }

        var rows = FeastJson.Frame(frame, definition.Schema, source);
        var views = await store.PushAsync(source, rows, to, http.RequestAborted).ConfigureAwait(false);
        await state.Home.Metadata.Audit.RecordAsync(store.Project, "features.push", source, FeatureAudit.Push(rows.RowCount, to, views), http.GetCaller().Actor, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(new { rows = rows.RowCount, views });
    }

    private static async Task<IResult> MaterializeAsync(HttpContext http, ServerState state)
    {
        RequireKeyNotLimitedToEndpoints(http, state, "materialize features");
        var store = await state.Features.GetAsync(FeatureProject.Of(http), http.RequestAborted).ConfigureAwait(false);
        using var body = await ReadBodyAsync(http).ConfigureAwait(false);
        var (start, end, views) = FeastJson.ReadMaterialize(body.RootElement, incremental: false);
        var done = await store.MaterializeAsync(start!.Value, end, views, http.RequestAborted).ConfigureAwait(false);
        await state.Home.Metadata.Audit.RecordAsync(store.Project, "features.materialize", "online", FeatureAudit.Materialized(done), http.GetCaller().Actor, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(Summary(done));
    }

    private static async Task<IResult> MaterializeIncrementalAsync(HttpContext http, ServerState state)
    {
        RequireKeyNotLimitedToEndpoints(http, state, "materialize features");
        var store = await state.Features.GetAsync(FeatureProject.Of(http), http.RequestAborted).ConfigureAwait(false);
        using var body = await ReadBodyAsync(http).ConfigureAwait(false);
        var (_, end, views) = FeastJson.ReadMaterialize(body.RootElement, incremental: true);
        var actor = http.GetCaller().Actor;
        var done = await store.MaterializeIncrementalAsync(end, actor, views, http.RequestAborted).ConfigureAwait(false);
        await state.Home.Metadata.Audit.RecordAsync(store.Project, "features.materialize-incremental", "online", FeatureAudit.Materialized(done), actor, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(Summary(done));
    }

    private static async Task<IResult> GetDefinitionsAsync(HttpContext http, string project, ServerState state)
    {
        var store = await state.Features.GetAsync(project, http.RequestAborted).ConfigureAwait(false);
        return Results.Text(store.Repository.ToCanonicalJson(), "application/json");
    }

    private static async Task<IResult> ListVersionsAsync(HttpContext http, string project, ServerState state)
    {
        var versions = await state.Home.Metadata.Features.ListVersionsAsync(project, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(versions.Select(v => new { v.Version, v.Digest, createdAt = Timestamp.Format(v.CreatedAt), v.CreatedBy }));
    }

    private static object Summary(IReadOnlyList<MaterializedView> done) =>
        new { views = done.Select(d => new { view = d.View, start = Timestamp.Format(d.StartMicros), end = Timestamp.Format(d.EndMicros), rows = d.Rows }) };

    private static Dictionary<string, DataType> DeclaredTypes(FeatureStore store, IReadOnlyList<FeatureReference> features)
    {
        var types = new Dictionary<string, DataType>(StringComparer.Ordinal);
        foreach (var reference in features)
        {
            if (store.Repository.OnDemandViews.FirstOrDefault(v => v.Name == reference.View) is { } onDemand)
            {
                foreach (var field in onDemand.RequestFields)
                {
                    types[field.Name] = field.Type;
                }

                foreach (var input in onDemand.Inputs)
                {
                    AddKeys(store, input.View, types);
                }
            }
            else
            {
                AddKeys(store, reference.View, types);
            }
        }

        return types;
    }

    private static void AddKeys(FeatureStore store, string view, Dictionary<string, DataType> types)
    {
        foreach (var key in store.JoinKeys(view))
        {
            types[key.Name] = key.Type;
        }
    }

    /// <summary>
    /// A key limited to some endpoints (<c>PUT /v1/keys/{key}/endpoints</c>) stands for a client of those endpoints: it
    /// reads only the feature services they enrich from (in the read's project), by name, never a list of features, or
    /// its limit would not hold for the features of every other endpoint.
    /// </summary>
    private static void RequireServiceOfKeyEndpoints(HttpContext http, ServerState state, string project, string? service)
    {
        if (state.Serving.KeyEndpoints(http.GetCaller().Principal.KeyId) is not { } endpoints)
        {
            return;
        }

        // The key's own endpoints only (a read answers per request: not every endpoint's status, sorted).
        var services = endpoints.Select(state.Serving.FindDeployment)
            .Where(d => d is not null && d.Project == project && d.FeatureService is not null)
            .Select(d => d!.FeatureService!)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
        if (service is not null && services.Contains(service, StringComparer.Ordinal))
        {
            return;
        }

        var may = services.Count == 0
            ? $"none of them enriches from a feature service of project '{project}'"
            : $"it may read {string.Join(", ", services.Select(s => $"feature service '{s}'"))}";
        throw new StrataException(
            ErrorCodes.Forbidden,
            $"this key is limited to endpoints {string.Join(", ", endpoints.Select(e => $"'{e}'"))}, so it reads only the feature services they use, "
            + $"named by feature_service{(service is null ? ", not a list of features" : $", not '{service}'")}; {may}");
    }

    /// <summary>Feature writes are refused to a key limited to endpoints: it may call those endpoints, not change what every endpoint reads.</summary>
    private static void RequireKeyNotLimitedToEndpoints(HttpContext http, ServerState state, string what)
    {
        if (state.Serving.KeyEndpoints(http.GetCaller().Principal.KeyId) is { } endpoints)
        {
            throw new StrataException(ErrorCodes.Forbidden, $"this key is limited to endpoints {string.Join(", ", endpoints.Select(e => $"'{e}'"))}, so it may not {what}");
        }
    }

    private static async Task<JsonDocument> ReadBodyAsync(HttpContext http)
    {
        try
        {
            return await RequestJson.ParseAsync(http.Request.Body, 16, http.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw FeastJson.Invalid(JsonErrors.Describe(e, "the request body"));
        }
    }
}
