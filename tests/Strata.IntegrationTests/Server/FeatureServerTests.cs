using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Features.Definitions;
using Strata.Security;
using Strata.Server.Hosting;
using Strata.Stores;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The feature server over HTTP: Feast's get-online-features, push and materialize routes (and the native ones under
/// the project), their exact JSON, every status, refusals that are 4xx problem+json with nothing written, access by
/// role and project, and a definitions change picked up by the running server.
/// </summary>
public sealed class FeatureServerTests(StrataServerFactory server) : IClassFixture<StrataServerFactory>, IAsyncLifetime
{
    private const string Project = "flights";

    /// <summary>A string-keyed and an int64-keyed entity, two push sources and a file source, every kind of view, a service.</summary>
    private const string Definitions = """
        entities:
          - name: origin
            join_keys: [{ name: origin, type: string }]
          - name: route
            join_keys: [{ name: route_id, type: int64 }]
        sources:
          - name: origin_events
            kind: push
            timestamp_field: ts
            schema:
              - { name: origin, type: string }
              - { name: ts, type: timestamp }
              - { name: delay, type: int64 }
          - name: route_events
            kind: push
            timestamp_field: ts
            schema:
              - { name: route_id, type: int64 }
              - { name: ts, type: timestamp }
              - { name: flights, type: int64 }
              - { name: mean_delay, type: float64 }
              - { name: carrier, type: string }
              - { name: cancelled, type: bool }
              - { name: load, type: float64 }
          - name: hourly
            kind: file
            path: data/hourly.csv
            timestamp_field: ts
        feature_views:
          - name: route_stats
            entities: [route]
            source: route_events
            ttl: 1h
            features:
              - { name: flights, type: int64 }
              - { name: mean_delay, type: float64 }
              - { name: carrier, type: string }
              - { name: cancelled, type: bool }
              - { name: load, type: float64 }
        aggregation_views:
          - name: origin_windows
            entities: [origin]
            source: origin_events
            aggregations:
              - { name: n_1h, function: count, window: 1h }
              - { name: mean_delay_1d, function: mean, column: delay, window: 1d }
        on_demand_views:
          - name: ratio
            request_fields: [{ name: distance, type: float64 }]
            inputs: [origin_windows:mean_delay_1d]
            features:
              - { name: delay_per_mile, type: float64, expression: "origin_windows__mean_delay_1d / (distance + 1)" }
              - { name: distance_squared, type: float64, expression: "distance * distance" }
          - name: booking
            request_fields: [{ name: booked_at, type: timestamp }]
            inputs: [origin_windows:n_1h]
            features:
              - { name: booked_hours, type: float64, expression: "booked_at / 3600000000" }
              - { name: load, type: float64, expression: "booked_at / 1000000" }
        feature_services:
          - name: svc
            features: [route_stats:*, origin_windows:n_1h, ratio:delay_per_mile]
        """;

    private static readonly string[] RouteFeatures = ["flights", "mean_delay", "carrier", "cancelled", "load"];
    private static long _nextId = 1_000;

    private IMetadataStore Metadata => server.Services.GetRequiredService<ServerState>().Home.Metadata;

    public async Task InitializeAsync() =>
        await new FeatureRegistry(Metadata).ApplyAsync(Project, FeatureRepositoryYaml.Parse([("features.yaml", Definitions)]), force: false, new Actor("test"));

    public Task DisposeAsync() => Task.CompletedTask;

    // ---- get-online-features ------------------------------------------------------------------------------------

    [Fact]
    public async Task Get_online_features_answers_in_feasts_shape_with_typed_values_and_every_status()
    {
        var (present, nulls, stale, missing) = (NextId(), NextId(), NextId(), NextId());
        var now = DateTimeOffset.UtcNow;
        await PushRoutesAsync("online", (present, now.AddMinutes(-5), 7, 12.5, "UA", true, 0.75), (nulls, now.AddMinutes(-5), null, null, null, null, null));
        await PushRoutesAsync("online", (stale, now.AddHours(-2), 3, 1.5, "AA", false, 0.5));
        using var http = server.Http("viewer");

        var body = await PostOkAsync(http, $"/get-online-features?project={Project}", $$$"""
            {"features": ["route_stats:flights", "route_stats:mean_delay", "route_stats:carrier", "route_stats:cancelled", "route_stats:load"],
             "entities": {"route_id": [{{{present}}}, {{{nulls}}}, {{{stale}}}, {{{missing}}}]}}
            """);

        Assert.Equal(["metadata", "results"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["feature_names"], body.GetProperty("metadata").EnumerateObject().Select(p => p.Name));
        Assert.Equal(["route_id", .. RouteFeatures], Names(body));
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(6, results.Length);
        Assert.All(results, r => Assert.Equal(["values", "statuses", "event_timestamps"], r.EnumerateObject().Select(p => p.Name)));
        Assert.Equal($"[{present},{nulls},{stale},{missing}]", Compact(results[0].GetProperty("values")));
        Assert.Equal(["PRESENT", "PRESENT", "PRESENT", "PRESENT"], Statuses(results[0]));
        Assert.Equal("[7,null,null,null]", Compact(results[1].GetProperty("values")));
        Assert.Equal("[12.5,null,null,null]", Compact(results[2].GetProperty("values")));
        Assert.Equal("[\"UA\",null,null,null]", Compact(results[3].GetProperty("values")));
        Assert.Equal("[true,null,null,null]", Compact(results[4].GetProperty("values")));
        Assert.Equal("[0.75,null,null,null]", Compact(results[5].GetProperty("values")));
        // As Feast does, a value past the view's TTL is withheld (null), and its status says why.
        foreach (var result in results[1..])
        {
            Assert.Equal(["PRESENT", "NULL_VALUE", "OUTSIDE_MAX_AGE", "NOT_FOUND"], Statuses(result));
        }

        var times = results[1].GetProperty("event_timestamps").EnumerateArray().Select(t => t.GetString()!).ToArray();
        Assert.True(Timestamp.TryParse(times[0], out var eventMicros), times[0]);
        Assert.Equal(Timestamp.FromDateTimeOffset(now.AddMinutes(-5)) / 1_000_000, eventMicros / 1_000_000);
    }

    [Fact]
    public async Task Full_feature_names_prefix_the_view()
    {
        var id = NextId();
        await PushRoutesAsync("online", (id, DateTimeOffset.UtcNow, 1, 2.0, "B6", false, 0.1));
        using var http = server.Http("viewer");

        var body = await PostOkAsync(http, $"/get-online-features?project={Project}", $$$"""
            {"features": ["route_stats:flights", "route_stats:carrier"], "entities": {"route_id": [{{{id}}}]}, "full_feature_names": true}
            """);

        Assert.Equal(["route_id", "route_stats__flights", "route_stats__carrier"], Names(body));
    }

    [Fact]
    public async Task A_feature_service_serves_stored_windowed_and_on_demand_features()
    {
        var (route, origin) = (NextId(), "O" + NextId());
        var now = DateTimeOffset.UtcNow;
        await PushRoutesAsync("online", (route, now.AddMinutes(-1), 4, 8.0, "DL", false, 0.9));
        await PushOriginsAsync("online", (origin, now.AddMinutes(-10), 10), (origin, now.AddMinutes(-5), 20));
        using var http = server.Http("viewer");

        var body = await PostOkAsync(http, "/get-online-features", $$$"""
            {"feature_service": "svc", "entities": {"route_id": [{{{route}}}], "origin": ["{{{origin}}}"], "distance": [29]}}
            """, project: Project);

        Assert.Equal(["route_id", "origin", "distance", .. RouteFeatures, "n_1h", "delay_per_mile"], Names(body));
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal("[4]", Compact(results[3].GetProperty("values")));
        Assert.Equal("[2]", Compact(results[8].GetProperty("values")));
        Assert.Equal(0.5, results[9].GetProperty("values")[0].GetDouble(), 9);
        Assert.All(results, r => Assert.Equal(["PRESENT"], Statuses(r)));
    }

    [Fact]
    public async Task Timestamp_request_fields_are_echoed_as_iso_8601_utc_with_their_microseconds()
    {
        using var http = server.Http("viewer");

        var body = await PostOkAsync(http, $"/get-online-features?project={Project}", """
            {"features": ["booking:booked_hours"],
             "entities": {"origin": ["a", "b", "c"], "booked_at": ["2026-01-01T00:00:00.123456Z", "2026-01-01T01:30:00+01:00", null]}}
            """);

        Assert.Equal(["origin", "booked_at", "booked_hours"], Names(body));
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal("""["2026-01-01T00:00:00.123456Z","2026-01-01T00:30:00Z",null]""", Compact(results[1].GetProperty("values")));
        Assert.Equal(Timestamp.FromDateTime(new DateTime(2026, 1, 1, 0, 30, 0, DateTimeKind.Utc)) / 3_600_000_000.0, results[2].GetProperty("values")[1].GetDouble(), 9);
    }

    [Fact]
    public async Task Features_of_one_name_from_two_views_are_read_under_full_names()
    {
        using var http = server.Http("viewer");

        var body = await PostOkAsync(http, $"/get-online-features?project={Project}", """
            {"features": ["route_stats:load", "booking:load"], "entities": {"route_id": [1], "origin": ["a"], "booked_at": ["1970-01-01T00:00:02Z"]}, "full_feature_names": true}
            """);

        Assert.Equal(["route_id", "origin", "booked_at", "route_stats__load", "booking__load"], Names(body));
        Assert.Equal(2.0, body.GetProperty("results")[4].GetProperty("values")[0].GetDouble());
    }

    [Fact]
    public async Task An_on_demand_result_beyond_a_double_is_a_null_value_not_a_present_null()
    {
        using var http = server.Http("viewer");

        var body = await PostOkAsync(http, $"/get-online-features?project={Project}", """
            {"features": ["ratio:distance_squared"], "entities": {"origin": ["a", "a"], "distance": [1e200, 3]}}
            """);

        var result = body.GetProperty("results")[2];
        Assert.Equal("[null,9]", Compact(result.GetProperty("values")));
        Assert.Equal(["NULL_VALUE", "PRESENT"], Statuses(result));
    }

    [Fact]
    public async Task Many_entities_come_back_in_request_order()
    {
        var ids = Enumerable.Range(0, 300).Select(_ => NextId()).ToArray();
        var now = DateTimeOffset.UtcNow;
        await PushRoutesAsync("online", ids.Select(id => (id, now, (long?)(id * 2), (double?)id, (string?)$"C{id}", (bool?)(id % 2 == 0), (double?)0.5)).ToArray());
        var asked = ids.OrderBy(id => (id * 7919) % 301).ToArray();
        using var http = server.Http("viewer");

        var body = await PostOkAsync(http, $"/get-online-features?project={Project}", $$$"""
            {"features": ["route_stats:flights", "route_stats:carrier"], "entities": {"route_id": [{{{string.Join(',', asked)}}}]}}
            """);

        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(asked, results[0].GetProperty("values").EnumerateArray().Select(v => v.GetInt64()));
        Assert.Equal(asked.Select(id => id * 2), results[1].GetProperty("values").EnumerateArray().Select(v => v.GetInt64()));
        Assert.Equal(asked.Select(id => $"C{id}"), results[2].GetProperty("values").EnumerateArray().Select(v => v.GetString()));
    }

    // ---- push and materialize -----------------------------------------------------------------------------------

    [Fact]
    public async Task Push_goes_where_it_is_told()
    {
        var (online, offline, both) = (NextId(), NextId(), NextId());
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);

        await PushRoutesAsync("online", (online, now, 1, 1.0, "A", true, 1.0));
        await PushRoutesAsync("offline", (offline, now, 2, 2.0, "B", true, 2.0));
        await PushRoutesAsync("online_and_offline", (both, now, 3, 3.0, "C", true, 3.0));

        Assert.Equal(["PRESENT", "NOT_FOUND", "PRESENT"], await FlightStatusesAsync(online, offline, both));
        var stored = await OfflineRouteIdsAsync();
        Assert.DoesNotContain(online, stored);
        Assert.Contains(offline, stored);
        Assert.Contains(both, stored);
    }

    [Fact]
    public async Task Pushed_offline_rows_are_served_after_materialize()
    {
        var id = NextId();
        var now = DateTimeOffset.UtcNow;
        await PushRoutesAsync("offline", (id, now.AddMinutes(-3), 9, 9.5, "WN", false, 0.3));
        Assert.Equal(["NOT_FOUND"], await FlightStatusesAsync(id));
        using var http = server.Http("editor");

        var done = await PostOkAsync(http, $"/materialize?project={Project}", $$$"""
            {"start_ts": "{{{Iso(now.AddMinutes(-10))}}}", "end_ts": "{{{Iso(now.AddMinutes(1))}}}", "feature_views": ["route_stats"]}
            """);

        var view = Assert.Single(done.GetProperty("views").EnumerateArray());
        Assert.Equal("route_stats", view.GetProperty("view").GetString());
        Assert.True(view.GetProperty("rows").GetInt64() >= 1);
        Assert.Equal(["PRESENT"], await FlightStatusesAsync(id));

        // Both changes of feature data are in the audit chain, with who did them and what they wrote.
        var audit = await Metadata.Audit.ReadAsync(0, 100_000);
        Assert.Contains(audit, e => e.Action == "features.push" && e.Project == Project && e.Details!.Contains("to=Offline", StringComparison.Ordinal));
        Assert.Contains(audit, e => e.Action == "features.materialize" && e.Project == Project && e.Details!.Contains("route_stats", StringComparison.Ordinal));
        Assert.True((await Metadata.Audit.VerifyAsync()).Intact);
    }

    [Fact]
    public async Task Materialize_incremental_moves_the_watermark()
    {
        var id = NextId();
        await PushRoutesAsync("offline", (id, DateTimeOffset.UtcNow.AddMinutes(-2), 5, 5.0, "F9", true, 0.2));
        using var http = server.Http("editor");

        var first = await PostOkAsync(http, $"/materialize-incremental?project={Project}", $$$"""{"end_ts": "{{{Iso(DateTimeOffset.UtcNow)}}}", "feature_views": ["route_stats"]}""");
        var second = await PostOkAsync(http, $"/materialize-incremental?project={Project}", $$$"""{"end_ts": "{{{Iso(DateTimeOffset.UtcNow)}}}", "feature_views": ["route_stats"]}""");

        var (a, b) = (Assert.Single(first.GetProperty("views").EnumerateArray()), Assert.Single(second.GetProperty("views").EnumerateArray()));
        Assert.True(a.GetProperty("rows").GetInt64() >= 1, a.ToString());
        Assert.Equal(0, b.GetProperty("rows").GetInt64());
        Assert.Equal(a.GetProperty("end").GetString(), b.GetProperty("start").GetString());
        Assert.Equal(["PRESENT"], await FlightStatusesAsync(id));
    }

    // ---- refusals -----------------------------------------------------------------------------------------------

    public static TheoryData<string, string, HttpStatusCode, string> BadReads => new()
    {
        { "unknown view", """{"features": ["no_such_view:x"], "entities": {"route_id": [1]}}""", HttpStatusCode.NotFound, "no_such_view" },
        { "unknown feature", """{"features": ["route_stats:no_such_feature"], "entities": {"route_id": [1]}}""", HttpStatusCode.NotFound, "no_such_feature" },
        { "unknown service", """{"feature_service": "no_such_service", "entities": {"route_id": [1]}}""", HttpStatusCode.NotFound, "no_such_service" },
        { "number for a string key", """{"features": ["origin_windows:n_1h"], "entities": {"origin": [42]}}""", HttpStatusCode.BadRequest, "entities.origin" },
        { "string for an int key", """{"features": ["route_stats:flights"], "entities": {"route_id": ["x"]}}""", HttpStatusCode.BadRequest, "entities.route_id" },
        { "float for an int key", """{"features": ["route_stats:flights"], "entities": {"route_id": [1.5]}}""", HttpStatusCode.BadRequest, "entities.route_id" },
        { "columns of different lengths", """{"feature_service": "svc", "entities": {"route_id": [1, 2], "origin": ["a"], "distance": [1, 2]}}""", HttpStatusCode.BadRequest, "entities.origin" },
        { "missing key column", """{"features": ["route_stats:flights"], "entities": {"origin": ["a"]}}""", HttpStatusCode.BadRequest, "route_id" },
        { "missing request field", """{"features": ["ratio:delay_per_mile"], "entities": {"origin": ["a"]}}""", HttpStatusCode.BadRequest, "distance" },
        { "a request field beyond float64", """{"features": ["ratio:delay_per_mile"], "entities": {"origin": ["a"], "distance": [1e400]}}""", HttpStatusCode.BadRequest, "entities.distance[0] is 1e400, beyond the range of the column" },
        { "malformed JSON", """{"features": ["route_stats:flights"], "entities": {""", HttpStatusCode.BadRequest, "JSON" },
        { "not an object", """["route_stats:flights"]""", HttpStatusCode.BadRequest, "object" },
        { "unknown top-level field", """{"features": ["route_stats:flights"], "entities": {"route_id": [1]}, "entity_rows": []}""", HttpStatusCode.BadRequest, "entity_rows" },
        { "no entities", """{"features": ["route_stats:flights"]}""", HttpStatusCode.BadRequest, "entities" },
        { "a field twice", """{"features": ["route_stats:flights"], "entities": {"route_id": [1], "route_id": [2]}}""", HttpStatusCode.BadRequest, "field 'entities.route_id' appears more than once" },
        { "no features", """{"entities": {"route_id": [1]}}""", HttpStatusCode.BadRequest, "feature" },
        { "features as a string", """{"features": "route_stats:flights", "entities": {"route_id": [1]}}""", HttpStatusCode.BadRequest, "features" },
        { "bad reference", """{"features": ["flights"], "entities": {"route_id": [1]}}""", HttpStatusCode.BadRequest, "flights" },
        { "a feature twice", """{"features": ["route_stats:flights", "route_stats:flights"], "entities": {"route_id": [1]}}""", HttpStatusCode.BadRequest, "feature 'route_stats:flights' is asked for twice" },
        { "a feature twice, full names", """{"features": ["route_stats:flights", "route_stats:flights"], "entities": {"route_id": [1]}, "full_feature_names": true}""", HttpStatusCode.BadRequest, "feature 'route_stats:flights' is asked for twice" },
        { "two features of one name", """{"features": ["route_stats:load", "booking:load"], "entities": {"route_id": [1], "origin": ["a"], "booked_at": [null]}}""", HttpStatusCode.BadRequest, "features 'route_stats:load' and 'booking:load' are both named 'load'" },
    };

    [Theory]
    [MemberData(nameof(BadReads))]
    public async Task Bad_reads_are_refused_with_a_problem_naming_the_cause(string why, string json, HttpStatusCode status, string named)
    {
        using var http = server.Http("viewer");

        using var response = await http.PostAsync($"/get-online-features?project={Project}", Json(json));

        await AssertProblemAsync(response, status, named, why);
    }

    public static TheoryData<string, string, HttpStatusCode, string> BadPushes => new()
    {
        { "missing column", """{"push_source_name": "route_events", "df": {"route_id": [ID], "ts": [TS], "flights": [1], "mean_delay": [1.0], "carrier": ["A"], "cancelled": [true]}}""", HttpStatusCode.BadRequest, "load" },
        { "extra column", """{"push_source_name": "route_events", "df": {"route_id": [ID], "ts": [TS], "flights": [1], "mean_delay": [1.0], "carrier": ["A"], "cancelled": [true], "load": [1.0], "gate": ["G1"]}}""", HttpStatusCode.BadRequest, "gate" },
        { "wrong type", """{"push_source_name": "route_events", "df": {"route_id": [ID], "ts": [TS], "flights": ["many"], "mean_delay": [1.0], "carrier": ["A"], "cancelled": [true], "load": [1.0]}}""", HttpStatusCode.BadRequest, "df.flights" },
        { "wrong type in a later row", """{"push_source_name": "route_events", "df": {"route_id": [ID, ID], "ts": [TS, TS], "flights": [1, 2], "mean_delay": [1.0, 2.0], "carrier": ["A", 3], "cancelled": [true, true], "load": [1.0, 1.0]}}""", HttpStatusCode.BadRequest, "df.carrier[1]" },
        { "a number beyond float64", """{"push_source_name": "route_events", "df": {"route_id": [ID], "ts": [TS], "flights": [1], "mean_delay": [-1e400], "carrier": ["A"], "cancelled": [true], "load": [1.0]}}""", HttpStatusCode.BadRequest, "df.mean_delay[0] is -1e400, beyond the range of the column (float64" },
        { "bad timestamp", """{"push_source_name": "route_events", "df": {"route_id": [ID], "ts": ["yesterday"], "flights": [1], "mean_delay": [1.0], "carrier": ["A"], "cancelled": [true], "load": [1.0]}}""", HttpStatusCode.BadRequest, "df.ts" },
        { "a column twice", """{"push_source_name": "route_events", "df": {"route_id": [ID], "ts": [TS], "flights": [1], "mean_delay": [1.0], "carrier": ["A"], "cancelled": [true], "load": [1.0], "flights": [2]}}""", HttpStatusCode.BadRequest, "field 'df.flights' appears more than once" },
        { "columns of different lengths", """{"push_source_name": "route_events", "df": {"route_id": [ID], "ts": [TS], "flights": [1, 2], "mean_delay": [1.0], "carrier": ["A"], "cancelled": [true], "load": [1.0]}}""", HttpStatusCode.BadRequest, "df.flights" },
        { "a file source", """{"push_source_name": "hourly", "df": {"route_id": [ID]}}""", HttpStatusCode.BadRequest, "hourly" },
        { "unknown source", """{"push_source_name": "no_such_source", "df": {"route_id": [ID]}}""", HttpStatusCode.NotFound, "no_such_source" },
        { "unknown target", """{"push_source_name": "route_events", "df": {"route_id": [ID]}, "to": "elsewhere"}""", HttpStatusCode.BadRequest, "elsewhere" },
        { "unknown top-level field", """{"push_source_name": "route_events", "df": {"route_id": [ID]}, "mode": "fast"}""", HttpStatusCode.BadRequest, "mode" },
        { "no df", """{"push_source_name": "route_events"}""", HttpStatusCode.BadRequest, "df" },
        { "malformed JSON", """{"push_source_name": "route_events", "df": {"route_id": [ID""", HttpStatusCode.BadRequest, "JSON" },
    };

    [Theory]
    [MemberData(nameof(BadPushes))]
    public async Task Bad_pushes_are_refused_and_write_nothing(string why, string template, HttpStatusCode status, string named)
    {
        var id = NextId();
        var json = template.Replace("ID", id.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("TS", $"\"{Iso(DateTimeOffset.UtcNow)}\"", StringComparison.Ordinal);
        using var http = server.Http("editor");

        using var response = await http.PostAsync($"/push?project={Project}", Json(json.Replace("}}", "}, \"to\": \"online_and_offline\"}", StringComparison.Ordinal)));

        await AssertProblemAsync(response, status, named, why);
        Assert.Equal(["NOT_FOUND"], await FlightStatusesAsync(id));
        Assert.DoesNotContain(id, await OfflineRouteIdsAsync());
    }

    public static TheoryData<string, string, string> NotUtf8Bodies => new()
    {
        { "a lone surrogate as the service", "/get-online-features", """{"feature_service": "\ud800", "entities": {"route_id": [1]}}""" },
        { "a lone surrogate as an entity key", "/get-online-features", """{"features": ["origin_windows:n_1h"], "entities": {"origin": ["\ud800"]}}""" },
        { "a lone surrogate in a reference", "/get-online-features", """{"features": ["route_stats:\ud800"], "entities": {"route_id": [1]}}""" },
        { "a lone surrogate as an entity name", "/get-online-features", """{"features": ["route_stats:flights"], "entities": {"\udc00": [1]}}""" },
        { "a lone surrogate as the source", "/push", """{"push_source_name": "\udc00", "df": {"route_id": [1]}}""" },
        { "a lone surrogate as a pushed value", "/push", """{"push_source_name": "origin_events", "df": {"origin": ["\ud800"], "ts": ["2026-01-01T00:00:00Z"], "delay": [1]}}""" },
        { "a lone surrogate as the target", "/push", """{"push_source_name": "origin_events", "df": {"origin": ["a"], "ts": ["2026-01-01T00:00:00Z"], "delay": [1]}, "to": "\ud800"}""" },
        { "a lone surrogate as a start", "/materialize", """{"start_ts": "\ud800", "end_ts": "2026-01-01T00:00:00Z"}""" },
        { "a lone surrogate as a view", "/materialize-incremental", """{"end_ts": "2026-01-01T00:00:00Z", "feature_views": ["\ud800"]}""" },
        { "a raw 0xFF byte as an entity key", "/get-online-features", "{\"features\": [\"origin_windows:n_1h\"], \"entities\": {\"origin\": [\"a\xFF\"]}}" },
        { "a raw 0xFF byte as a pushed value", "/push", "{\"push_source_name\": \"origin_events\", \"df\": {\"origin\": [\"\xFF\"], \"ts\": [\"2026-01-01T00:00:00Z\"], \"delay\": [1]}}" },
        { "a raw 0xFF byte in a field name", "/materialize", "{\"\xFF\": 1}" },
    };

    [Theory]
    [MemberData(nameof(NotUtf8Bodies))]
    public async Task Text_that_is_not_utf8_is_a_400_on_every_feature_route(string why, string route, string json)
    {
        // Chars below 0x100 stand for raw bytes, so "\xFF" reaches the server as the byte 0xFF, which is never UTF-8.
        using var content = new ByteArrayContent(json.Select(c => (byte)c).ToArray());
        content.Headers.ContentType = new("application/json");
        using var http = server.Http("editor");

        using var response = await http.PostAsync($"{route}?project={Project}", content);

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{why}: {(int)response.StatusCode} {body}");
        using var problem = JsonDocument.Parse(body);
        Assert.Equal("data.encoding", problem.RootElement.GetProperty("code").GetString());
        Assert.Contains("UTF-8", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_materialize_requests_are_refused()
    {
        using var http = server.Http("editor");

        await AssertProblemAsync(await http.PostAsync($"/materialize?project={Project}", Json("""{"end_ts": "2024-01-01T00:00:00Z"}""")), HttpStatusCode.BadRequest, "start_ts", "no start");
        await AssertProblemAsync(await http.PostAsync($"/materialize?project={Project}", Json("""{"start_ts": "then", "end_ts": "2024-01-01T00:00:00Z"}""")), HttpStatusCode.BadRequest, "start_ts", "bad start");
        await AssertProblemAsync(await http.PostAsync($"/materialize?project={Project}", Json("""{"start_ts": "2024-01-01T00:00:00Z", "end_ts": "2024-01-02T00:00:00Z", "feature_views": ["nope"]}""")), HttpStatusCode.NotFound, "nope", "unknown view");
        await AssertProblemAsync(await http.PostAsync($"/materialize-incremental?project={Project}", Json("""{"end_ts": "2024-01-01T00:00:00Z", "start_ts": "2024-01-01T00:00:00Z"}""")), HttpStatusCode.BadRequest, "start_ts", "start on incremental");
        await AssertProblemAsync(await http.PostAsync($"/materialize?project={Project}", Json("""{"start_ts": "2024-01-01T00:00:00Z", "end_ts": "2024-01-02T00:00:00Z", "feature_views": ["ratio"]}""")), HttpStatusCode.BadRequest, "'ratio' is an on-demand view", "an on-demand view");
        await AssertProblemAsync(await http.PostAsync($"/materialize-incremental?project={Project}", Json("""{"end_ts": "2024-01-01T00:00:00Z", "feature_views": ["ratio"]}""")), HttpStatusCode.BadRequest, "'ratio' is an on-demand view", "an on-demand view, incremental");
    }

    [Fact]
    public async Task An_empty_list_of_views_materializes_nothing_and_is_a_400()
    {
        var id = NextId();
        await PushRoutesAsync("offline", (id, DateTimeOffset.UtcNow.AddMinutes(-3), 9, 9.5, "WN", false, 0.3));
        using var http = server.Http("editor");
        var range = $"\"start_ts\": \"{Iso(DateTimeOffset.UtcNow.AddMinutes(-10))}\", \"end_ts\": \"{Iso(DateTimeOffset.UtcNow.AddMinutes(1))}\"";

        await AssertProblemAsync(await http.PostAsync($"/materialize?project={Project}", Json("{" + range + ", \"feature_views\": []}")), HttpStatusCode.BadRequest, "feature_views is empty", "empty list");
        await AssertProblemAsync(await http.PostAsync($"/materialize-incremental?project={Project}", Json("""{"end_ts": "2024-01-01T00:00:00Z", "feature_views": []}""")), HttpStatusCode.BadRequest, "feature_views is empty", "empty list, incremental");

        Assert.Equal(["NOT_FOUND"], await FlightStatusesAsync(id));
        var all = await PostOkAsync(http, $"/materialize?project={Project}", "{" + range + ", \"feature_views\": null}");
        Assert.Contains("route_stats", all.GetProperty("views").EnumerateArray().Select(v => v.GetProperty("view").GetString()));
        Assert.Equal(["PRESENT"], await FlightStatusesAsync(id));
    }

    [Fact]
    public async Task A_body_over_the_limit_is_refused_with_413()
    {
        var ids = string.Join(',', Enumerable.Range(0, (int)(StrataServerFactory.MaxBody / 6) + 10).Select(i => 100_000 + i));
        using var http = server.Http("viewer");

        using var response = await http.PostAsync($"/get-online-features?project={Project}", Json($$$"""{"features": ["route_stats:flights"], "entities": {"route_id": [{{{ids}}}]}}"""));

        await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "", "over the limit");
    }

    [Fact]
    public async Task A_global_key_without_a_project_and_no_default_is_a_400()
    {
        using var http = server.Http("root");

        using var response = await http.PostAsync("/get-online-features", Json("""{"features": ["route_stats:flights"], "entities": {"route_id": [1]}}"""));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "project", "no project");
    }

    [Fact]
    public async Task An_unknown_project_is_a_404()
    {
        using var http = server.Http("root");

        using var response = await http.PostAsync("/get-online-features?project=no-such-project", Json("""{"features": ["route_stats:flights"], "entities": {"route_id": [1]}}"""));

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "no-such-project", "unknown project");
    }

    // ---- access -------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Keys_decide_who_may_read_push_and_materialize()
    {
        var id = NextId();
        var read = $$$"""{"features": ["route_stats:flights"], "entities": {"route_id": [{{{id}}}]}}""";
        var push = PushJson("online", (id, DateTimeOffset.UtcNow, 1, 1.0, "A", true, 1.0));
        var materialize = $$$"""{"end_ts": "{{{Iso(DateTimeOffset.UtcNow)}}}"}""";
        using var anonymous = server.Http();
        using var viewer = server.Http("viewer");
        using var stranger = server.Http("other-admin");

        await AssertProblemAsync(await anonymous.PostAsync($"/get-online-features?project={Project}", Json(read)), HttpStatusCode.Unauthorized, "", "no key");
        await AssertProblemAsync(await anonymous.PostAsync($"/api/v1/projects/{Project}/features/online", Json(read)), HttpStatusCode.Unauthorized, "", "no key, native");
        Assert.Equal(HttpStatusCode.OK, (await viewer.PostAsync("/get-online-features", Json(read))).StatusCode); // the key's own project
        await AssertProblemAsync(await viewer.PostAsync("/push", Json(push)), HttpStatusCode.Forbidden, "", "viewer push");
        await AssertProblemAsync(await viewer.PostAsync("/materialize-incremental", Json(materialize)), HttpStatusCode.Forbidden, "", "viewer materialize");
        await AssertProblemAsync(await viewer.PostAsync($"/api/v1/projects/{Project}/features/push", Json(push)), HttpStatusCode.Forbidden, "", "viewer native push");
        await AssertProblemAsync(await stranger.PostAsync($"/get-online-features?project={Project}", Json(read)), HttpStatusCode.Forbidden, "", "other project's admin");
        using var header = new HttpRequestMessage(HttpMethod.Post, "/push") { Content = Json(push) };
        header.Headers.Add("Strata-Project", Project);
        await AssertProblemAsync(await stranger.SendAsync(header), HttpStatusCode.Forbidden, "", "other project's admin by header");
        await AssertProblemAsync(await stranger.PostAsync($"/api/v1/projects/{Project}/features/online", Json(read)), HttpStatusCode.Forbidden, "", "other project's admin, native");
        Assert.Equal(["NOT_FOUND"], await FlightStatusesAsync(id));
    }

    [Fact]
    public async Task A_revoked_key_stops_reading_online_features_within_the_poll_interval()
    {
        // Online reads authenticate through the cached key check (no store read per request), so a revocation reaches
        // them when the serving runtime next sees the change sequence move: within its poll interval, not at once.
        var read = $$$"""{"features": ["route_stats:flights"], "entities": {"route_id": [{{{NextId()}}}]}}""";
        var issued = await server.Registry.CreateKeyAsync(Caller.Local, Project, "short-lived-reader", Role.Viewer, null);
        using var http = server.Http();
        http.DefaultRequestHeaders.Authorization = new("Bearer", issued.Token);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/get-online-features", Json(read))).StatusCode);

        await server.Registry.RevokeKeyAsync(Caller.Local, Project, issued.Key.Id);

        var deadline = DateTime.UtcNow.AddSeconds(5);
        var (feast, native) = (HttpStatusCode.OK, HttpStatusCode.OK);
        while ((feast == HttpStatusCode.OK || native == HttpStatusCode.OK) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            feast = (await http.PostAsync("/get-online-features", Json(read))).StatusCode;
            native = (await http.PostAsync($"/api/v1/projects/{Project}/features/online", Json(read))).StatusCode;
        }

        Assert.Equal(HttpStatusCode.Unauthorized, feast);
        Assert.Equal(HttpStatusCode.Unauthorized, native);
    }

    // ---- native routes ------------------------------------------------------------------------------------------

    [Fact]
    public async Task Native_routes_answer_as_the_feast_ones_do()
    {
        var (route, origin) = (NextId(), "O" + NextId());
        using var editor = server.Http("editor");
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        var pushed = await PostOkAsync(editor, $"/api/v1/projects/{Project}/features/push", PushJson("online", (route, now, 6, 6.5, "AS", false, 0.6)));
        Assert.Equal(1, pushed.GetProperty("rows").GetInt32());
        await PushOriginsAsync("online", (origin, now, 12));
        var read = $$$"""{"feature_service": "svc", "entities": {"route_id": [{{{route}}}, 1], "origin": ["{{{origin}}}", "none"], "distance": [5, 5.5]}, "full_feature_names": true}""";
        using var viewer = server.Http("viewer");

        var feast = await PostOkAsync(viewer, $"/get-online-features?project={Project}", read);
        var native = await PostOkAsync(viewer, $"/api/v1/projects/{Project}/features/online", read);

        Assert.Equal(feast.GetRawText(), native.GetRawText());
        Assert.Equal("[\"PRESENT\",\"NOT_FOUND\"]", Compact(native.GetProperty("results")[3].GetProperty("statuses")));
    }

    [Fact]
    public async Task Native_routes_list_the_definitions_and_their_versions()
    {
        using var viewer = server.Http("viewer");

        using var definitions = await viewer.GetAsync($"/api/v1/projects/{Project}/features");
        var versions = await GetOkAsync(viewer, $"/api/v1/projects/{Project}/features/versions");

        Assert.Equal(HttpStatusCode.OK, definitions.StatusCode);
        Assert.Equal("application/json", definitions.Content.Headers.ContentType?.MediaType);
        Assert.Equal((await new FeatureRegistry(Metadata).GetAsync(Project)).ToCanonicalJson(), await definitions.Content.ReadAsStringAsync());
        var version = Assert.Single(versions.EnumerateArray());
        Assert.Equal(1, version.GetProperty("version").GetInt32());
        Assert.Equal("test", version.GetProperty("createdBy").GetString());
        Assert.Equal(64, version.GetProperty("digest").GetString()!.Length);
    }

    // ---- definitions change -------------------------------------------------------------------------------------

    [Fact]
    public async Task A_new_definitions_version_is_served_within_two_seconds()
    {
        const string Load = "      - { name: load, type: float64 }\n";
        var at = Definitions.LastIndexOf(Load, StringComparison.Ordinal); // the view's features, not the source's schema
        var withoutLoad = Definitions.Remove(at, Load.Length);
        var project = "defs-" + NextId();
        await Metadata.Projects.CreateAsync(project, null, new Actor("test"));
        var registry = new FeatureRegistry(Metadata);
        await registry.ApplyAsync(project, FeatureRepositoryYaml.Parse([("features.yaml", withoutLoad)]), force: false, new Actor("test"));
        using var http = server.Http("root");
        var read = """{"features": ["route_stats:flights", "route_stats:load"], "entities": {"route_id": [1]}}""";
        await AssertProblemAsync(await http.PostAsync($"/get-online-features?project={project}", Json(read)), HttpStatusCode.NotFound, "load", "before");

        await registry.ApplyAsync(project, FeatureRepositoryYaml.Parse([("features.yaml", Definitions)]), force: false, new Actor("test"));
        var applied = DateTime.UtcNow;
        HttpStatusCode status;
        do
        {
            await Task.Delay(100);
            using var response = await http.PostAsync($"/get-online-features?project={project}", Json(read));
            status = response.StatusCode;
        }
        while (status != HttpStatusCode.OK && DateTime.UtcNow - applied < TimeSpan.FromSeconds(3));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(DateTime.UtcNow - applied < TimeSpan.FromSeconds(2.5), $"took {DateTime.UtcNow - applied}");
        var now = DateTimeOffset.UtcNow;
        await PostOkAsync(http, $"/push?project={project}", $$$"""
            {"push_source_name": "route_events", "df": {"route_id": [1], "ts": ["{{{Iso(now)}}}"], "flights": [1], "mean_delay": [1.0], "carrier": ["A"], "cancelled": [true], "load": [1.0]}}
            """);
        var versions = await GetOkAsync(http, $"/api/v1/projects/{project}/features/versions");
        Assert.Equal([1, 2], versions.EnumerateArray().Select(v => v.GetProperty("version").GetInt32()).Order());
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private static long NextId() => Interlocked.Increment(ref _nextId);

    private static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Compact(JsonElement element) => JsonSerializer.Serialize(element);

    private static string[] Names(JsonElement body) =>
        body.GetProperty("metadata").GetProperty("feature_names").EnumerateArray().Select(n => n.GetString()!).ToArray();

    private static string[] Statuses(JsonElement result) =>
        result.GetProperty("statuses").EnumerateArray().Select(s => s.GetString()!).ToArray();

    private static string PushJson(string to, params (long Id, DateTimeOffset At, long? Flights, double? Delay, string? Carrier, bool? Cancelled, double? Load)[] rows)
    {
        static string Of<T>(IEnumerable<T> values) => JsonSerializer.Serialize(values);
        return $$$"""
            {"push_source_name": "route_events", "to": "{{{to}}}", "df": {
              "route_id": {{{Of(rows.Select(r => r.Id))}}}, "ts": {{{Of(rows.Select(r => Iso(r.At)))}}}, "flights": {{{Of(rows.Select(r => r.Flights))}}},
              "mean_delay": {{{Of(rows.Select(r => r.Delay))}}}, "carrier": {{{Of(rows.Select(r => r.Carrier))}}}, "cancelled": {{{Of(rows.Select(r => r.Cancelled))}}},
              "load": {{{Of(rows.Select(r => r.Load))}}}}}
            """;
    }

    private async Task PushRoutesAsync(string to, params (long Id, DateTimeOffset At, long? Flights, double? Delay, string? Carrier, bool? Cancelled, double? Load)[] rows)
    {
        using var http = server.Http("editor");
        var body = await PostOkAsync(http, $"/push?project={Project}", PushJson(to, rows));
        Assert.Equal(rows.Length, body.GetProperty("rows").GetInt32());
    }

    private async Task PushOriginsAsync(string to, params (string Origin, DateTimeOffset At, long Delay)[] rows)
    {
        using var http = server.Http("editor");
        await PostOkAsync(http, $"/push?project={Project}", $$$"""
            {"push_source_name": "origin_events", "to": "{{{to}}}", "df": {"origin": {{{JsonSerializer.Serialize(rows.Select(r => r.Origin))}}},
             "ts": {{{JsonSerializer.Serialize(rows.Select(r => Iso(r.At)))}}}, "delay": {{{JsonSerializer.Serialize(rows.Select(r => r.Delay))}}}}}
            """);
    }

    private async Task<string[]> FlightStatusesAsync(params long[] ids)
    {
        using var http = server.Http("viewer");
        var body = await PostOkAsync(http, $"/get-online-features?project={Project}", $$$"""{"features": ["route_stats:flights"], "entities": {"route_id": [{{{string.Join(',', ids)}}}]}}""");
        return Statuses(body.GetProperty("results")[1]);
    }

    private async Task<HashSet<long>> OfflineRouteIdsAsync()
    {
        var store = await server.Services.GetRequiredService<ServerState>().Features.GetAsync(Project);
        var ids = new HashSet<long>();
        await foreach (var batch in store.Offline.ReadAsync(store.Repository.OfflineLayout("route_stats"), long.MinValue / 2, long.MaxValue / 2, 65_536))
        {
            var column = batch.GetColumn<long>("route_id");
            for (var i = 0; i < column.Length; i++)
            {
                ids.Add(column[i]);
            }
        }

        return ids;
    }

    private static async Task<JsonElement> PostOkAsync(HttpClient http, string url, string json, string? project = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = Json(json) };
        if (project is not null)
        {
            request.Headers.Add("Strata-Project", project);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {url}: {(int)response.StatusCode} {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement> GetOkAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string named, string what)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(status == response.StatusCode, $"{what}: expected {(int)status}, got {(int)response.StatusCode} {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(body);
            var detail = problem.RootElement.GetProperty("detail").GetString() ?? "";
            Assert.True(detail.Contains(named, StringComparison.Ordinal), $"{what}: '{detail}' does not name '{named}'");
        }
    }
}
