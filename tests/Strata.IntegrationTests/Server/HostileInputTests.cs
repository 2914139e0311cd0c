using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Strata.Security;
using Strata.Server.Hosting;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// What a hostile or careless caller sends: traversal and encoding tricks in names (in the path and in bodies),
/// oversized and chunked bodies, malformed and deeply nested JSON, wrong types. Each is refused with a 4xx
/// problem+json that names the field — never a 500, never a file touched outside the store.
/// </summary>
public sealed class HostileInputTests(StrataServerFactory server) : IClassFixture<StrataServerFactory>
{
    /// <summary>Hostile names as they appear in a URL path segment (already escaped where a client would escape them).</summary>
    public static TheoryData<string> HostileSegments => new()
    {
        "..%2f..%2fetc",            // ../../etc, encoded slash
        "%2e%2e%2f",               // ../ fully encoded
        "%2e%2e",                  // .. encoded
        "%252e%252e%252f",         // double-encoded ../
        "..%5cwindows",            // ..\windows
        "%2fetc%2fpasswd",         // an absolute path
        "..;",                     // ..; (Tomcat-style path parameter)
        "a%3bb",                   // ; encoded
        "tab%09name",              // a control character
        "new%0aline",              // a line feed
        "caf%C3%A9",               // é: would collide with its decomposed form after normalization
        "%EF%BC%8E%EF%BC%8E",      // fullwidth ．． (folds to .. under NFKC)
        "flights%20",              // trailing space (collides with "flights" after trimming)
        new string('a', 65),       // over-long
    };

    [Theory]
    [MemberData(nameof(HostileSegments))]
    public async Task Hostile_project_names_in_the_path_are_refused_naming_the_field(string segment)
    {
        using var response = await SendRawAsync("GET", $"/api/v1/projects/{segment}/models", "root");

        await AssertFieldAsync(response, "project", segment);
    }

    [Theory]
    [MemberData(nameof(HostileSegments))]
    public async Task Hostile_names_deeper_in_the_path_name_their_own_field(string segment)
    {
        await AssertFieldAsync(await SendRawAsync("GET", $"/api/v1/projects/flights/models/{segment}/aliases/champion", "admin"), "model", segment);
        await AssertFieldAsync(await SendRawAsync("GET", $"/api/v1/projects/flights/models/delay/aliases/{segment}/history", "admin"), "alias", segment);
        await AssertFieldAsync(await SendRawAsync("GET", $"/api/v1/projects/flights/experiments/{segment}", "admin"), "experiment", segment);
        await AssertFieldAsync(await SendRawAsync("POST", $"/api/v1/projects/flights/promotions/{segment}/approve", "admin"), "request", segment);
    }

    [Fact]
    public async Task What_the_framework_answers_itself_is_a_problem_with_a_code_and_a_message_too()
    {
        using var http = server.Http("root");

        using var unknown = await http.GetAsync("/no/such/path");
        using var method = await http.GetAsync("/v1/endpoints/anything/predict");
        using var media = await http.PutAsync("/v1/keys/some-key/endpoints", new StringContent("endpoints: [a]", Encoding.UTF8, "text/plain"));
        using var empty = await http.PutAsync("/v1/keys/some-key/endpoints", new ByteArrayContent([]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } });

        foreach (var (response, status, code, detail) in new[]
        {
            (unknown, HttpStatusCode.NotFound, "not_found", "no route answers this path"),
            (method, HttpStatusCode.MethodNotAllowed, "argument.invalid", "this route does not take GET (it takes POST)"),
            (media, HttpStatusCode.UnsupportedMediaType, "argument.invalid", "this route takes a JSON body (Content-Type: application/json)"),
            (empty, HttpStatusCode.BadRequest, "argument.invalid", "the request body is empty; this route takes a JSON object"),
        })
        {
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(code, problem.GetProperty("code").GetString());
            Assert.Equal(detail, problem.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task A_segment_past_every_route_that_no_name_could_be_is_refused_saying_so()
    {
        using var response = await SendRawAsync("GET", "/api/v1/projects/flights/lineage/model:delay@live", "admin");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("no route has the path segment 'model:delay@live'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_trailing_slash_is_answered_as_without_it_and_an_empty_segment_is_refused()
    {
        using var plain = await SendRawAsync("GET", "/api/v1/projects/flights/models", "admin");
        using var trailing = await SendRawAsync("GET", "/api/v1/projects/flights/models/", "admin");
        using var doubled = await SendRawAsync("GET", "/api/v1/projects/flights/models//delay", "admin");
        using var unrouted = await SendRawAsync("GET", "/api/v1/projects/flights/lineage//x", "admin");

        Assert.Equal(HttpStatusCode.OK, trailing.StatusCode);
        Assert.Equal(await plain.Content.ReadAsStringAsync(), await trailing.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, doubled.StatusCode);
        Assert.Contains("field 'model'", await doubled.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, unrouted.StatusCode);
        Assert.Contains("the path has an empty segment ('//')", await unrouted.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a/../../etc/passwd")]
    [InlineData("a/%2e%2e/b")]
    [InlineData("a//b")]
    [InlineData("a/..%5c..%5cb")]
    [InlineData("%2fetc/passwd")]
    [InlineData("a/b%09.png")]
    [InlineData("plots/")]
    public async Task Hostile_artifact_paths_are_refused_before_a_byte_is_stored(string path)
    {
        var before = await CountBlobsAsync();

        using var response = await SendRawAsync("PUT", $"/api/v1/projects/flights/runs/0123456789abcdef0123456789abcdef/artifacts/{path}", "editor");

        await AssertFieldAsync(response, "path", null);
        Assert.Equal(before, await CountBlobsAsync());
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("..\\x")]
    [InlineData("%2e%2e%2f")]
    [InlineData("%252e%252e")]
    [InlineData("/abs")]
    [InlineData("//proc/self/root")]
    [InlineData("..;/x")]
    [InlineData("bad\u0000name")]
    [InlineData("caf\u00e9")]
    [InlineData("cafe\u0301")]
    public async Task Hostile_names_in_bodies_are_refused_naming_the_field(string name)
    {
        using var http = server.Http("root");
        var json = JsonSerializer.Serialize(name);

        await AssertFieldAsync(await http.PostAsync("/api/v1/projects", JsonBody($"{{\"name\":{json}}}")), "name", null);
        await AssertFieldAsync(await http.PostAsync("/api/v1/projects/flights/experiments", JsonBody($"{{\"name\":{json}}}")), "name", null);
        await AssertFieldAsync(await http.PostAsync("/api/v1/projects/flights/models", JsonBody($"{{\"name\":{json}}}")), "name", null);
        await AssertFieldAsync(await http.PostAsync("/api/v1/projects/flights/runs", JsonBody($"{{\"experiment\":{json}}}")), "experiment", null);
        await AssertFieldAsync(await http.PostAsync("/api/v1/projects/flights/keys", JsonBody($"{{\"principal\":{json},\"role\":\"viewer\"}}")), "principal", null);
        await AssertFieldAsync(
            await http.PostAsync("/api/v1/projects/flights/promotions", JsonBody($"{{\"model\":\"delay\",\"alias\":{json},\"version\":1}}")), "alias", null);
        await AssertFieldAsync(await http.GetAsync($"/api/v1/projects/flights/promotions?model={Uri.EscapeDataString(name)}"), "model", null);
    }

    [Fact]
    public async Task Hostile_metric_and_parameter_keys_are_refused_naming_the_entry()
    {
        using var http = server.Http("editor");
        var run = await CreateRunAsync(http);

        var response = await http.PostAsync($"/api/v1/projects/flights/runs/{run}/log-batch", JsonBody("""{"metrics":[{"key":"auc","value":0.5},{"key":"../loss","value":1}]}"""));
        await AssertFieldAsync(response, "metrics[1].key", null);
        response = await http.PostAsync($"/api/v1/projects/flights/runs/{run}/log-batch", JsonBody("""{"params":{"..\\depth":"6"}}"""));
        await AssertFieldAsync(response, "params.key", null);
    }

    [Fact]
    public async Task A_json_body_over_the_limit_gets_413_whether_or_not_its_length_is_declared()
    {
        using var http = server.Http("root");
        var big = "{\"name\":\"x\",\"description\":\"" + new string('a', (int)StrataServerFactory.MaxBody) + "\"}";

        using var declared = await http.PostAsync("/api/v1/projects", JsonBody(big));
        await RouteAccessTests.AssertProblemAsync(declared, HttpStatusCode.RequestEntityTooLarge, ErrorCodes.DataLimit, "declared length");

        using var chunked = await http.PostAsync("/api/v1/projects", new ChunkedContent(Encoding.UTF8.GetBytes(big), "application/json"));
        await RouteAccessTests.AssertProblemAsync(chunked, HttpStatusCode.RequestEntityTooLarge, ErrorCodes.DataLimit, "chunked");
        Assert.Null(await server.Registry.Metadata.Projects.GetAsync("x"));
    }

    [Fact]
    public async Task An_upload_over_the_artifact_limit_gets_413_and_stores_nothing()
    {
        using var http = server.Http("editor");
        var run = await CreateRunAsync(http);
        var before = await CountBlobsAsync();
        var big = new byte[StrataServerFactory.MaxArtifact + 1];

        using var chunked = await http.PutAsync($"/api/v1/projects/flights/runs/{run}/artifacts/big.bin", new ChunkedContent(big, "application/octet-stream"));
        await RouteAccessTests.AssertProblemAsync(chunked, HttpStatusCode.RequestEntityTooLarge, ErrorCodes.DataLimit, "chunked upload");
        using var blob = await http.PostAsync("/api/v1/projects/flights/artifacts", new ChunkedContent(big, "application/octet-stream"));
        await RouteAccessTests.AssertProblemAsync(blob, HttpStatusCode.RequestEntityTooLarge, ErrorCodes.DataLimit, "blob upload");

        Assert.Equal(before, await CountBlobsAsync());
        Assert.Empty(await server.Registry.ListRunArtifactsAsync(Caller.Local, "flights", run));

        // Just under the limit is fine.
        using var ok = await http.PutAsync($"/api/v1/projects/flights/runs/{run}/artifacts/ok.bin", new ByteArrayContent(new byte[StrataServerFactory.MaxArtifact]));
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
    }

    [Theory]
    [InlineData("{\"name\":", "the request body is not valid JSON: ")]
    [InlineData("not json", "the request body is not valid JSON: 'not json' is an invalid JSON literal")]
    [InlineData("{\"name\": 5}", "field 'name' must be text")]
    [InlineData("[1,2]", "the request body must be an object")]
    public async Task Malformed_json_is_a_400_problem(string body, string mentions)
    {
        using var http = server.Http("editor");

        using var response = await http.PostAsync("/api/v1/projects/flights/experiments", JsonBody(body));

        var text = await response.Content.ReadAsStringAsync();
        await RouteAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, body);
        Assert.Contains(mentions, text, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", text, StringComparison.Ordinal); // no .NET type names
    }

    [Fact]
    public async Task A_misspelt_field_is_refused_naming_it_not_read_as_absent()
    {
        using var http = server.Http("editor");

        using var response = await http.PostAsync("/api/v1/projects/flights/runs/search", JsonBody("{\"max_results\": 5}"));

        var text = await response.Content.ReadAsStringAsync();
        await RouteAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "max_results");
        Assert.Contains("unknown field 'max_results' (known: ", text, StringComparison.Ordinal);
        Assert.Contains("maxResults", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_repeated_field_is_refused_naming_it_not_read_as_its_last_value()
    {
        using var http = server.Http("editor");

        using var response = await http.PostAsync("/api/v1/projects/flights/experiments", JsonBody("{\"name\": \"first\", \"name\": \"second\"}"));

        await RouteAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "name");
        Assert.Contains("field 'name' appears more than once", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"learner": "gbdt", "lerner": "x"}""", "field 'metadata': unknown field 'lerner' (known: ")]
    [InlineData("""{"learner": "gbdt", "learner": "logistic"}""", "field 'metadata': field 'learner' appears more than once")]
    public async Task An_upload_s_metadata_part_is_read_as_strictly_as_a_json_body(string metadata, string message)
    {
        using var http = server.Http("editor");
        await http.PostAsync("/api/v1/projects/flights/models", JsonBody("{\"name\": \"strict\"}"));
        using var form = new MultipartFormDataContent
        {
            { new StringContent(metadata, Encoding.UTF8, "application/json"), "metadata" },
            { new ByteArrayContent("a package"u8.ToArray()), "package", "package.bin" },
        };

        using var response = await http.PostAsync("/api/v1/projects/flights/models/strict/versions/upload", form);

        await RouteAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "metadata");
        Assert.Contains(message, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_nested_deeper_than_the_limit_is_refused()
    {
        using var http = server.Http("editor");
        var deep = "{\"name\":\"deep\",\"tags\":" + string.Concat(Enumerable.Repeat("{\"a\":", 40)) + "1" + new string('}', 40) + "}";

        using var response = await http.PostAsync("/api/v1/projects/flights/experiments", JsonBody(deep));

        await RouteAccessTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "deep JSON");
        Assert.Contains("depth", await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Binding_errors_are_400_problems_that_name_the_parameter()
    {
        using var http = server.Http("viewer");

        using var version = await http.GetAsync("/api/v1/projects/flights/models/delay/versions/abc");
        await RouteAccessTests.AssertProblemAsync(version, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "version");
        Assert.Contains("version", await version.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var max = await http.GetAsync("/api/v1/projects/flights/runs?maxResults=lots");
        await RouteAccessTests.AssertProblemAsync(max, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "maxResults");

        using var status = await http.GetAsync("/api/v1/projects/flights/promotions?status=1");
        await RouteAccessTests.AssertProblemAsync(status, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "status");

        using var at = await http.GetAsync("/api/v1/projects/flights/models/delay/aliases/champion/resolve?at=yesterday");
        await RouteAccessTests.AssertProblemAsync(at, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "at");

        using var editor = server.Http("editor");
        using var enumValue = await editor.PostAsync("/api/v1/projects/flights/runs/0123456789abcdef0123456789abcdef/end", JsonBody("{\"status\":\"exploded\"}"));
        await RouteAccessTests.AssertProblemAsync(enumValue, HttpStatusCode.BadRequest, ErrorCodes.ArgumentInvalid, "status enum");

        using var text = await editor.PostAsync("/api/v1/projects/flights/experiments", new StringContent("name=x", Encoding.UTF8, "text/plain"));
        Assert.True(HttpStatusCode.UnsupportedMediaType == text.StatusCode, await text.Content.ReadAsStringAsync());
        Assert.Equal("application/problem+json", text.Content.Headers.ContentType?.MediaType);

        using var method = await editor.PatchAsync("/api/v1/projects/flights/experiments", JsonBody("{}"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, method.StatusCode);
        Assert.Equal("application/problem+json", method.Content.Headers.ContentType?.MediaType);
        using var anonymous = server.Http();
        using var anonymousMethod = await anonymous.PatchAsync("/api/v1/projects/flights/experiments", JsonBody("{}"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousMethod.StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_and_missing_things_are_404_problems()
    {
        using var http = server.Http("viewer");

        using var route = await http.GetAsync("/api/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, route.StatusCode);
        Assert.Equal("application/problem+json", route.Content.Headers.ContentType?.MediaType);
        using var model = await http.GetAsync("/api/v1/projects/flights/models/no-such-model");
        await RouteAccessTests.AssertProblemAsync(model, HttpStatusCode.NotFound, ErrorCodes.NotFound, "model");
        Assert.Contains("no-such-model", await model.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupted_blob_is_a_500_that_leaks_no_internals()
    {
        using var http = server.Http("editor");
        var run = await CreateRunAsync(http);
        using var put = await http.PutAsync($"/api/v1/projects/flights/runs/{run}/artifacts/model.bin", new ByteArrayContent(Encoding.UTF8.GetBytes("precious bytes")));
        var digest = (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("digest").GetString()!;
        var file = Path.Combine(server.Home, "objects", "sha256", digest[..2], digest[2..]);
        await File.WriteAllTextAsync(file, "tampered bytes");

        using var response = await http.GetAsync($"/api/v1/projects/flights/runs/{run}/artifacts/model.bin");

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(server.Home, body, StringComparison.Ordinal);
        Assert.DoesNotContain("tampered", body, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_request_id_is_echoed_and_recorded_in_the_audit_log()
    {
        using var http = server.Http("editor");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/projects/flights/experiments") { Content = JsonBody("{\"name\":\"traced\"}") };
        request.Headers.Add("X-Request-Id", "trace-42");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("trace-42", response.Headers.GetValues("X-Request-Id").Single());
        var entries = await server.Registry.ReadAuditAsync(Caller.Local, "flights", 1, 10_000);
        var entry = Assert.Single(entries, e => e.Action == "experiment.create" && e.Target == "traced");
        Assert.Equal(("trace-42", "editor-bot"), (entry.RequestId, entry.Principal));

        using var unsafeId = new HttpRequestMessage(HttpMethod.Get, "/api/v1/projects/flights");
        unsafeId.Headers.TryAddWithoutValidation("X-Request-Id", "evil\"id");
        using var replaced = await http.SendAsync(unsafeId);
        Assert.NotEqual("evil\"id", replaced.Headers.GetValues("X-Request-Id").Single());
    }

    private static async Task<string> CreateRunAsync(HttpClient http)
    {
        var name = "e" + Guid.NewGuid().ToString("N")[..8];
        (await http.PostAsync("/api/v1/projects/flights/experiments", JsonBody($"{{\"name\":\"{name}\"}}"))).EnsureSuccessStatusCode();
        using var run = await http.PostAsync("/api/v1/projects/flights/runs", JsonBody($"{{\"experiment\":\"{name}\"}}"));
        run.EnsureSuccessStatusCode();
        return (await run.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private async Task<int> CountBlobsAsync()
    {
        var count = 0;
        await foreach (var _ in server.Services.GetRequiredService<ServerState>().Home.Artifacts.ListAsync())
        {
            count++;
        }

        return count;
    }

    private static async Task AssertFieldAsync(HttpResponseMessage response, string field, string? value)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{field}={value}: expected 400, got {(int)response.StatusCode} {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(body);
            Assert.Equal(ErrorCodes.ArgumentInvalid, problem.RootElement.GetProperty("code").GetString());
            Assert.Contains($"field '{field}'", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// Sends a request target exactly as written, as a raw HTTP client would: System.Uri (under HttpClient) decodes
    /// <c>%2e</c> and drops dot segments before a request leaves, so the test host is given the raw target directly.
    /// </summary>
    private async Task<HttpResponseMessage> SendRawAsync(string method, string rawTarget, string key)
    {
        var context = await server.Server.SendAsync(c =>
        {
            c.Request.Method = method;
            c.Request.Path = PathString.FromUriComponent(rawTarget);
            c.Features.Get<IHttpRequestFeature>()!.RawTarget = rawTarget;
            c.Request.Headers.Authorization = "Bearer " + server.Keys[key];
            if (method != "GET")
            {
                c.Request.ContentType = "application/json";
                c.Request.Body = new MemoryStream("{}"u8.ToArray());
            }
        });
        var response = new HttpResponseMessage((HttpStatusCode)context.Response.StatusCode)
        {
            Content = new StreamContent(context.Response.Body),
        };
        response.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(context.Response.ContentType ?? "application/octet-stream");
        return response;
    }

    private static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>A body sent with chunked transfer encoding: no Content-Length for the server to check up front.</summary>
    private sealed class ChunkedContent(byte[] bytes, string mediaType) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var i = 0; i < bytes.Length; i += 8192)
            {
                await stream.WriteAsync(bytes.AsMemory(i, Math.Min(8192, bytes.Length - i)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            Headers.ContentType ??= new MediaTypeHeaderValue(mediaType);
            length = 0;
            return false;
        }
    }
}
