using Microsoft.AspNetCore.Mvc;
using Strata.Registry;
using Strata.Security;
using Strata.Server.Hosting;

namespace Strata.Server.Http;

/// <summary>What every handler needs, bound with <c>[AsParameters]</c>: the request, the registry service and the caller.</summary>
internal readonly struct ApiContext
{
    /// <summary>The request.</summary>
    public required HttpContext Http { get; init; }

    /// <summary>The opened stores.</summary>
    [FromServices]
    public required ServerState State { get; init; }

    /// <summary>The registry service (access checks, audit).</summary>
    public RegistryService Registry => State.Registry;

    /// <summary>The authenticated caller with the request id.</summary>
    public Caller Caller => Http.GetCaller();

    /// <summary>Cancelled when the client goes away.</summary>
    public CancellationToken Aborted => Http.RequestAborted;
}
