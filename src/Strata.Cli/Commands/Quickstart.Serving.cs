using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Strata.Security;
using Strata.Stores;
using Strata.Server;
using Strata.Server.Hosting;

namespace Strata.Cli.Commands;

// Stage 4: the server in-process on a free loopback port, serving flights-delay@champion with features from the online
// store; predictions by entity key through the native API and the Open Inference Protocol v2, timed.
internal sealed partial class Quickstart
{
    private readonly ReplayClock _clock = new(TrainingEnd);
    private WebApplication? _server;
    private HttpClient? _client;
    private LoopbackHook? _hook;

    private HttpClient Client => _client ?? throw new InvalidOperationException("the server is not started");

    private async Task ServeAsync(QuickstartStage stage, CancellationToken cancellationToken)
    {
        // The server owns the embedded online store from now on; the quickstart keeps only metadata and artifacts.
        if (_features is not null)
        {
            await _features.DisposeAsync().ConfigureAwait(false);
            _features = null;
        }

        var key = await Registry.CreateKeyAsync(Caller.Local, Project, "quickstart", Role.Admin, "strata quickstart", cancellationToken).ConfigureAwait(false);
        ApiKey = key.Token;
        _hook = new LoopbackHook();
        var config = Path.Combine(_options.Home, "strata.yaml");
        await Artifacts.DurableFile.WriteAllTextAsync(config, QuickstartFiles.Config(_hook.Url, MonitorWindow, MonitorMinSamples, AlertWindows, DelayDriftThreshold, MaxDelayDriftThreshold), cancellationToken).ConfigureAwait(false);

        var port = _options.Port > 0 ? _options.Port : LoopbackHook.FreePort();
        ServerUrl = $"http://127.0.0.1:{port}";
        string[] args =
        [
            "--urls", ServerUrl, "--Strata:Home", _options.Home, "--Strata:Config", config,
            "--Strata:Pipelines:Folder", Path.Combine(_options.Home, "pipelines"), "--Strata:ServingPollMilliseconds", "200",
            "--Strata:AccessLog", "off", // like the host's console log below: it would interleave with the quickstart's output

            // The quickstart runs the declared monitor itself once the replay is over. The server's own tick (every 30 s)
            // would also evaluate it mid-replay on a slow machine, and its alert would start a second retraining.
            "--Strata:Monitoring:Enabled", "false",
        ];
        _server = StrataServer.Build(args, builder =>
        {
            // The quickstart prints its own progress; the host's console log would interleave with it (and with --json).
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton<TimeProvider>(_clock);
        });

        // Ctrl-C now stops the server as `strata serve` stops: requests in flight get its shutdown window, then the log closes.
        _termination?.AllowServerShutdown(_server.Services);
        await _server.StartAsync(cancellationToken).ConfigureAwait(false);
        _client = new HttpClient { BaseAddress = new Uri(ServerUrl) };
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        _progress.Step($"server listening on {ServerUrl}; endpoint {Endpoint} serves {ModelName}@champion with features from {Service}");

        // Flights of May 1st, asked by entity key (origin) and the request field distance; the rest comes from the online store.
        var flights = Between(Flights, TrainingEnd, TrainingEnd + (3 * Timestamp.MicrosPerDay));
        var origins = flights.GetStringColumn("origin");
        var distances = flights.GetColumn<long>("distance");
        var example = await QuickstartHttp.PostAsync(Client, $"/v1/endpoints/{Endpoint}/predict?explain=3",
            new { rows = new[] { new Dictionary<string, object?> { ["origin"] = "ORD", ["distance"] = 733 } } }, cancellationToken).ConfigureAwait(false);
        var explained = (example["explanations"]?[0] as JsonArray)?.Select(e => e?["feature"]?.GetValue<string>()).ToList() ?? [];

        var native = new List<double>(_options.NativeRequests);
        var late = 0;
        for (var i = 0; i < _options.NativeRequests; i++)
        {
            var row = i % flights.RowCount;
            var start = Stopwatch.GetTimestamp();
            var answer = await QuickstartHttp.PostAsync(Client, $"/v1/endpoints/{Endpoint}/predict",
                new { rows = new[] { new Dictionary<string, object?> { ["origin"] = origins[row], ["distance"] = distances[row] } } }, cancellationToken).ConfigureAwait(false);
            native.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            late += answer["predictions"]?[0]?.GetValue<string>() is "1" or "true" ? 1 : 0;
        }

        var infer = new List<double>(_options.InferRequests);
        JsonNode? v2 = null;
        for (var i = 0; i < _options.InferRequests; i++)
        {
            var row = (i * 7) % flights.RowCount;
            var body = new
            {
                inputs = new object[]
                {
                    new { name = "origin", shape = new[] { 1 }, datatype = "BYTES", data = new[] { origins[row] } },
                    new { name = "distance", shape = new[] { 1 }, datatype = "INT64", data = new[] { distances[row] } },
                },
            };
            var start = Stopwatch.GetTimestamp();
            v2 = await QuickstartHttp.PostAsync(Client, $"/v2/models/{Endpoint}/infer", body, cancellationToken).ConfigureAwait(false);
            infer.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        native.Sort();
        infer.Sort();
        stage.Figures["url"] = ServerUrl;
        stage.Figures["model_version"] = example["version"]?.GetValue<int>();
        // The positive class is the second of a binary model's classes (its name is the label's text: "1", "true").
        stage.Figures["example_probability_late"] = (example["probabilities"]?[0] as JsonObject)?.LastOrDefault().Value?.GetValue<double>();
        stage.Figures["example_top_features"] = explained;
        stage.Figures["native_requests"] = native.Count;
        stage.Figures["native_predicted_late"] = late;
        stage.Figures["native_p50_ms"] = Math.Round(QuickstartHttp.Percentile(native, 50), 3);
        stage.Figures["native_p95_ms"] = Math.Round(QuickstartHttp.Percentile(native, 95), 3);
        stage.Figures["native_p99_ms"] = Math.Round(QuickstartHttp.Percentile(native, 99), 3);
        stage.Figures["v2_requests"] = infer.Count;
        stage.Figures["v2_outputs"] = (v2?["outputs"] as JsonArray)?.Select(o => o?["name"]?.GetValue<string>()).ToList();
        stage.Figures["v2_p50_ms"] = Math.Round(QuickstartHttp.Percentile(infer, 50), 3);
        stage.Figures["v2_p99_ms"] = Math.Round(QuickstartHttp.Percentile(infer, 99), 3);
        stage.Headline = string.Create(CultureInfo.InvariantCulture,
            $"{native.Count:N0} native + {infer.Count:N0} OIP v2 predictions by origin; native p50 {QuickstartHttp.Percentile(native, 50):0.00} ms, p95 {QuickstartHttp.Percentile(native, 95):0.00} ms, p99 {QuickstartHttp.Percentile(native, 99):0.00} ms");
    }

    /// <summary>
    /// Checks, before any stage runs, the settings of stage 4's server that the quickstart does not give itself: its
    /// shutdown window (shutdownTimeoutSeconds, DOTNET_SHUTDOWNTIMEOUTSECONDS, HostOptions:ShutdownTimeout), its
    /// prediction log's retention (Strata:PredictionLog:…) and its shadow queue capacity (Strata:ShadowQueueCapacity),
    /// read from the same sources the server reads (the environment, appsettings.json) and checked as `strata serve`
    /// checks them.
    /// </summary>
    /// <exception cref="StrataException">A setting that is not one of its kind, with the message `strata serve` gives.</exception>
    public static void CheckServerSettings()
    {
        // NOTE: the server refused such a value only as it started, at stage 4, after the first three stages' work.
        var builder = WebApplication.CreateBuilder([$"--{StrataServer.ReloadConfigSetting}=false"]);
        using var configuration = builder.Configuration;
        ShutdownWindow.From(configuration);
        PredictionLogServerOptions.From(configuration);
        StrataServerOptions.ShadowQueueCapacityFrom(configuration);
    }

    /// <summary>Stops the server (the quickstart's end, Ctrl-C, or after --keep-serving).</summary>
    public async Task StopServingAsync()
    {
        _client?.Dispose();
        _client = null;
        if (_server is not null)
        {
            await _server.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await _server.DisposeAsync().ConfigureAwait(false);
            _server = null;
        }

        _hook?.Dispose();
        _hook = null;
    }
}
