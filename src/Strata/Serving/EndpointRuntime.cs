using Strata.Stores;

namespace Strata.Serving;

/// <summary>
/// What one endpoint serves at one moment: the deployment and its loaded models. Immutable: a swap replaces the whole
/// object, and a request reads it once, so a request that started on one version finishes on it.
/// </summary>
internal sealed class EndpointState(Deployment deployment, LoadedModel champion, LoadedModel? challenger, LoadedModel? shadow)
{
    public Deployment Deployment { get; } = deployment;

    public LoadedModel Champion { get; } = champion;

    public LoadedModel? Challenger { get; } = challenger;

    public LoadedModel? Shadow { get; } = shadow;

    /// <summary>
    /// The versions the deployment named when this state was built (null for a role it has not, or whose alias did not
    /// resolve), including a challenger's or shadow's that failed to load: a refresh that finds the same keeps this state.
    /// </summary>
    public (int Champion, int? Challenger, int? Shadow) Wanted { get; init; }

    /// <summary>
    /// The outputs every model a request may reach has (the champion's, and the challenger's when it is another model with
    /// other outputs): what a request without a version may ask for. Worked out once per state, not per request.
    /// </summary>
    public IReadOnlyList<Learning.ModelOutput> SharedOutputs { get; } =
        challenger is null || challenger.Model.Signature.Outputs.SequenceEqual(champion.Model.Signature.Outputs)
            ? champion.Model.Signature.Outputs
            : [.. champion.Model.Signature.Outputs.Where(challenger.Model.Signature.Outputs.Contains)];

    /// <summary>Why a challenger or shadow the deployment names is not served (it could not be loaded or checked), or null.</summary>
    public string? LeftOut { get; init; }

    /// <summary>Fields masked in the prediction log (the deployment's list; PII-tagged features are added per request).</summary>
    public IReadOnlySet<string> Masked { get; } = deployment.Pii.ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Fields a request may carry beyond the inputs of the model it is routed to: the sticky key, and the inputs of the
    /// endpoint's other models. A challenger or shadow trained with a new feature then gets it from the same request,
    /// and the champion does not refuse it. Empty for a lone model without a sticky key; never written to.
    /// </summary>
    public HashSet<string> OtherFields { get; } = OtherFieldsOf(deployment, champion, challenger, shadow);

    private static HashSet<string> OtherFieldsOf(Deployment deployment, LoadedModel champion, LoadedModel? challenger, LoadedModel? shadow)
    {
        var fields = new HashSet<string>(StringComparer.Ordinal);
        if (deployment.StickyKey is { } sticky)
        {
            fields.Add(sticky); // the canary's entity key may be a field no model reads
        }

        if (challenger is not null || shadow is not null)
        {
            foreach (var model in new[] { champion, challenger, shadow }.OfType<LoadedModel>())
            {
                fields.UnionWith(model.Inputs.Select(i => i.Name));
            }
        }

        return fields;
    }

    /// <summary>
    /// With a feature service, what a request gives each model: the model's inputs the service does not supply, then the
    /// entity keys and request fields the service needs. The protocol's model metadata lists these, and its one
    /// [N, F] tensor holds them, since a client sending the model's own inputs would be refused. Set while the state is
    /// built, before it is served; null without a feature service.
    /// </summary>
    public IReadOnlyDictionary<LoadedModel, IReadOnlyList<Learning.ModelInput>>? EnrichedInputs { get; set; }

    /// <summary>The inputs a request gives <paramref name="model"/> of this endpoint (its own, without a feature service).</summary>
    public IReadOnlyList<Learning.ModelInput> RequestInputs(LoadedModel model) =>
        EnrichedInputs is { } enriched && enriched.TryGetValue(model, out var inputs) ? inputs : model.Inputs;

    private PredictionBatcher? _championBatcher;
    private PredictionBatcher? _challengerBatcher;

    /// <summary>The batcher of the champion or the challenger, made on first use (the deployment asks for batching).</summary>
    public PredictionBatcher Batcher(LoadedModel model, Func<LoadedModel, PredictionBatcher> create)
    {
        ref var slot = ref ReferenceEquals(model, Champion) ? ref _championBatcher : ref _challengerBatcher;
        if (Volatile.Read(ref slot) is { } existing)
        {
            return existing;
        }

        var made = create(model);
        if (Interlocked.CompareExchange(ref slot, made, null) is { } other)
        {
            made.Close();
            return other;
        }

        return made;
    }

    /// <summary>Closes the batchers once the state is swapped out (queued requests are still answered).</summary>
    public void CloseBatchers()
    {
        Volatile.Read(ref _championBatcher)?.Close();
        Volatile.Read(ref _challengerBatcher)?.Close();
    }

    public bool Serves(string model, int version) =>
        (Champion.Name == model && Champion.Version == version)
        || (Challenger is { } c && c.Name == model && c.Version == version);

    public IEnumerable<LoadedModel> Models()
    {
        yield return Champion;
        if (Challenger is not null)
        {
            yield return Challenger;
        }

        if (Shadow is not null)
        {
            yield return Shadow;
        }
    }
}

/// <summary>One endpoint: its current state (swapped atomically), its admission control and its rate limiter.</summary>
internal sealed class EndpointRuntime : IDisposable
{
    private volatile EndpointState? _state;

    public EndpointRuntime(EndpointRecord record, Deployment deployment, TimeProvider clock)
    {
        Record = record;
        Deployment = deployment;
        Admission = new Admission(deployment.Name, deployment.Limits.MaxConcurrency, deployment.Limits.MaxQueue);
        Rates = new RateLimiter(deployment.Limits.RatePerSecond, deployment.Limits.Burst, clock);
    }

    /// <summary>The stored record this runtime was built from (a changed definition builds a new runtime).</summary>
    public EndpointRecord Record { get; }

    public Deployment Deployment { get; }

    public Admission Admission { get; }

    public RateLimiter Rates { get; }

    /// <summary>What is served now; null until the first load succeeds.</summary>
    public EndpointState? State => _state;

    /// <summary>
    /// Why the last load failed, or which challenger or shadow is left out and why; null when everything declared serves
    /// (shown in the endpoint's status).
    /// </summary>
    public string? LastError { get; set; }

    /// <summary>True after an unload (Open Inference Protocol's repository extension) until the next load.</summary>
    public bool Unloaded { get; set; }

    /// <summary>Set by a repository load: the next refresh loads the models again even when nothing changed (a retry).</summary>
    public bool Reload { get; set; }

    /// <summary>Switches to a new state in one write (null: nothing served); requests in flight keep the one they read.</summary>
    public void Swap(EndpointState? state)
    {
        var previous = _state;
        _state = state;
        if (previous is not null && !ReferenceEquals(previous, state))
        {
            previous.CloseBatchers();
        }
    }

    public void Dispose() => Admission.Dispose();
}

/// <summary>An endpoint as its status route shows it.</summary>
/// <param name="Name">The endpoint.</param>
/// <param name="Deployment">What it is declared to serve.</param>
/// <param name="Ready">True once a model is loaded.</param>
/// <param name="Champion">The champion's model and version (<c>model/3</c>), when loaded.</param>
/// <param name="Challenger">The challenger's, when there is one.</param>
/// <param name="Shadow">The shadow's, when there is one.</param>
/// <param name="Error">Why the last load failed (the endpoint may still serve an older version), or why a challenger or shadow is not served; null when everything declared serves.</param>
/// <param name="InFlight">Requests being answered.</param>
/// <param name="Queued">Requests waiting.</param>
public sealed record EndpointStatus(string Name, Deployment Deployment, bool Ready, string? Champion, string? Challenger, string? Shadow, string? Error, int InFlight, int Queued);
