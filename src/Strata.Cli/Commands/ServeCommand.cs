using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Strata.Server;

namespace Strata.Cli.Commands;

/// <summary>`strata serve`: the HTTP API over the home folder (or PostgreSQL metadata), until Ctrl-C.</summary>
internal static class ServeCommand
{
    public static Command Build(GlobalOptions globals)
    {
        var urls = new Option<string>("--urls") { Description = $"Where to listen, ';'-separated (default {StrataServerOptions.DefaultUrl}; other than loopback only once an API key exists)", DefaultValueFactory = _ => StrataServerOptions.DefaultUrl };
        var postgres = new Option<string?>("--postgres") { Description = "Keep metadata in PostgreSQL (a connection string) instead of the home's SQLite file; artifacts stay in the home" };
        var maxArtifact = new Option<long?>("--max-artifact-bytes") { Description = "Largest upload accepted (default 1 GiB)" };
        var logFormat = new Option<string>("--log-format") { Description = "Console log format: text, or json (one object per line, with request ids)", DefaultValueFactory = _ => "text" };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var accessLog = new Option<string?>("--access-log") { Description = "Per-request access log on standard output: a sampling rate of successful requests (default 0.1: one in ten; failed requests are always logged), stdout (every request) or off" };
        var config = new Option<string?>("--config") { Description = "The project configuration whose endpoints: section declares serving endpoints (default ./strata.yaml when it exists)" };
        var command = new Command(
            "serve",
            "Serve the tracking, registry, lineage, artifact and audit API under /api/v1 (API keys required; see `strata auth create-key`), " +
            "with /health/live and /health/ready; and the serving endpoints of strata.yaml and the store under /v1/endpoints and /v2 (Open Inference Protocol).")
            { urls, postgres, maxArtifact, config, logFormat, accessLog };
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            List<string> args = ["--urls", parse.GetValue(urls)!, "--Strata:Home", context.Home, "--Strata:LogFormat", parse.GetValue(logFormat)!];
            if (parse.GetValue(postgres) is { Length: > 0 } connection)
            {
                args.AddRange(["--Strata:Postgres", connection]);
            }

            if (parse.GetValue(config) is { Length: > 0 } file)
            {
                args.AddRange(["--Strata:Config", Path.GetFullPath(file)]);
            }

            if (parse.GetValue(accessLog) is { Length: > 0 } access)
            {
                args.AddRange(["--Strata:AccessLog", access]);
            }

            if (parse.GetValue(maxArtifact) is { } max)
            {
                args.AddRange(["--Strata:MaxArtifactBytes", max.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }

            var app = StrataServer.Build([.. args]);
            await using (app.ConfigureAwait(false))
            {
                await ((IHost)app).RunAsync(ct).ConfigureAwait(false);
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}
