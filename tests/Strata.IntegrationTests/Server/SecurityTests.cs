using System.Text;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;
using Strata.Testing;

namespace Strata.IntegrationTests.Server;

/// <summary>The engine's security rules, without HTTP: API key tokens, the access policy, and who may move which alias.</summary>
public sealed class SecurityTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _folder = new("strata-security");
    private StrataHome? _home;
    private RegistryService? _registry;

    private RegistryService Registry => _registry!;

    public async Task InitializeAsync()
    {
        _home = await StrataHome.OpenAsync(_folder.Path);
        _registry = new RegistryService(_home.Metadata, _home.Artifacts);
        await Registry.CreateProjectAsync(Caller.Local, "flights", null);
        await Registry.CreateProjectAsync(Caller.Local, "other", null);
        await Registry.CreateModelAsync(Caller.Local, "flights", "delay", null, null);
        for (var i = 0; i < 2; i++)
        {
            await Registry.UploadVersionAsync(Caller.Local, "flights", "delay", new VersionRegistration(), new MemoryStream(Encoding.UTF8.GetBytes($"v{i}")));
        }
    }

    public async Task DisposeAsync()
    {
        if (_home is not null)
        {
            await _home.DisposeAsync();
        }
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_key_token_carries_a_random_id_and_256_bit_secret_and_only_its_hash_is_stored()
    {
        var a = await Registry.CreateKeyAsync(Caller.Local, "flights", "alice", Role.Editor, null);
        var b = await Registry.CreateKeyAsync(Caller.Local, "flights", "alice", Role.Editor, null);

        Assert.Matches("^strata_[0-9a-f]{16}_[0-9a-f]{64}$", a.Token);
        Assert.NotEqual(a.Token, b.Token);
        Assert.True(ApiKeys.TryParse(a.Token, out var id, out var secret));
        var stored = await _home!.Metadata.Keys.GetAsync(id);
        Assert.Equal(ApiKeys.Hash(secret), stored!.SecretHash);
        Assert.DoesNotContain(secret, stored.ToString(), StringComparison.Ordinal);
        var principal = await ApiKeys.AuthenticateAsync(_home.Metadata.Keys, a.Token);
        Assert.Equal(("alice", Role.Editor, "flights", id), (principal.Name, principal.Role, principal.Project, principal.KeyId));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("strata_")]
    [InlineData("strata_0123456789abcdef_0123")]
    [InlineData("Bearer strata_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("strata_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public async Task Missing_malformed_and_unknown_keys_are_unauthorized(string? token)
    {
        var e = await Assert.ThrowsAsync<StrataException>(() => ApiKeys.AuthenticateAsync(_home!.Metadata.Keys, token));

        Assert.Equal(ErrorCodes.Unauthorized, e.Code);
    }

    [Fact]
    public async Task A_wrong_secret_and_a_revoked_key_are_unauthorized()
    {
        var key = await Registry.CreateKeyAsync(Caller.Local, "flights", "bob", Role.Viewer, null);
        var flipped = key.Token[..^1] + (key.Token[^1] == '0' ? '1' : '0');

        Assert.Equal(ErrorCodes.Unauthorized, (await Assert.ThrowsAsync<StrataException>(() => ApiKeys.AuthenticateAsync(_home!.Metadata.Keys, flipped))).Code);
        await Registry.RevokeKeyAsync(Caller.Local, "flights", key.Key.Id);
        Assert.Equal(ErrorCodes.Unauthorized, (await Assert.ThrowsAsync<StrataException>(() => ApiKeys.AuthenticateAsync(_home!.Metadata.Keys, key.Token))).Code);
        Assert.False(ApiKeys.Verify("x", "not a hash"));
    }

    [Theory]
    [InlineData("flights", Role.Viewer, "flights", Role.Viewer, true)]
    [InlineData("flights", Role.Viewer, "flights", Role.Editor, false)]
    [InlineData("flights", Role.Admin, "other", Role.Viewer, false)]
    [InlineData("*", Role.Viewer, "other", Role.Viewer, true)]
    [InlineData("*", Role.Deployer, "flights", Role.Admin, false)]
    [InlineData("flights", Role.Deployer, "flights", Role.Deployer, true)]
    public void The_policy_grants_a_role_and_the_roles_below_it_in_the_key_s_project_only(string scope, Role role, string project, Role minimum, bool allowed)
    {
        var principal = new Principal("p", "k", scope, role);

        Assert.Equal(allowed, AccessPolicy.Allows(principal, project, minimum));
        if (!allowed)
        {
            Assert.Equal(ErrorCodes.Forbidden, Assert.Throws<StrataException>(() => AccessPolicy.Require(principal, project, minimum)).Code);
        }
    }

    [Fact]
    public async Task An_editor_requests_a_protected_promotion_and_only_a_deployer_approves_it()
    {
        var editor = As("flights", Role.Editor, "ed");
        var deployer = As("flights", Role.Deployer, "dee");

        var change = await Registry.SetAliasAsync(editor, "flights", "delay", "champion", 1, "better");
        Assert.Equal(AliasChangeOutcome.Pending, change.Outcome);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Registry.GetAliasAsync(editor, "flights", "delay", "champion"))).Code);
        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.ApprovePromotionAsync(editor, "flights", change.Promotion!.Id, null))).Code);
        await Registry.ApprovePromotionAsync(deployer, "flights", change.Promotion!.Id, "ok");

        var alias = await Registry.GetAliasAsync(editor, "flights", "delay", "champion");
        Assert.Equal((1, "dee"), (alias.Version, alias.UpdatedBy));
    }

    [Fact]
    public async Task A_deployer_s_own_move_of_a_protected_alias_is_recorded_as_a_request_and_an_approval()
    {
        var deployer = new Caller(new Principal("dee", "k", "flights", Role.Deployer), "req-7");

        var change = await Registry.SetAliasAsync(deployer, "flights", "delay", "champion", 2, "ship it");

        Assert.Equal((AliasChangeOutcome.Approved, 2), (change.Outcome, change.Alias!.Version));
        var audit = await Registry.ReadAuditAsync(Caller.Local, "flights", 1, 1000);
        Assert.Single(audit, e => e.Action == "model.promotion.request" && e.Principal == "dee" && e.RequestId == "req-7");
        Assert.Single(audit, e => e.Action == "model.promotion.approve" && e.Principal == "dee" && e.RequestId == "req-7");
        Assert.Equal(change.Promotion!.Id, Assert.Single(await Registry.GetAliasHistoryAsync(deployer, "flights", "delay", "champion")).ApprovalId);
    }

    [Fact]
    public async Task Unprotected_aliases_move_for_editors_and_never_for_viewers()
    {
        Assert.Equal(AliasChangeOutcome.Moved, (await Registry.SetAliasAsync(As("flights", Role.Editor), "flights", "delay", "staging", 2, null)).Outcome);
        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.SetAliasAsync(As("flights", Role.Viewer), "flights", "delay", "staging", 1, null))).Code);
        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.RemoveAliasAsync(As("flights", Role.Admin), "flights", "delay", "champion", null))).Code);
        await Registry.RemoveAliasAsync(As("flights", Role.Editor), "flights", "delay", "staging", "retired");
        Assert.Empty(await Registry.ListAliasesAsync(As("flights", Role.Viewer), "flights", "delay"));
    }

    [Fact]
    public async Task Keys_roles_and_projects_bound_what_a_principal_may_do()
    {
        var flightsAdmin = As("flights", Role.Admin);

        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.GetModelAsync(As("other", Role.Admin), "flights", "delay"))).Code);
        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.CreateKeyAsync(flightsAdmin, "*", "x", Role.Viewer, null))).Code);
        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.CreateKeyAsync(As("flights", Role.Deployer), "flights", "x", Role.Viewer, null))).Code);
        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.CreateProjectAsync(flightsAdmin, "new", null))).Code);
        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.SetVersionStatusAsync(As("flights", Role.Deployer), "flights", "delay", 2, VersionStatus.Deleted))).Code);
        await Registry.SetVersionStatusAsync(As("flights", Role.Editor), "flights", "delay", 2, VersionStatus.Archived);
        var otherKey = await Registry.CreateKeyAsync(Caller.Local, "other", "o", Role.Viewer, null);
        Assert.Equal(ErrorCodes.NotFound, (await Assert.ThrowsAsync<StrataException>(() => Registry.RevokeKeyAsync(flightsAdmin, "flights", otherKey.Key.Id))).Code);
        Assert.Equal(["flights"], (await Registry.ListProjectsAsync(As("flights", Role.Viewer))).Select(p => p.Name));
        Assert.Equal(ErrorCodes.Forbidden, (await Assert.ThrowsAsync<StrataException>(() => Registry.ReadAuditAsync(flightsAdmin, null, 1, 10))).Code);
    }

    private static Caller As(string project, Role role, string name = "someone") => new(new Principal(name, "k", project, role), "req");
}
