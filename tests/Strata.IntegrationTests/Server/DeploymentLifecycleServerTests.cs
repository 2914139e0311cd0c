using System.Net;
using System.Net.Http.Json;
using Strata.Security;

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

}
