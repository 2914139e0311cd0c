using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Strata.Api;
using Strata.Server.Endpoints;
using Strata.Server.Hosting;
using Strata.Server.Http;
using Strata.Server.Serving;

namespace Strata.Server;

/// <summary>Builds the Strata server: services, the request pipeline and every API route.</summary>
public static class StrataServer
{
    /// <summary>
    /// Builds the application from command-line style arguments: <c>--urls</c> (default
    /// <see cref="StrataServerOptions.DefaultUrl"/>, loopback only), <c>--Strata:Home</c>, <c>--Strata:Postgres</c>,
    /// <c>--Strata:MaxRequestBodyBytes</c>, <c>--Strata:MaxArtifactBytes</c>, <c>--Strata:LogFormat</c> (json or text),
    /// <c>--Strata:AccessLog</c> (stdout, off or a sampling rate), <c>--Strata:PredictionLog:RetentionBytes</c> and
    /// <c>--Strata:PredictionLog:RetentionAge</c>, <c>--Strata:ShadowQueueCapacity</c>,
    /// <c>--Strata:Otlp:Endpoint</c>, <c>--shutdownTimeoutSeconds</c> (default 30) or <c>--HostOptions:ShutdownTimeout</c>
    /// (or the same as environment variables).
    /// </summary>
    public static WebApplication Build(string[] args) => Build(args, configure: null);

    /// <summary>Builds the application; <paramref name="configure"/> may adjust the builder first (tests swap in a test server).</summary>
    internal static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure)
    {
        // NOTE: appsettings.json is read but not watched. Watching it puts a recursive file watcher on the content root
        // (the working folder, which holds the default home ./.strata), and every prediction-log write then woke the
        // watcher's thread (some 250 times a second under load). A later --hostBuilder:reloadConfigOnChange overrides.
        var builder = WebApplication.CreateBuilder([$"--{ReloadConfigSetting}=false", .. args]);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls(StrataServerOptions.DefaultUrl);
        }

        AddServices(builder.Services, builder.Configuration);
        AddLogging(builder);
        configure?.Invoke(builder);
        var app = builder.Build();
        UsePipeline(app);
        app.MapStrataApi();
        return app;
    }

    /// <summary>The host setting that makes the JSON settings files reload when they change.</summary>
    internal const string ReloadConfigSetting = "hostBuilder:reloadConfigOnChange";

    /// <summary>Maps every route of the API.</summary>
    public static IEndpointRouteBuilder MapStrataApi(this IEndpointRouteBuilder app) =>
        app.MapHealthApi()
            .MapMetricsApi()
            .MapProjectsApi()
            .MapExperimentsApi()
            .MapRunsApi()
            .MapModelsApi()
            .MapVersionsApi()
            .MapAliasesApi()
            .MapPromotionsApi()
            .MapLineageApi()
            .MapAuditApi()
            .MapKeysApi()
            .MapFeaturesApi()
            .MapServingApi()
            .MapInferenceApi()
            .MapPipelinesApi()
            .MapMonitoringApi()
            .MapAdminApi();

    private static void AddServices(IServiceCollection services, ConfigurationManager configuration)
    {
        services.AddOptions<StrataServerOptions>().Bind(configuration.GetSection(StrataServerOptions.Section)).Validate(
            o => o.MaxRequestBodyBytes > 0 && o.MaxArtifactBytes > 0, "body limits must be positive");

        // The operator's shutdown window, checked here so a value that is not one stops the start, naming the setting.
        var shutdown = ShutdownWindow.From(configuration);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdown);

        // The prediction log's retention, checked here for the same reason: a size or an age that is not one stops the start.
        PredictionLogServerOptions.From(configuration);

        // And the shadow queue capacity: zero, a negative or a word stops the start, naming the setting.
        StrataServerOptions.ShadowQueueCapacityFrom(configuration);

        services.AddSingleton<ServerState>();
        services.AddSingleton<ServerMetrics>();
        services.AddHostedService<ConnectionErrors>();
        services.AddAccessLog();
        services.AddHostedService<ServerLifetime>();
        services.AddOptions<Pipelines.PipelineServerOptions>().Bind(configuration.GetSection(Pipelines.PipelineServerOptions.Section));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<Pipelines.PipelineRunner>();
        services.AddSingleton<Pipelines.PipelineScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<Pipelines.PipelineScheduler>());
        services.AddSingleton<Strata.Monitoring.IPipelineTrigger, Pipelines.PipelineRunTrigger>();
        services.AddSingleton<Pipelines.ServerAlerts>();
        services.AddOptions<MonitoringServerOptions>().Bind(configuration.GetSection(MonitoringServerOptions.Section));
        services.AddSingleton<MonitorReferences>();
        services.AddSingleton<MonitoringService>();
        services.AddHostedService(sp => sp.GetRequiredService<MonitoringService>());
        services.AddSingleton<IProblemDetailsWriter, InferenceProblemWriter>(); // ahead of the default writer: /v2 answers {"error"}
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            c.ProblemDetails.Extensions["requestId"] = c.HttpContext.TraceIdentifier;
            ProblemExceptionHandler.DescribeStatus(c.HttpContext, c.ProblemDetails);
        });
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.ConfigureHttpJsonOptions(o =>
        {
            StrataJson.Apply(o.SerializerOptions);

            // A request's misspelt field is refused, naming it, as MLflow's API does, rather than read as absent. (The
            // client keeps reading responses leniently: a newer server may add fields.)
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;

            // Of a field given twice the server would read the last, and the caller may have meant the first.
            o.SerializerOptions.AllowDuplicateProperties = false;

            // A deployment is answered with the names a PUT takes (strata.yaml's), so it can be put back as it is.
            o.SerializerOptions.Converters.Add(new DeploymentJsonConverter());
        });

        // Binding failures (malformed JSON, a non-numeric version) throw, so they become 400 problems like every other error.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<StrataServerOptions>>((kestrel, strata) =>
        {
            // The per-route limits are tighter; this is the backstop for anything that reads a body outside them.
            kestrel.Limits.MaxRequestBodySize = strata.Value.MaxArtifactBytes + strata.Value.MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });
    }

    private static void AddLogging(WebApplicationBuilder builder)
    {
        // NOTE: ASP.NET Core starts an Activity and a log scope for every request whenever its hosting category can log
        // at all, which cost more than a prediction. Its only per-request lines are "request starting/finished"; failures
        // are logged by the exception handler with the request id. Configuring the category turns them back on.
        if (builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] is null)
        {
            builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        }

        // Routing and results log two or three Information lines for every request of the general pipeline (each
        // /metrics scrape among them), which the access log already covers; warnings and errors still show.
        if (builder.Configuration["Logging:LogLevel:Microsoft.AspNetCore"] is null)
        {
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        }

        switch (builder.Configuration[StrataServerOptions.Section + ":LogFormat"] ?? "text")
        {
            case "json":
                // One JSON object per line, for log shippers; a failure's line carries its RequestId as a field.
                builder.Logging.AddJsonConsole(o =>
                {
                    o.IncludeScopes = true;
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                });
                break;
            case "text":
                break;
            case var other:
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"log format '{other}' is not one of json, text");
        }

        Telemetry.AddTracing(builder);
    }

    private static void UsePipeline(WebApplication app)
    {
        app.UseInferenceFastPath(); // predict and infer: the same checks, metrics and errors, without the general pipeline's cost
        app.UseHttpMetrics();
        app.UseRequestIds();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<RawPathGuard>();
        app.UseRouting();
        app.UseRouteMetrics();
        app.UseAccessControl();
        app.UseBodyLimits();
        app.UseQueryCheck();
    }
}
