namespace Strata.Stores;

/// <summary>
/// A serving endpoint as stored: its name (unique across the server, since it is the URL), the project whose models and
/// features it serves, and the deployment as the engine's canonical JSON, so every replica serves the same thing.
/// </summary>
/// <param name="Name">The endpoint name.</param>
/// <param name="Project">The project it serves from.</param>
/// <param name="Definition">The deployment as JSON.</param>
/// <param name="UpdatedAt">When it last changed (UTC microseconds).</param>
/// <param name="UpdatedBy">Who changed it.</param>
public sealed record EndpointRecord(string Name, string Project, string Definition, long UpdatedAt, string UpdatedBy);

/// <summary>
/// Serving endpoints and which endpoints an API key may call. Every change appends to the audit log, so it also moves
/// the change sequence replicas poll.
/// </summary>
public interface IEndpointStore
{
    /// <summary>
    /// Creates or replaces an endpoint. The models its definition names (<c>model</c>, <c>challenger</c>, <c>shadow</c>)
    /// must exist: a version that is missing or deleted, or an alias that is missing, is refused (not found, conflict).
    /// </summary>
    Task<EndpointRecord> PutAsync(string name, string project, string definition, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>An endpoint, or null.</summary>
    Task<EndpointRecord?> GetAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every endpoint by name.</summary>
    Task<IReadOnlyList<EndpointRecord>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes an endpoint; false when there was none. An endpoint an unrevoked key is limited to is refused (conflict).</summary>
    Task<bool> DeleteAsync(string name, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Limits an API key to a set of endpoints (null or empty: no limit); an endpoint that does not exist is refused (not found).</summary>
    Task SetKeyEndpointsAsync(string keyId, IReadOnlyList<string>? endpoints, Actor actor, CancellationToken cancellationToken = default);

    /// <summary>Every key limited to endpoints: key id → the endpoints it may call.</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> GetKeyEndpointsAsync(CancellationToken cancellationToken = default);
}
