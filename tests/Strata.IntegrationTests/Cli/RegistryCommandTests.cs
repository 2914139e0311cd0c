using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Strata.Api;
using Strata.Client;
using Strata.IntegrationTests.Server;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Cli;

/// <summary>The registry commands on the local home and against a server: same commands, same answers.</summary>
public sealed class RegistryCommandTests : IDisposable
{
    private readonly TempFolder _folder = new("cli-registry");

    private string Home => _folder.File("home");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Registry_commands_work_on_the_local_home()
    {
        var (runs, betweenMoves) = await SeedLocalAsync();

        var list = await Ok("runs", "list", "-p", "flights", "--order-by", "metrics.auc desc", "--json");
        using (var page = JsonDocument.Parse(list))
        {
            Assert.Equal([runs[1], runs[0]], page.RootElement.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        }

        Assert.Contains("auc", await Ok("runs", "show", runs[0], "-p", "flights"), StringComparison.Ordinal);
        using (var compare = JsonDocument.Parse(await Ok("runs", "compare", runs[0], runs[1], "-p", "flights", "--json")))
        {
            var auc = compare.RootElement.GetProperty("rows").EnumerateArray().Single(r => r.GetProperty("key").GetString() == "auc");
            Assert.True(auc.GetProperty("differs").GetBoolean());
        }

        Assert.Contains("delay", await Ok("models", "list", "-p", "flights"), StringComparison.Ordinal);
        Assert.Equal(2, JsonDocument.Parse(await Ok("models", "versions", "delay", "-p", "flights", "--json")).RootElement.GetArrayLength());
        Assert.Contains("champion", await Ok("models", "show", "delay", "-p", "flights"), StringComparison.Ordinal);

        // The local owner is an admin: a protected alias still goes through a request and its approval.
        using (var staging = JsonDocument.Parse(await Ok("models", "alias", "delay", "staging", "2", "-p", "flights", "--json")))
        {
            Assert.Equal("moved", staging.RootElement.GetProperty("outcome").GetString());
        }

        var request = JsonDocument.Parse(await Ok("models", "request", "delay", "champion", "2", "-p", "flights", "--json")).RootElement.GetProperty("id").GetString()!;
        Assert.Contains("approved", await Ok("models", "approve", request, "-p", "flights"), StringComparison.Ordinal);
        var rejected = JsonDocument.Parse(await Ok("models", "request", "delay", "champion", "1", "-p", "flights", "--json")).RootElement.GetProperty("id").GetString()!;
        Assert.Contains("rejected", await Ok("models", "reject", rejected, "-p", "flights", "--reason", "worse"), StringComparison.Ordinal);
        Assert.Equal(2, JsonDocument.Parse(await Ok("models", "history", "delay", "champion", "-p", "flights", "--json")).RootElement.GetArrayLength());
        using (var at = JsonDocument.Parse(await Ok("models", "history", "delay", "champion", "-p", "flights", "--at", Timestamp.Format(betweenMoves), "--json")))
        {
            Assert.Equal(1, at.RootElement.GetProperty("version").GetInt32());
        }

        Assert.Equal(3, JsonDocument.Parse(await Ok("models", "promotions", "-p", "flights", "--json")).RootElement.GetArrayLength());

        var tree = await Ok("lineage", "show", "model:delay@champion", "-p", "flights");
        Assert.Contains("model delay/2", tree, StringComparison.Ordinal);
        Assert.Contains("dataset flights.csv", tree, StringComparison.Ordinal);
        Assert.Contains("run ", tree, StringComparison.Ordinal);
        Assert.Contains("dataset flights.csv", await Ok("lineage", "show", "model:delay/1", "-p", "flights"), StringComparison.Ordinal);

        Assert.Contains("intact", await Ok("audit", "verify"), StringComparison.Ordinal);
        var audit = JsonDocument.Parse(await Ok("audit", "show", "-p", "flights", "--json")).RootElement;
        Assert.Contains(audit.EnumerateArray(), e => e.GetProperty("action").GetString() == "model.promotion.approve");

        using var gc = JsonDocument.Parse(await Ok("artifacts", "gc", "--dry-run", "--json"));
        Assert.Equal(0, gc.RootElement.GetProperty("deleted").GetInt32());
        Assert.True(gc.RootElement.GetProperty("dry_run").GetBoolean());
    }

    [Fact]
    public async Task A_key_is_printed_once_and_listed_without_its_secret()
    {
        await Ok("projects", "create", "flights");

        var created = await RunAsync("auth", "create-key", "--project", "flights", "--role", "deployer", "--principal", "ci-bot");

        Assert.Equal(0, created.ExitCode);
        var token = created.Out.Trim();
        Assert.True(ApiKeys.TryParse(token, out var id, out var secret), token);
        Assert.Contains("cannot be shown again", created.Error, StringComparison.Ordinal);
        var listed = await Ok("auth", "list-keys", "--json");
        Assert.Contains(id, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(ApiKeys.Hash(secret), listed, StringComparison.Ordinal);
        await Ok("auth", "revoke-key", id);
        Assert.True(JsonDocument.Parse(await Ok("auth", "list-keys", "-p", "flights", "--json")).RootElement[0].GetProperty("revoked").GetBoolean());
    }

    [Fact]
    public async Task Errors_map_to_the_documented_exit_codes()
    {
        await Ok("projects", "create", "flights");

        Assert.Equal(ExitCode.BadInput, (await RunAsync("models", "list")).ExitCode);
        Assert.Equal(ExitCode.BadInput, (await RunAsync("models", "show", "nope", "-p", "flights")).ExitCode);
        Assert.Equal(ExitCode.BadInput, (await RunAsync("models", "show", "../x", "-p", "flights")).ExitCode);
        Assert.Equal(ExitCode.BadInput, (await RunAsync("auth", "create-key", "--project", "flights", "--role", "root")).ExitCode);
        Assert.Equal(ExitCode.BadInput, (await RunAsync("models", "list", "-p", "flights", "--server", "file:///etc/passwd")).ExitCode);
        Assert.Equal(ExitCode.Usage, (await RunAsync("models", "alias", "delay", "champion", "one", "-p", "flights")).ExitCode);
        var unreachable = await RunAsync("models", "list", "-p", "flights", "--server", "http://127.0.0.1:9", "--api-key", "x");
        Assert.Equal(ExitCode.InternalError, unreachable.ExitCode);
        Assert.Contains("cannot reach", unreachable.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registry_commands_work_against_a_server_with_each_key_s_role()
    {
        await using var host = await KestrelHost.StartAsync(Home);
        var server = host.Url.ToString();
        using var root = StrataClient.Create(host.Url, host.RootToken);
        await root.CreateProjectAsync("flights");
        var editor = (await root.CreateKeyAsync("flights", new CreateKeyRequest("editor-bot", Role.Editor))).Token;
        var deployer = (await root.CreateKeyAsync("flights", new CreateKeyRequest("deployer-bot", Role.Deployer))).Token;
        using (var client = StrataClient.Create(host.Url, editor))
        {
            await client.CreateModelAsync("flights", "delay");
            var blob = await client.UploadArtifactAsync("flights", new MemoryStream("package"u8.ToArray()));
            await client.RegisterVersionAsync("flights", "delay", new RegisterVersionRequest { ArtifactDigest = blob.Digest, Learner = "gbdt" });
        }

        string[] As(string key, params string[] args) => [.. args, "-p", "flights", "--server", server, "--api-key", key];

        Assert.Contains("flights", await Ok("projects", "list", "--server", server, "--api-key", editor), StringComparison.Ordinal);
        var pending = JsonDocument.Parse(await Ok(As(editor, "models", "alias", "delay", "champion", "1", "--json"))).RootElement;
        Assert.Equal("pending", pending.GetProperty("outcome").GetString());
        var id = pending.GetProperty("promotion").GetProperty("id").GetString()!;

        var refused = await RunAsync(As(editor, "models", "approve", id));
        Assert.Equal(ExitCode.BadInput, refused.ExitCode);
        Assert.Contains("deployer", refused.Error, StringComparison.Ordinal);

        Assert.Contains("approved", await Ok(As(deployer, "models", "approve", id)), StringComparison.Ordinal);
        Assert.Contains("deployer-bot", await Ok(As(editor, "models", "history", "delay", "champion")), StringComparison.Ordinal);
        Assert.Contains("model delay/1", await Ok(As(editor, "lineage", "show", "model:delay@champion")), StringComparison.Ordinal);
        Assert.Contains("intact", await Ok("audit", "verify", "--server", server, "--api-key", host.RootToken), StringComparison.Ordinal);
        Assert.Equal(ExitCode.BadInput, (await RunAsync("audit", "verify", "--server", server, "--api-key", editor)).ExitCode);
        Assert.Equal(ExitCode.BadInput, (await RunAsync(As("strata_0000000000000000_" + new string('0', 64), "models", "list"))).ExitCode);

        var key = await RunAsync("auth", "create-key", "--project", "flights", "--role", "viewer", "--server", server, "--api-key", host.RootToken);
        Assert.Equal(0, key.ExitCode);
        Assert.Contains("delay", await Ok(As(key.Out.Trim(), "models", "list")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Model_files_register_as_versions_that_archive_restore_and_delete_locally_and_on_a_server()
    {
        var xgboost = SharedData.InRepository("tests", "fixtures", "xgboost", "breast_cancer_xgb.json");
        await Ok("projects", "create", "clinic");
        using (var v1 = JsonDocument.Parse(await Ok("models", "register", "cancer", "-f", xgboost, "-p", "clinic", "--description", "imported", "--tag", "team=ml", "--json")))
        {
            Assert.Equal(1, v1.RootElement.GetProperty("version").GetInt32());
            Assert.Equal("xgboost", v1.RootElement.GetProperty("learner").GetString());
            Assert.Equal("xgboost-json", v1.RootElement.GetProperty("tags").GetProperty("imported_from").GetString());
            Assert.Equal("ml", v1.RootElement.GetProperty("tags").GetProperty("team").GetString());
            Assert.Contains("\"inputs\"", v1.RootElement.GetProperty("signature").GetString(), StringComparison.Ordinal);
        }

        // What was stored is a package that predicts what the imported file predicts.
        await using (var home = await StrataHome.OpenAsync(Home))
        {
            var registry = new RegistryService(home.Metadata, home.Artifacts);
            var (_, content) = await registry.OpenPackageAsync(Caller.Local, "clinic", "cancer", 1);
            await using (content)
            {
                var stored = await Strata.Learning.ModelPackage.LoadAsync(content);
                var original = await Strata.Learning.ModelFiles.LoadAsync(xgboost);
                var rows = await Strata.Data.Csv.CsvReader.ReadTableAsync(SharedData.InRepository("tests", "fixtures", "xgboost", "breast_cancer_sample.csv.gz"));
                Assert.Equal(original.PredictMargins(rows), stored.PredictMargins(rows));
            }
        }

        Assert.Contains("archived", await Ok("models", "archive", "cancer", "1", "-p", "clinic"), StringComparison.Ordinal);
        Assert.Equal(ExitCode.BadInput, (await RunAsync("models", "alias", "cancer", "staging", "1", "-p", "clinic")).ExitCode);
        Assert.Contains("ready", await Ok("models", "restore", "cancer", "1", "-p", "clinic"), StringComparison.Ordinal);
        var garbage = _folder.File("garbage.json");
        await File.WriteAllTextAsync(garbage, "{\"learner\": 1}");
        Assert.Equal(ExitCode.BadInput, (await RunAsync("models", "register", "cancer", "-f", garbage, "-p", "clinic")).ExitCode);
        Assert.Single(JsonDocument.Parse(await Ok("models", "versions", "cancer", "-p", "clinic", "--json")).RootElement.EnumerateArray());

        await using var host = await KestrelHost.StartAsync(Home);
        var server = host.Url.ToString();
        using var root = StrataClient.Create(host.Url, host.RootToken);
        var editor = (await root.CreateKeyAsync("clinic", new CreateKeyRequest("editor-bot", Role.Editor))).Token;
        string[] As(string key, params string[] args) => [.. args, "-p", "clinic", "--server", server, "--api-key", key];

        var package = _folder.File("clf.stpkg");
        var train = await Cli.RunAsync("train", "-d", SharedData.InRepository("tests", "fixtures", "xgboost", "breast_cancer_sample.csv.gz"), "-y", "xgb_pred",
            "--task", "regression", "-l", "linear", "-o", package);
        Assert.True(train.ExitCode == 0, train.Error);
        using (var v2 = JsonDocument.Parse(await Ok(As(editor, "models", "register", "cancer", "-f", package, "--json"))))
        {
            Assert.Equal(2, v2.RootElement.GetProperty("version").GetInt32());
            Assert.Equal("linear", v2.RootElement.GetProperty("learner").GetString());
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(package))), v2.RootElement.GetProperty("artifact_digest").GetString());
        }

        var refused = await RunAsync(As(editor, "models", "delete", "cancer", "2"));
        Assert.Equal(ExitCode.BadInput, refused.ExitCode);
        Assert.Contains("admin", refused.Error, StringComparison.Ordinal);
        Assert.Contains("archived", await Ok(As(editor, "models", "archive", "cancer", "2")), StringComparison.Ordinal);
        Assert.Contains("deleted", await Ok(As(host.RootToken, "models", "delete", "cancer", "2")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_a_public_address_while_no_key_exists()
    {
        var result = await RunAsync("serve", "--urls", "http://0.0.0.0:0");

        Assert.Equal(ExitCode.BadInput, result.ExitCode);
        Assert.Contains("no API key exists", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_says_so_when_its_postgresql_metadata_store_does_not_answer()
    {
        // Nothing listens on port 1: the store refuses the connection at start, as a stopped PostgreSQL does.
        var result = await RunAsync("serve", "--urls", "http://127.0.0.1:0", "--postgres", "Host=127.0.0.1;Port=1;Username=postgres;Password=x;Timeout=2");

        Assert.Equal(ExitCode.BadInput, result.ExitCode);
        Assert.Contains("error: the metadata store does not answer", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_answers_health_on_loopback_until_stopped()
    {
        using var process = Cli.Start(_folder.Path, ["serve", "--urls", "http://127.0.0.1:0", "--home", Home]);
        try
        {
            string? url = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (url is null && await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                var at = line.IndexOf("Now listening on: ", StringComparison.Ordinal);
                url = at >= 0 ? line[(at + "Now listening on: ".Length)..].Trim() : null;
            }

            Assert.NotNull(url);
            using var client = StrataClient.Create(new Uri(url));
            Assert.Equal("sqlite", (await client.GetReadyAsync()).Backend);
            var anonymous = await Assert.ThrowsAsync<StrataApiException>(() => client.ListProjectsAsync());
            Assert.Equal(401, anonymous.Status);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private async Task<(List<string> Runs, long BetweenMoves)> SeedLocalAsync()
    {
        await using var home = await StrataHome.OpenAsync(Home);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        var me = Caller.Local;
        await registry.CreateProjectAsync(me, "flights", null);
        await registry.CreateExperimentAsync(me, "flights", "delays", null);
        var data = Convert.ToHexStringLower(SHA256.HashData("flights"u8));
        var runs = new List<string>();
        foreach (var (auc, depth) in new[] { (0.7, "4"), (0.8, "6") })
        {
            var run = await registry.CreateRunAsync(me, "flights", "delays", new RunSpec
            {
                Params = new Dictionary<string, string> { ["depth"] = depth },
                Source = new RunSource(null, null, new Dictionary<string, string> { ["flights.csv"] = data }, ".NET", new Dictionary<string, string>(), null),
            });
            await registry.LogBatchAsync(me, "flights", run.Id, [new("auc", auc, 0, 0)], null, null);
            await registry.EndRunAsync(me, "flights", run.Id, RunStatus.Finished);
            runs.Add(run.Id);
        }

        await registry.CreateModelAsync(me, "flights", "delay", null, null);
        for (var i = 0; i < 2; i++)
        {
            await registry.UploadVersionAsync(me, "flights", "delay", new VersionRegistration { RunId = runs[i], Learner = "gbdt" }, new MemoryStream(Encoding.UTF8.GetBytes($"package {i}")));
        }

        await registry.SetAliasAsync(me, "flights", "delay", "champion", 1, "first");
        await Task.Delay(10);
        var between = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        await Task.Delay(10);
        return (runs, between);
    }

    private async Task<string> Ok(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == 0, $"strata {string.Join(' ', args)} → {result.ExitCode}: {result.Error}");
        return result.Out;
    }

    private Task<Cli.Result> RunAsync(params string[] args) => Cli.RunAsync([.. args, "--home", Home]);

    /// <summary>The CLI's exit codes (ExitCodes is internal to the CLI, and restated here as the contract scripts rely on).</summary>
    private static class ExitCode
    {
        public const int InternalError = 1;
        public const int Usage = 2;
        public const int BadInput = 3;
    }
}
