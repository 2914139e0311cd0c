using Strata.Security;
using Strata.Stores;

namespace Strata.Registry;

/// <summary>What asking to point an alias at a version did.</summary>
public enum AliasChangeOutcome
{
    /// <summary>The alias was not protected and moved at once.</summary>
    Moved,
    /// <summary>The alias is protected: a promotion request now waits for a deployer.</summary>
    Pending,
    /// <summary>The alias is protected and the caller is a deployer: the request was made and approved, and the alias moved.</summary>
    Approved,
}

/// <summary>The result of <see cref="RegistryService.SetAliasAsync"/>: the outcome, the alias as it now stands, and the promotion request (for protected aliases).</summary>
public sealed record AliasChange(AliasChangeOutcome Outcome, ModelAlias? Alias, PromotionRequest? Promotion);

// Aliases and promotions: editors move unprotected aliases; protected ones move only through an approved request.
public sealed partial class RegistryService
{
    /// <summary>
    /// Points an alias at a version. An unprotected alias moves at once (editors). A protected alias never moves
    /// directly: an editor's call files a promotion request for a deployer to decide; a deployer's or admin's call files
    /// the request and approves it, so both steps are on the record.
    /// </summary>
    public async Task<AliasChange> SetAliasAsync(Caller caller, string project, string model, string alias, int version, string? reason, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        Names.Check("alias", alias);
        var m = await GetModelAsync(caller, project, model, cancellationToken).ConfigureAwait(false);
        if (!m.ProtectedAliases.Contains(alias, StringComparer.Ordinal))
        {
            var moved = await _metadata.Registry.MoveAliasAsync(project, model, alias, version, reason, caller.Actor, cancellationToken).ConfigureAwait(false);
            return new AliasChange(AliasChangeOutcome.Moved, moved, null);
        }

        var request = await _metadata.Registry.RequestPromotionAsync(project, model, alias, version, reason, caller.Actor, cancellationToken).ConfigureAwait(false);
        if (caller.Principal.Role < Role.Deployer)
        {
            return new AliasChange(AliasChangeOutcome.Pending, null, request);
        }

        var decided = await _metadata.Registry.DecidePromotionAsync(project, request.Id, approve: true, reason, caller.Actor, cancellationToken).ConfigureAwait(false);
        var current = await _metadata.Registry.GetAliasAsync(project, model, alias, cancellationToken).ConfigureAwait(false);
        return new AliasChange(AliasChangeOutcome.Approved, current, decided);
    }

    /// <summary>
    /// Removes an unprotected alias; a protected one cannot be removed until an admin unprotects it, and one a stored
    /// deployment names (<c>model@alias</c>) is refused (conflict, naming the endpoint) until the deployment changes.
    /// </summary>
    public async Task RemoveAliasAsync(Caller caller, string project, string model, string alias, string? reason, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        Names.Check("alias", alias);
        var m = await GetModelAsync(caller, project, model, cancellationToken).ConfigureAwait(false);
        if (m.ProtectedAliases.Contains(alias, StringComparer.Ordinal))
        {
            throw new StrataException(ErrorCodes.Forbidden, $"alias '{alias}' of '{model}' is protected: it cannot be removed (an admin can unprotect it first)");
        }

        await GetAliasAsync(caller, project, model, alias, cancellationToken).ConfigureAwait(false);
        await _metadata.Registry.MoveAliasAsync(project, model, alias, null, reason, caller.Actor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An alias as it stands now.</summary>
    public async Task<ModelAlias> GetAliasAsync(Caller caller, string project, string model, string alias, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("model", model);
        Names.Check("alias", alias);
        return await _metadata.Registry.GetAliasAsync(project, model, alias, cancellationToken).ConfigureAwait(false)
            ?? throw NotFound($"model '{model}' has no alias '{alias}'");
    }

    /// <summary>A model's aliases.</summary>
    public Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(Caller caller, string project, string model, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("model", model);
        return _metadata.Registry.ListAliasesAsync(project, model, cancellationToken);
    }

    /// <summary>Every move of an alias, oldest first.</summary>
    public Task<IReadOnlyList<AliasMove>> GetAliasHistoryAsync(Caller caller, string project, string model, string alias, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("model", model);
        Names.Check("alias", alias);
        return _metadata.Registry.GetAliasHistoryAsync(project, model, alias, cancellationToken);
    }

    /// <summary>The version an alias pointed at at a time (UTC microseconds); null when it pointed nowhere.</summary>
    public Task<int?> ResolveAliasAtAsync(Caller caller, string project, string model, string alias, long time, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        Names.Check("model", model);
        Names.Check("alias", alias);
        return _metadata.Registry.ResolveAliasAtAsync(project, model, alias, time, cancellationToken);
    }

    /// <summary>Asks for an alias to move to a version; a deployer decides.</summary>
    public async Task<PromotionRequest> RequestPromotionAsync(Caller caller, string project, string model, string alias, int version, string? reason, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Editor);
        Names.Check("model", model);
        Names.Check("alias", alias);
        return await _metadata.Registry.RequestPromotionAsync(project, model, alias, version, reason, caller.Actor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Approves a pending request, moving the alias (deployers).</summary>
    public Task<PromotionRequest> ApprovePromotionAsync(Caller caller, string project, string requestId, string? reason, CancellationToken cancellationToken = default) =>
        DecideAsync(caller, project, requestId, approve: true, reason, cancellationToken);

    /// <summary>Rejects a pending request; nothing moves (deployers).</summary>
    public Task<PromotionRequest> RejectPromotionAsync(Caller caller, string project, string requestId, string? reason, CancellationToken cancellationToken = default) =>
        DecideAsync(caller, project, requestId, approve: false, reason, cancellationToken);

    /// <summary>Promotion requests, newest first, optionally of one model and status.</summary>
    public Task<IReadOnlyList<PromotionRequest>> ListPromotionsAsync(Caller caller, string project, string? model, ApprovalStatus? status, CancellationToken cancellationToken = default)
    {
        Require(caller, project, Role.Viewer);
        if (model is not null)
        {
            Names.Check("model", model);
        }

        return _metadata.Registry.ListPromotionsAsync(project, model, status, cancellationToken);
    }

    private Task<PromotionRequest> DecideAsync(Caller caller, string project, string requestId, bool approve, string? reason, CancellationToken cancellationToken)
    {
        Require(caller, project, Role.Deployer);
        Names.Check("request", requestId);
        return _metadata.Registry.DecidePromotionAsync(project, requestId, approve, reason, caller.Actor, cancellationToken);
    }
}
