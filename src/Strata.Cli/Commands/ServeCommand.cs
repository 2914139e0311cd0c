using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Strata.Server;
using Strata.Server.Hosting;

namespace Strata.Cli.Commands;

/// <summary>`strata serve`: the HTTP API over the home folder (or PostgreSQL metadata), until Ctrl-C.</summary>
internal static class ServeCommand
{
    /// <summary>The command's name.</summary>
    public const string Name = "serve";

    public static Command Build(GlobalOptions globals, Termination termination)
    {
        var urls = new Option<string>("--urls") { Description = $"Where to listen, ';'-separated (default {StrataServerOptions.DefaultUrl}; other than loopback only once an API key exists)", DefaultValueFactory = _ => StrataServerOptions.DefaultUrl };
        var postgres = new Option<string?>("--postgres") { Description = "Keep metadata in PostgreSQL (a connection string) instead of the home's SQLite file; artifacts stay in the home" };
        var maxArtifact = new Option<long?>("--max-artifact-bytes") { Description = "Largest upload accepted (default 1 GiB)" };
        // No default here: an unset option leaves the server's setting (Strata__LogFormat in the environment, or text).
        var logFormat = new Option<string?>("--log-format") { Description = "Console log format: text (default), or json (one object per line, with request ids)" };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var accessLog = new Option<string?>("--access-log") { Description = "Per-request access log on standard output: a sampling rate of successful requests (default 0.1: one in ten; failed requests are always logged), stdout (every request) or off" };
        var config = new Option<string?>("--config") { Description = "The project configuration whose endpoints: section declares serving endpoints (default ./strata.yaml when it exists)" };
        var command = new Command(
            Name,
            "Serve the tracking, registry, lineage, artifact and audit API under /api/v1 (API keys required; see `strata auth create-key`), " +
            "with /health/live and /health/ready; and the serving endpoints of strata.yaml and the store under /v1/endpoints and /v2 (Open Inference Protocol). " +
            "Other server settings follow as --Strata:Name value (e.g. --Strata:AnonymousMetrics true, --Strata:Otlp:Endpoint URL); " +
            "--shutdownTimeoutSeconds N gives requests in flight N seconds to finish after SIGTERM or Ctrl-C (default 30).")
            { urls, postgres, maxArtifact, config, logFormat, accessLog };

        // Server settings beyond these options (docs/serving.md, README) are given as --Strata:Name value: they pass
        // through to the server's configuration, and anything else left over is still refused.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (parse, ct) =>
        {
            var context = CliContext.For(parse, globals);
            List<string> args = ["--urls", parse.GetValue(urls)!, "--Strata:Home", context.Home];
            args.AddRange(Settings(parse.UnmatchedTokens));
            if (parse.GetValue(logFormat) is { Length: > 0 } format)
            {
                args.AddRange(["--Strata:LogFormat", format]);
            }

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
                // After SIGTERM or Ctrl-C the process waits for the host's shutdown window as configured (requests in
                // flight, then the serving runtime and the prediction log), and a margin.
                termination.AllowServerShutdown(app.Services);
                try
                {
                    await ((IHost)app).RunAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    // A signal while the host was still starting (its listener may already be up) cancels the start; the
                    // operator asked it to stop, as one after the start does, and it has: a stop, not a failure.
                }
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// The server settings among the tokens no option took: <c>--Strata:Name value</c> or <c>--Strata:Name=value</c>, and
    /// <c>--Logging:…</c>, <c>--shutdownTimeoutSeconds</c> and <c>--HostOptions:ShutdownTimeout</c> alike.
    /// </summary>
    /// <exception cref="StrataException">A token that is not such a setting, or a setting without its value.</exception>
    internal static IEnumerable<string> Settings(IReadOnlyList<string> tokens)
    {
        // Log levels (--Logging:LogLevel:Microsoft.AspNetCore Information) are server settings as well, and so is the
        // host's shutdown window (--shutdownTimeoutSeconds 60).
        string[] prefixes = ["--Strata:", "--Logging:"];
        string[] hostSettings = ["--" + ShutdownWindow.SecondsSetting, "--" + ShutdownWindow.TimeSpanSetting];
        var settings = new List<string>();
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var name = token.Split('=', 2)[0];
            var prefix = prefixes.FirstOrDefault(p => token.StartsWith(p, StringComparison.OrdinalIgnoreCase));
            if (!hostSettings.Contains(name, StringComparer.OrdinalIgnoreCase)
                && (prefix is null || token.Length == prefix.Length || token[prefix.Length] == '='))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"unknown argument '{token}': `strata serve` takes the options of `strata serve --help`, and server settings as --Strata:Name value (e.g. --Strata:AnonymousMetrics true), --Logging:LogLevel:Category level or --shutdownTimeoutSeconds seconds");
            }

            if (token.Contains('=', StringComparison.Ordinal))
            {
                settings.Add(token);
            }
            else if (i + 1 < tokens.Count && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                settings.Add(token);
                settings.Add(tokens[++i]);
            }
            else
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"setting '{token}' needs a value (--Strata:Name value, or --Strata:Name=value)");
            }
        }

        return settings;
    }
}
