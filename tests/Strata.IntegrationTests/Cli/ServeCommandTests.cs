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

    [Fact]
    public async Task Sigterm_lets_a_request_in_flight_finish_then_closes_the_prediction_log_and_exits_0()
    {
        // System.CommandLine ended the process 2 s after SIGTERM (its default), with the request unanswered and the log's
        // segment still open; the host's own shutdown window is 30 s.
        await using var seeded = await ServingServer.StartAsync();
        await seeded.StopAsync();
        var config = Path.Combine(seeded.Home, "served.yaml");
        await File.WriteAllTextAsync(config, "endpoints:\n  - { name: from-file, project: flights, model: delay@live }\n");
        using var process = Cli.Start(seeded.Home, ["serve", "--urls", "http://127.0.0.1:0", "--home", seeded.Home, "--config", config, "--log-format", "json"]);
        try
        {
            var url = await ListeningUrlAsync(process);
            _ = process.StandardOutput.ReadToEndAsync(); // the rest of the log, so the process never waits on a full pipe
            var (header, rows) = ServingServer.Sample(1);
            var body = await ServingTests.Body(header, rows).ReadAsByteArrayAsync();
            var uri = new Uri(url);
            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync(uri.Host, uri.Port);
            var stream = client.GetStream();
            var head = $"POST /v1/endpoints/from-file/predict HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {seeded.Keys["viewer"]}\r\n" +
                $"Content-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
            await stream.WriteAsync(body.AsMemory(0, body.Length / 2));
            await Task.Delay(500); // the server is reading the body: the request is in flight

            using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            await Task.Delay(TimeSpan.FromSeconds(3)); // past System.CommandLine's default 2 s
            await stream.WriteAsync(body.AsMemory(body.Length / 2));
            using var reader = new StreamReader(stream);
            var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exit.Token);
            Assert.Equal(0, process.ExitCode);
            HeldRequest.AssertLogged(seeded.Home, answer);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }
    }

    /// <summary>The address a `strata serve --log-format json` process listens on, from its log.</summary>
    internal static async Task<string> ListeningUrlAsync(System.Diagnostics.Process process)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            using var entry = JsonDocument.Parse(line);
            var message = entry.RootElement.GetProperty("Message").GetString()!;
            const string Listening = "Now listening on: ";
            if (message.StartsWith(Listening, StringComparison.Ordinal))
            {
                return message[Listening.Length..].Trim();
            }
        }

        throw new InvalidOperationException("the server ended before it listened");
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

    [Fact]
    public async Task Serve_started_again_keeps_an_environment_value_that_is_not_utf8_byte_for_byte()
    {
        // The environment was rebuilt from .NET's strings, which replace a byte that is not UTF-8 (0xFF here) with U+FFFD.
        using var home = new Strata.Testing.TempFolder("strata-serve-raw");
        var dll = Path.Combine(AppContext.BaseDirectory, "Strata.Cli.dll");
        var info = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("export STRATA_RAW=\"x$(printf '\\377')y\"; exec dotnet \"$0\" serve --urls http://127.0.0.1:0 --home \"$1\" --log-format json");
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(home.Path);
        info.Environment.Remove("DOTNET_TieredPGO");
        using var process = System.Diagnostics.Process.Start(info)!;
        try
        {
            await ListeningUrlAsync(process);
            var environ = await File.ReadAllBytesAsync($"/proc/{process.Id}/environ");

            var variables = Strata.Cli.ServeProcess.Split(environ);
            Assert.Contains(variables, v => v.AsSpan().SequenceEqual("DOTNET_TieredPGO=1"u8)); // started again under PGO
            byte[] raw = [.. "STRATA_RAW=x"u8, 0xFF, .. "y"u8];
            Assert.Contains(variables, v => v.AsSpan().SequenceEqual(raw)); // the byte 0xFF kept as it was
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Theory]
    [InlineData("dotnet\0Strata.Cli.dll\0serve\0", new[] { "dotnet", "Strata.Cli.dll", "serve" })]
    [InlineData("strata\0serve\0--urls\0\0--home\0h\0", new[] { "strata", "serve", "--urls", "", "--home", "h" })]
    [InlineData("strata\0serve\0\0", new[] { "strata", "serve", "" })]
    [InlineData("strata", new[] { "strata" })]
    public void The_command_line_is_started_again_argument_for_argument_empty_ones_included(string commandLine, string[] expected)
    {
        var arguments = Strata.Cli.ServeProcess.Split(System.Text.Encoding.UTF8.GetBytes(commandLine));

        Assert.Equal(expected, arguments.Select(a => System.Text.Encoding.UTF8.GetString(a)));
    }

    [Theory]
    [InlineData(null, "1")]
    [InlineData("0", "0")]
    public async Task Serve_runs_under_dynamic_pgo_as_the_same_process_unless_the_environment_says_otherwise(string? given, string expected)
    {
        using var home = new Strata.Testing.TempFolder("strata-serve-pgo");
        var environment = new Dictionary<string, string> { ["STRATA_SERVE_PGO_TEST"] = "kept" };
        if (given is not null)
        {
            environment["DOTNET_TieredPGO"] = given;
        }

        using var process = Cli.Start(home.Path, ["serve", "--urls", "http://127.0.0.1:0", "--home", home.Path, "--log-format", "json"], environment: environment);
        try
        {
            var url = await ListeningUrlAsync(process);

            // The process that listens is the one started (its id, its output), now with the runtime's setting and the
            // rest of its environment as given.
            var variables = (await File.ReadAllTextAsync($"/proc/{process.Id}/environ")).Split('\0');
            Assert.Contains("DOTNET_TieredPGO=" + expected, variables);
            Assert.Single(variables, v => v.StartsWith("DOTNET_TieredPGO=", StringComparison.Ordinal));
            Assert.Contains("STRATA_SERVE_PGO_TEST=kept", variables);
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);

            // The first runtime's diagnostics socket is not left behind: the one started again makes its own and removes it at exit.
            using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exit.Token);
            Assert.Equal(0, process.ExitCode);
            Assert.Empty(Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{process.Id}-*-socket"));
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
    public async Task A_shutdown_timeout_setting_passes_through_and_one_that_is_not_one_is_an_error_naming_it()
    {
        // --shutdownTimeoutSeconds was refused as an unknown argument; the host itself ignored a value it could not parse.
        using var home = new Strata.Testing.TempFolder("strata-serve-shutdown");

        var result = await Cli.RunAsync("serve", "--home", home.Path, "--urls", "http://127.0.0.1:0", "--shutdownTimeoutSeconds", "soon");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("error: setting shutdownTimeoutSeconds is 'soon', not a whole number of seconds", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_shutdown_timeout_in_the_environment_that_is_not_one_stops_the_start_with_an_error_naming_it()
    {
        // The host ignored DOTNET_SHUTDOWNTIMEOUTSECONDS=30s without a word and served with 30 s.
        using var home = new Strata.Testing.TempFolder("strata-serve-shutdown-env");
        using var process = Cli.Start(home.Path, ["serve", "--urls", "http://127.0.0.1:0", "--home", home.Path],
            environment: new Dictionary<string, string> { ["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = "30s" });
        try
        {
            var error = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exit.Token);

            Assert.Equal(3, process.ExitCode);
            Assert.Equal("error: setting shutdownTimeoutSeconds is '30s', not a whole number of seconds from 0 to 86400: " +
                "how long requests in flight may take to finish once the server is told to stop", (await error).Trim());
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task An_unknown_log_format_is_refused()
    {
        var result = await Cli.RunAsync("serve", "--log-format", "xml", "--urls", "http://127.0.0.1:0");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("xml", result.Error + result.Out, StringComparison.Ordinal);
    }
}

/// <summary>
/// `strata serve` with a shutdown timeout longer than the default: a test class of its own, as it waits 40 s for the
/// request it holds and the rest need not wait with it.
/// </summary>
public sealed class ServeShutdownTimeoutTests
{
    [Fact]
    public async Task Sigterm_gives_a_request_in_flight_the_configured_shutdown_timeout_beyond_the_default_30_s()
    {
        // The server set 30 s in code over the operator's DOTNET_SHUTDOWNTIMEOUTSECONDS, and the CLI ended the process
        // 35 s after the signal whatever the host's window: a request still running at 38 s was cut either way.
        await using var seeded = await ServingServer.StartAsync();
        await seeded.StopAsync();
        var config = Path.Combine(seeded.Home, "served.yaml");
        await File.WriteAllTextAsync(config, "endpoints:\n  - { name: from-file, project: flights, model: delay@live }\n");
        using var process = Cli.Start(seeded.Home, ["serve", "--urls", "http://127.0.0.1:0", "--home", seeded.Home, "--config", config, "--log-format", "json"],
            environment: new Dictionary<string, string> { ["DOTNET_SHUTDOWNTIMEOUTSECONDS"] = "90" });
        try
        {
            var url = await ServeCommandTests.ListeningUrlAsync(process);
            _ = process.StandardOutput.ReadToEndAsync(); // the rest of the log, so the process never waits on a full pipe
            var (header, rows) = ServingServer.Sample(1);
            using var request = await HeldRequest.StartAsync(
                new Uri(url), "/v1/endpoints/from-file/predict", seeded.Keys["viewer"], await ServingTests.Body(header, rows).ReadAsByteArrayAsync());

            using (var kill = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            await Task.Delay(TimeSpan.FromSeconds(38)); // past the default window (30 s) and the CLI's old end (35 s), well within 90 s
            var answer = await request.FinishAsync();

            Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(exit.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
        }
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
