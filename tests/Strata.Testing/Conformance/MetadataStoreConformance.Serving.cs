using Strata.Stores;
using Xunit;

namespace Strata.Testing.Conformance;

// Serving endpoints against the registry: what a stored deployment names stays servable; keys limited to endpoints.
public abstract partial class MetadataStoreConformance
{
    [BackendFact]
    public async Task A_version_or_alias_a_stored_deployment_names_cannot_be_archived_deleted_or_removed()
    {
        await ServingRegistryAsync();
        await Store.Endpoints.PutAsync("pinned", "flights", """{"name":"pinned","project":"flights","model":"delay/3"}""", Alice);
        await Store.Endpoints.PutAsync("canary", "flights", """{"name":"canary","project":"flights","model":"delay@live","challenger":"delay@canary","shadow":"delay/4"}""", Alice);

        // By number, as champion or shadow: neither archived nor deleted, and the refusal names the endpoint.
        foreach (var (version, status, endpoint) in new[] { (3, VersionStatus.Deleted, "pinned"), (3, VersionStatus.Archived, "pinned"), (4, VersionStatus.Deleted, "canary") })
        {
            var refused = await Assert.ThrowsAsync<StrataException>(() => Store.Registry.SetVersionStatusAsync("flights", "delay", version, status, Alice));
            Assert.Equal(ErrorCodes.Conflict, refused.Code);
            Assert.Contains($"endpoint '{endpoint}'", refused.Message, StringComparison.Ordinal);
        }

        // By alias: the alias cannot be removed (it may still move).
        var removed = await Assert.ThrowsAsync<StrataException>(() => Store.Registry.MoveAliasAsync("flights", "delay", "canary", null, null, Alice));
        Assert.Equal(ErrorCodes.Conflict, removed.Code);
        Assert.Contains("endpoint 'canary'", removed.Message, StringComparison.Ordinal);
        Assert.Contains("challenger", removed.Message, StringComparison.Ordinal);
        await Store.Registry.MoveAliasAsync("flights", "delay", "canary", 1, null, Alice);
        Assert.Equal(1, (await Store.Registry.GetAliasAsync("flights", "delay", "canary"))!.Version);
        Assert.Equal(VersionStatus.Ready, (await Store.Registry.GetVersionAsync("flights", "delay", 3))!.Status);
        Assert.Equal(VersionStatus.Ready, (await Store.Registry.GetVersionAsync("flights", "delay", 4))!.Status);

        // Once no deployment names them, they go as before.
        await Store.Endpoints.DeleteAsync("canary", Alice);
        await Store.Endpoints.PutAsync("pinned", "flights", """{"name":"pinned","project":"flights","model":"delay/2"}""", Alice);
        await Store.Registry.MoveAliasAsync("flights", "delay", "canary", null, null, Alice);
        await Store.Registry.SetVersionStatusAsync("flights", "delay", 3, VersionStatus.Deleted, Alice);
        Assert.Equal(VersionStatus.Deleted, (await Store.Registry.GetVersionAsync("flights", "delay", 3))!.Status);
    }

    [BackendFact]
    public async Task A_deployment_naming_a_missing_or_deleted_version_or_a_missing_alias_is_not_stored()
    {
        await ServingRegistryAsync();
        await Store.Registry.SetVersionStatusAsync("flights", "delay", 4, VersionStatus.Deleted, Alice);

        foreach (var (definition, code, named) in new[]
                 {
                     ("""{"model":"delay/9"}""", ErrorCodes.NotFound, "version 9"),
                     ("""{"model":"delay@live","shadow":"delay/4"}""", ErrorCodes.Conflict, "version 4"),
                     ("""{"model":"delay@live","challenger":"delay@nosuch"}""", ErrorCodes.NotFound, "alias 'nosuch'"),
                     ("""{"model":"nomodel@live"}""", ErrorCodes.NotFound, "model 'nomodel'"),
                 })
        {
            var refused = await Assert.ThrowsAsync<StrataException>(() => Store.Endpoints.PutAsync("bad", "flights", definition, Alice));
            Assert.Equal(code, refused.Code);
            Assert.Contains(named, refused.Message, StringComparison.Ordinal);
        }

        Assert.Null(await Store.Endpoints.GetAsync("bad"));
    }

    [BackendFact]
    public async Task A_key_is_limited_only_to_endpoints_that_exist_and_one_it_is_limited_to_is_not_deleted_under_it()
    {
        await ServingRegistryAsync();
        await Store.Endpoints.PutAsync("pinned", "flights", """{"name":"pinned","project":"flights","model":"delay/1"}""", Alice);
        await Store.Endpoints.PutAsync("spare", "flights", """{"name":"spare","project":"flights","model":"delay/2"}""", Alice);
        await Store.Keys.CreateAsync(new ApiKey("k1", "bot", "flights", Role.Viewer, new string('f', 64), 0, "", false, null), Alice);
        await Store.Keys.CreateAsync(new ApiKey("k2", "old-bot", "flights", Role.Viewer, new string('e', 64), 0, "", false, null), Alice);

        // A misspelt name would lock the key out of everything without a word.
        var unknown = await Assert.ThrowsAsync<StrataException>(() => Store.Endpoints.SetKeyEndpointsAsync("k1", ["pinned", "pined"], Alice));
        Assert.Equal(ErrorCodes.NotFound, unknown.Code);
        Assert.Contains("'pined'", unknown.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("'pinned'", unknown.Message, StringComparison.Ordinal);
        Assert.Empty(await Store.Endpoints.GetKeyEndpointsAsync());

        await Store.Endpoints.SetKeyEndpointsAsync("k1", ["pinned"], Alice);
        var deleted = await Assert.ThrowsAsync<StrataException>(() => Store.Endpoints.DeleteAsync("pinned", Alice));
        Assert.Equal(ErrorCodes.Conflict, deleted.Code);
        Assert.Contains("'k1'", deleted.Message, StringComparison.Ordinal);
        Assert.NotNull(await Store.Endpoints.GetAsync("pinned"));

        // A revoked key's limit does not hold an endpoint; a lifted one neither.
        await Store.Endpoints.SetKeyEndpointsAsync("k2", ["spare"], Alice);
        await Store.Keys.RevokeAsync("k2", Alice);
        Assert.True(await Store.Endpoints.DeleteAsync("spare", Alice));
        await Store.Endpoints.SetKeyEndpointsAsync("k1", [], Alice);
        Assert.True(await Store.Endpoints.DeleteAsync("pinned", Alice));
    }

    /// <summary>Project flights, model delay with versions 1-4, alias live on 1 and canary on 2.</summary>
    private async Task ServingRegistryAsync()
    {
        await Store.Projects.CreateAsync("flights", null, Alice);
        await Store.Registry.CreateModelAsync("flights", "delay", null, null, Alice);
        foreach (var digit in "1234")
        {
            await Store.Registry.CreateVersionAsync("flights", "delay", Spec(digit), Alice);
        }

        await Store.Registry.MoveAliasAsync("flights", "delay", "live", 1, null, Alice);
        await Store.Registry.MoveAliasAsync("flights", "delay", "canary", 2, null, Alice);
    }
}
