using System.Net;
using System.Net.Http.Json;
using System.Text;
using Strata.Registry;
using Strata.Security;
using Strata.Stores;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// What the routes answer when the registry, the artifact store and the deployments disagree: a version or alias an
/// endpoint serves, a package the server cannot read, a failed load, key limits naming endpoints.
/// </summary>
public sealed class DeploymentLifecycleServerTests(ServingServerFixture fixture) : IClassFixture<ServingServerFixture>
{
    private ServingServer Server => fixture.Server;

    [Fact]
    public async Task Deleting_a_version_or_removing_an_alias_an_endpoint_serves_is_a_409_naming_the_endpoint()
    {
        await Server.DeployAsync("life-pinned", new { project = "flights", model = "delay/2" });
        await Server.Registry.SetAliasAsync(Caller.Local, "flights", "delay", "life-canary", 1, null);
        await Server.DeployAsync("life-canaried", new { project = "flights", model = "delay/1", challenger = "delay@life-canary" });
        using var root = Server.Http("root");

        using var deleted = await root.PutAsJsonAsync("/api/v1/projects/flights/models/delay/versions/2/status", new { status = "deleted" });
        Assert.Equal(HttpStatusCode.Conflict, deleted.StatusCode);
        Assert.Contains("endpoint 'life-pinned'", (await ServingServer.JsonAsync(deleted)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var removed = await root.DeleteAsync("/api/v1/projects/flights/models/delay/aliases/life-canary");
        Assert.Equal(HttpStatusCode.Conflict, removed.StatusCode);
        Assert.Contains("endpoint 'life-canaried'", (await ServingServer.JsonAsync(removed)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deployment_naming_a_package_the_server_cannot_read_is_a_409_naming_the_version()
    {
        var blob = await Server.Registry.PutBlobAsync(Caller.Local, "flights", new MemoryStream(Encoding.UTF8.GetBytes("a package the server cannot read")));
        var version = await Server.Registry.RegisterVersionAsync(Caller.Local, "flights", "delay", new VersionRegistration { ArtifactDigest = blob.Digest });
        var path = Path.Combine(Server.Home, "objects", "sha256", blob.Digest[..2], blob.Digest[2..]);
        File.Delete(path);
        Directory.CreateDirectory(path); // opening it for reading is refused, as a file without read permission is

        using var root = Server.Http("root");
        using var refused = await root.PutAsJsonAsync("/v1/endpoints/life-unreadable", new { project = "flights", model = $"delay/{version.Version}" });

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains($"version {version.Version} of model 'delay' cannot be read", (await ServingServer.JsonAsync(refused)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_limit_needs_its_list_and_endpoints_that_exist_and_holds_its_endpoints()
    {
        await Server.DeployAsync("life-limited", new { project = "flights", model = "delay/1" });
        var key = await Server.Registry.CreateKeyAsync(Caller.Local, "flights", "life-limited-bot", Role.Viewer, null);
        using var root = Server.Http("root");
        var route = $"/v1/keys/{key.Key.Id}/endpoints";

        // Only [] lifts a limit: a missing or null list is not read as one.
        foreach (var body in new[] { "{}", """{"endpoints": null}""" })
        {
            using var missing = await root.PutAsync(route, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
            Assert.Contains("field 'endpoints'", (await ServingServer.JsonAsync(missing)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using var unknown = await root.PutAsJsonAsync(route, new { endpoints = new[] { "life-limited", "no-such-endpoint" } });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("'no-such-endpoint'", (await ServingServer.JsonAsync(unknown)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await root.PutAsJsonAsync(route, new { endpoints = new[] { "life-limited" } })).StatusCode);
        using var held = await root.DeleteAsync("/v1/endpoints/life-limited");
        Assert.Equal(HttpStatusCode.Conflict, held.StatusCode);
        Assert.Contains($"'{key.Key.Id}'", (await ServingServer.JsonAsync(held)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await root.PutAsJsonAsync(route, new { endpoints = Array.Empty<string>() })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await root.DeleteAsync("/v1/endpoints/life-limited")).StatusCode);
    }

    [Fact]
    public async Task A_repository_load_that_fails_says_why_while_the_old_version_keeps_serving()
    {
        await Server.Registry.SetAliasAsync(Caller.Local, "flights", "delay", "life-oip", 1, null);
        await Server.DeployAsync("life-oip", new { project = "flights", model = "delay@life-oip" });
        var blob = await Server.Registry.PutBlobAsync(Caller.Local, "flights", new MemoryStream(Encoding.UTF8.GetBytes("not a model package")));
        var corrupt = await Server.Registry.RegisterVersionAsync(Caller.Local, "flights", "delay", new VersionRegistration { ArtifactDigest = blob.Digest });
        await Server.Registry.SetAliasAsync(Caller.Local, "flights", "delay", "life-oip", corrupt.Version, null);
        using var deployer = Server.Http("deployer");

        // The load retries the swap at once; it fails as Triton's does, with the reason.
        using var load = await deployer.PostAsync("/v2/repository/models/life-oip/load", null);
        Assert.Equal(HttpStatusCode.BadRequest, load.StatusCode);
        var error = (await ServingServer.JsonAsync(load)).GetProperty("error").GetString();
        Assert.StartsWith("model 'life-oip' keeps serving version 1: ", error, StringComparison.Ordinal); // the endpoint, as /v2 names it
        Assert.Contains($"version {corrupt.Version} of model 'delay' failed verification", error, StringComparison.Ordinal);

        // The index shows the old version serving, and why the new one is not.
        var index = await ServingServer.JsonAsync(await deployer.PostAsync("/v2/repository/index", null));
        var entry = index.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "life-oip");
        Assert.Equal(("READY", "1"), (entry.GetProperty("state").GetString(), entry.GetProperty("version").GetString()));
        Assert.Contains("failed verification", entry.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_repository_load_after_an_unload_reads_the_package_again_and_refuses_one_changed_on_disk()
    {
        // A model of its own, so its package file is no other endpoint's.
        await Server.RegisterOtherModelAsync("life-reread", new Strata.Learning.Linear.LogisticRegressionLearner(), Strata.Learning.LearningTask.BinaryClassification);
        await Server.DeployAsync("life-reread", new { project = "flights", model = "life-reread/1" });
        var digest = (await Server.Registry.GetVersionAsync(Caller.Local, "flights", "life-reread", 1)).ArtifactDigest;
        var file = Path.Combine(Server.Home, "objects", "sha256", digest[..2], digest[2..]);
        var package = await File.ReadAllBytesAsync(file);
        using var deployer = Server.Http("deployer");
        using var http = Server.Http();
        Assert.Equal(HttpStatusCode.OK, (await deployer.PostAsync("/v2/repository/models/life-reread/unload", null)).StatusCode);

        // The package changes on disk while the endpoint is unloaded: the load reads it again, as a first load does.
        await File.WriteAllBytesAsync(file, [.. package.Take(package.Length / 2)]);
        using var refused = await deployer.PostAsync("/v2/repository/models/life-reread/load", null);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = (await ServingServer.JsonAsync(refused)).GetProperty("error").GetString();
        Assert.StartsWith("model 'life-reread' could not load its versions: ", error, StringComparison.Ordinal); // the endpoint, as /v2 names it
        Assert.Contains("version 1 of model 'life-reread' failed verification", error, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/v2/models/life-reread/ready")).StatusCode);
        var index = await ServingServer.JsonAsync(await deployer.PostAsync("/v2/repository/index", null));
        Assert.Equal("UNAVAILABLE", index.EnumerateArray().Single(e => e.GetProperty("name").GetString() == "life-reread").GetProperty("state").GetString());
        Assert.Contains("strata_serving_model_load_failures_total{model=\"life-reread\"} 1\n", await http.GetStringAsync("/metrics"), StringComparison.Ordinal);

        // Put back as it was, the package loads again.
        await File.WriteAllBytesAsync(file, package);
        Assert.Equal(HttpStatusCode.OK, (await deployer.PostAsync("/v2/repository/models/life-reread/load", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v2/models/life-reread/ready")).StatusCode);
    }
}
