using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Strata.Server.Http;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The per-request access log over HTTP: one line per request carrying the id the response header carries, the status
/// and the caller key's id, never a secret or the body; and a full queue drops and counts instead of blocking.
/// </summary>
public sealed class AccessLogTests
{
    [Fact]
    public async Task Every_request_writes_one_json_access_line_with_its_request_id_status_and_key_id_but_no_secret_or_body()
    {
        var output = new CapturedOutput();
        await using var server = await ServingServer.StartWithAsync(b => b.Services.Configure<AccessLogOptions>(o => o.Output = output), "--Strata:LogFormat", "json", "--Strata:AccessLog", "stdout");
        await server.DeployAsync("logged", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = server.Http();
        var keyId = (await server.Serving.AuthenticateAsync(server.Keys["viewer"])).KeyId!;

        using var ok = await http.PostAsync("/v1/endpoints/logged/predict", ServingTests.Body(header, rows));
        using var explained = await http.PostAsync("/v1/endpoints/logged/predict?explain=1&secret=in-the-query", ServingTests.Body(header, rows));
        using var bad = await http.PostAsync("/v1/endpoints/logged/predict", new StringContent("""{"rows": [{"distance": "body-secret"}]}""", Encoding.UTF8, "application/json"));
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "strata_not-a-real-key-secret");
        using var unauthorized = await anonymous.PostAsync("/v1/endpoints/logged/predict", ServingTests.Body(header, rows));

        var log = server.Services.GetRequiredService<AccessLog>();
        var lines = new Dictionary<HttpStatusCode, JsonElement>();
        foreach (var response in new[] { ok, explained, bad, unauthorized })
        {
            var id = response.Headers.GetValues("X-Request-Id").Single();
            var line = await output.SingleLineAsync(log, id);
            Assert.Equal(AccessLog.Category, line.GetProperty("Category").GetString());
            var state = line.GetProperty("State");
            Assert.Equal(id, state.GetProperty("RequestId").GetString());
            Assert.Equal((int)response.StatusCode, state.GetProperty("Status").GetInt32());
            Assert.Equal("POST", state.GetProperty("Method").GetString());
            Assert.Equal("/v1/endpoints/{name}/predict", state.GetProperty("Route").GetString());
            Assert.Equal("logged", state.GetProperty("Endpoint").GetString());
            Assert.True(state.GetProperty("LatencyMs").GetDouble() >= 0);
            Assert.True(DateTimeOffset.Parse(line.GetProperty("Timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.UtcNow.AddMinutes(-5));
            lines[response.StatusCode] = state;
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized], lines.Keys.Order());
        Assert.Equal(("delay", 1, keyId), (lines[HttpStatusCode.OK].GetProperty("Model").GetString(), lines[HttpStatusCode.OK].GetProperty("ModelVersion").GetInt32(), lines[HttpStatusCode.OK].GetProperty("KeyId").GetString()));
        Assert.Equal(keyId, lines[HttpStatusCode.BadRequest].GetProperty("KeyId").GetString());
        Assert.False(lines[HttpStatusCode.BadRequest].TryGetProperty("Model", out _)); // nothing was predicted
        Assert.False(lines[HttpStatusCode.Unauthorized].TryGetProperty("KeyId", out _));

        var text = output.Text;
        Assert.DoesNotContain(server.Keys["viewer"], text, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-real-key-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("body-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("in-the-query", text, StringComparison.Ordinal);
        Assert.DoesNotContain("explain", text, StringComparison.Ordinal);
        Assert.DoesNotContain("origin_code", text, StringComparison.Ordinal); // a field of the body
    }

    [Fact]
    public async Task The_text_access_line_names_the_request_its_route_status_and_model()
    {
        var output = new CapturedOutput();
        await using var server = await ServingServer.StartWithAsync(b => b.Services.Configure<AccessLogOptions>(o => o.Output = output), "--Strata:AccessLog", "stdout");
        await server.DeployAsync("plain", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = server.Http();

        using var response = await http.PostAsync("/v2/models/plain/infer", new StringContent(
            "{\"inputs\": [" + string.Join(",", header.Take(header.Length - 2).Select((h, i) => $"{{\"name\": \"{h}\", \"shape\": [1], \"datatype\": \"FP64\", \"data\": [{(double.IsNaN(rows[0][i]) ? 0 : rows[0][i]).ToString(System.Globalization.CultureInfo.InvariantCulture)}]}}")) + "]}",
            Encoding.UTF8,
            "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var id = response.Headers.GetValues("X-Request-Id").Single();
        var line = await output.SingleTextLineAsync(server.Services.GetRequiredService<AccessLog>(), id);
        Assert.Contains($" access {id} POST /v2/models/{{name}}/infer 200 ", line, StringComparison.Ordinal);
        Assert.Contains(" endpoint=plain model=delay version=1 key=", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_full_access_log_drops_and_counts_instead_of_blocking_requests()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new CapturedOutput();
        await using var server = await ServingServer.StartWithAsync(b => b.Services.Configure<AccessLogOptions>(o =>
        {
            o.Output = output;
            o.Capacity = 3;
            o.BeforeWrite = () => gate.Task;
        }), "--Strata:AccessLog", "stdout");
        var log = server.Services.GetRequiredService<AccessLog>();
        await server.DeployAsync("flooded-access", new { project = "flights", model = "delay/1" });
        await WaitUntilAsync(() => log.Queued == 1);
        var (header, rows) = ServingServer.Sample(1);
        using var http = server.Http();

        // The writer is held before it drains anything, so the queue keeps the first three records and the rest are
        // dropped; every request still completes (a request that waited for the log would never finish here).
        var ids = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await http.PostAsync("/v1/endpoints/flooded-access/predict", ServingTests.Body(header, rows)).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            ids.Add(response.Headers.GetValues("X-Request-Id").Single());
            await WaitUntilAsync(() => log.Queued + log.Dropped == i + 2); // recorded after the answer: wait for it
        }

        Assert.Equal((0.0, 3, 8.0), (log.Written, log.Queued, log.Dropped));
        gate.SetResult();
        await log.FlushAsync();
        Assert.Equal((3.0, 8.0), (log.Written, log.Dropped));
        // Each thread queues its own lines, so lines of requests answered on different threads may come out of order.
        Assert.Equal(ids.Take(2).Order(), output.Lines.Where(l => l.Contains("/predict", StringComparison.Ordinal)).Select(l => ids.Single(id => l.Contains(id, StringComparison.Ordinal))).Order());
        Assert.Single(output.Lines, l => l.Contains(" PUT /v1/endpoints/{name} 200 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task By_default_a_tenth_of_successful_requests_and_every_failed_one_are_logged()
    {
        var output = new CapturedOutput();
        await using var server = await ServingServer.StartWithAsync(b => b.Services.Configure<AccessLogOptions>(o => o.Output = output));
        await server.DeployAsync("sampled", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(1);
        using var http = server.Http();
        var log = server.Services.GetRequiredService<AccessLog>();

        // The caller's request ids decide the sample (a hash of the id), so which are kept is known in advance.
        var ids = Enumerable.Range(0, 60).Select(i => $"sample-{i}").ToList();
        var kept = ids.Where(id => Strata.Serving.LogSampling.Sampled(id, 0.1)).ToList();
        Assert.InRange(kept.Count, 1, ids.Count - 1);
        foreach (var id in ids)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/endpoints/sampled/predict") { Content = ServingTests.Body(header, rows) };
            request.Headers.Add("X-Request-Id", id);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var failed = new List<string>();
        foreach (var id in ids.Take(5))
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/endpoints/sampled/predict") { Content = new StringContent("{\"rows\": 1}", Encoding.UTF8, "application/json") };
            request.Headers.Add("X-Request-Id", id + "-bad");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            failed.Add(id + "-bad");
        }

        foreach (var id in kept.Concat(failed))
        {
            await output.SingleTextLineAsync(log, id);
        }

        var logged = output.Lines.Where(l => l.Contains("/predict", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).Order().ToList();
        Assert.Equal(kept.Concat(failed).Order(), logged);
    }

    [Theory]
    [InlineData("stdout", 1.0)]
    [InlineData("off", 0.0)]
    [InlineData("0.25", 0.25)]
    [InlineData("1", 1.0)]
    public void The_access_log_setting_is_stdout_off_or_a_sampling_rate(string setting, double rate) =>
        Assert.Equal(rate, AccessLog.ParseRate(setting));

    [Theory]
    [InlineData("0")]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    [InlineData("file")]
    [InlineData("NaN")]
    public void Other_access_log_settings_are_refused(string setting) =>
        Assert.Equal(ErrorCodes.ArgumentInvalid, Assert.Throws<StrataException>(() => AccessLog.ParseRate(setting)).Code);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    /// <summary>An output the access log writes to from its own task while the test reads it.</summary>
    private sealed class CapturedOutput : Stream
    {
        private readonly StringBuilder _text = new();

        public string Text
        {
            get
            {
                lock (_text)
                {
                    return _text.ToString();
                }
            }
        }

        public IReadOnlyList<string> Lines => Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        /// <summary>The one JSON line of a request, once it is written (it is recorded after the answer).</summary>
        public async Task<JsonElement> SingleLineAsync(AccessLog log, string requestId) =>
            JsonDocument.Parse(await SingleTextLineAsync(log, requestId)).RootElement.Clone();

        public async Task<string> SingleTextLineAsync(AccessLog log, string requestId)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!Text.Contains(requestId, StringComparison.Ordinal))
            {
                await log.FlushAsync(timeout.Token);
            }

            await log.FlushAsync(timeout.Token);
            return Assert.Single(Lines, l => l.Contains(requestId, StringComparison.Ordinal));
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            lock (_text)
            {
                _text.Append(Encoding.UTF8.GetString(buffer));
            }
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
