using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Strata.IntegrationTests.Server;

namespace Strata.IntegrationTests.Cli;

/// <summary>`strata serve --config strata.yaml` as a real process: the file's endpoints are served, and logs are JSON lines when asked.</summary>
public sealed class ServeCommandTests
{
    [Fact]
    public async Task Serve_with_a_config_file_serves_its_endpoints_and_logs_json_lines()
    {
        // Seed a home through a short-lived server, then hand the home to the command.
        await using var seeded = await ServingServer.StartAsync();
        await seeded.StopAsync();
        var config = Path.Combine(seeded.Home, "served.yaml");
        await File.WriteAllTextAsync(config, "endpoints:\n  - { name: from-file, project: flights, model: delay@live }\n");

        // A server setting (docs/serving.md) passes through as --Strata:Name value.
        using var process = Cli.Start(seeded.Home, ["serve", "--urls", "http://127.0.0.1:0", "--home", seeded.Home, "--config", config, "--log-format", "json", "--Strata:AnonymousMetrics", "true"]);
        var lines = new List<string>();
        try
        {
            string? url = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            while (url is null && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                lines.Add(line);
                using var entry = JsonDocument.Parse(line); // every line is one JSON object
                var message = entry.RootElement.GetProperty("Message").GetString()!;
                const string Listening = "Now listening on: ";
                url = message.StartsWith(Listening, StringComparison.Ordinal) ? message[Listening.Length..].Trim() : null;
            }

            Assert.NotNull(url);
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", seeded.Keys["viewer"]);
            var (header, rows) = ServingServer.Sample(1);
            using var response = await http.PostAsync("/v1/endpoints/from-file/predict", ServingTests.Body(header, rows));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(1, (await ServingServer.JsonAsync(response)).GetProperty("version").GetInt32());
            Assert.Contains(lines, l => l.Contains("\"Category\":\"Strata.Server.Hosting.ServerLifetime\"", StringComparison.Ordinal)
                && l.Contains("Serving 1 endpoints", StringComparison.Ordinal));
            using var anonymous = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/metrics")).StatusCode);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Theory]
    [InlineData("--bogus", "unknown argument '--bogus'")]
    [InlineData("stray", "unknown argument 'stray'")]
    [InlineData("--Strata:AnonymousMetrics", "setting '--Strata:AnonymousMetrics' needs a value")]
    public async Task An_argument_that_is_no_option_or_setting_is_refused(string argument, string message)
    {
        var result = await Cli.RunAsync("serve", "--urls", "http://127.0.0.1:0", argument);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(message, result.Error + result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_log_format_and_log_levels_may_come_from_the_environment_and_settings()
    {
        using var home = new Strata.Testing.TempFolder("strata-serve-env");

        // Strata__LogFormat in the environment was overridden by the command's own default (text).
        using var process = Cli.Start(home.Path, ["serve", "--urls", "http://127.0.0.1:0", "--home", home.Path, "--Logging:LogLevel:Default", "Information"],
            environment: new Dictionary<string, string> { ["Strata__LogFormat"] = "json" });
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var first = await process.StandardOutput.ReadLineAsync(timeout.Token);

            Assert.NotNull(first);
            using var entry = JsonDocument.Parse(first); // a JSON line, not text
            Assert.True(entry.RootElement.TryGetProperty("Message", out _), first);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Theory]
    [InlineData("notaurl")]
    [InlineData("http://127.0.0.1:99999")]
    public async Task An_address_that_is_not_one_is_an_error_naming_it_not_a_crash(string urls)
    {
        using var home = new Strata.Testing.TempFolder("strata-serve-urls");

        var result = await Cli.RunAsync("serve", "--home", home.Path, "--urls", urls);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains($"error: '{urls}' is not an address to listen on", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_log_format_is_refused()
    {
        var result = await Cli.RunAsync("serve", "--log-format", "xml", "--urls", "http://127.0.0.1:0");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("xml", result.Error + result.Out, StringComparison.Ordinal);
    }
}

/// <summary>`strata serve --postgres` with a connection string the server refuses.</summary>
[Strata.Testing.RequiresPostgres]
public sealed class PostgresServeCommandTests
{
    [Strata.Testing.BackendFact]
    public async Task A_wrong_password_is_an_error_naming_the_refusal_not_a_crash()
    {
        // It crashed with an unhandled PostgresException (28P01) and a stack trace; only a server that did not answer was handled.
        var wrong = new Npgsql.NpgsqlConnectionStringBuilder(Strata.Testing.RequiresPostgresAttribute.ConnectionString) { Password = "not-the-password" };
        using var home = new Strata.Testing.TempFolder("strata-serve-password");

        var result = await Cli.RunAsync("serve", "--home", home.Path, "--urls", "http://127.0.0.1:0", "--postgres", wrong.ToString());

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("error: the metadata store refuses the connection: 28P01", result.Error, StringComparison.Ordinal);
    }
}
