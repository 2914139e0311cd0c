using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Features.OnlineStore;

namespace Strata.Serving;

/// <summary>
/// What a feature service needs from a request: the fields by name, and which of them are entity keys (never null,
/// where a request field may be); and the stored features it gives, under the names a request may carry in their place,
/// that its on-demand features read.
/// </summary>
internal sealed record ServiceNeeds(
    IReadOnlyDictionary<string, Field> Fields, IReadOnlySet<string> Keys, IReadOnlyList<(string Name, FeatureReference Reference, DataType Type)> Replaceable);

/// <summary>A request copied to an endpoint's shadow model.</summary>
internal sealed record ShadowWork(string Endpoint, string Project, LoadedModel Model, PredictionInput Input, string RequestId, IReadOnlySet<string> Masked, double SampleRate, HashSet<string> AllowedExtra);

/// <summary>One endpoint's shadow copies (bounded) and the async worker that answers them, one at a time.</summary>
internal sealed class ShadowQueue(string endpoint, int capacity)
{
    public string Endpoint { get; } = endpoint;

    /// <summary>Full: the copy is dropped (and counted); completed: the endpoint is retired or the server stopping.</summary>
    public Channel<ShadowWork> Copies { get; } = Channel.CreateBounded<ShadowWork>(
        new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>The worker; set once, before the queue is handed out.</summary>
    public Task Worker { get; set; } = Task.CompletedTask;
}

// The request path: limits, enrichment, canary routing, prediction, then the log and the shadow copy (neither waited for).
public sealed partial class ServingRuntime
{
    /// <summary>
    /// Answers a request: checks the key's rate and takes a slot (or refuses), fills in features from the online store,
    /// routes to the champion or the challenger (sticky per entity key), checks the fields against that model's
    /// signature (every problem listed in one error), predicts, and queues the log record and the shadow copy without
    /// waiting for either.
    /// </summary>
    /// <exception cref="StrataException">An unknown endpoint or version (not found); fields that do not fit (schema invalid, listing each); too many rows (limit).</exception>
    /// <exception cref="ServingRefusal">Over the rate (429), the queue full (503), out of time (504), no model ready (503).</exception>
    /// <exception cref="ArgumentException">A request without its endpoint, input or request id (a default struct).</exception>
    public async ValueTask<PredictionOutput> PredictAsync(PredictionRequest request, CancellationToken cancellationToken = default)
    {
        // A default struct skips the required members.
        if (request.Endpoint is null || request.Input is null || request.RequestId is null)
        {
            throw new ArgumentException("a prediction request needs its endpoint, input and request id", nameof(request));
        }

        var start = Stopwatch.GetTimestamp();
        var endpoint = Endpoint(request.Endpoint, request.Naming);
        var deployment = endpoint.Deployment;
        var version = 0;
        var status = "500";
        CancellationTokenSource? timeout = null;

        // One span per prediction, from either API (the native predict route and Open Inference Protocol's infer): the
        // server side of the caller's trace when it sent one (the sampler sees its sampled flag), else of its own.
        using var activity = ServingTelemetry.Source.HasListeners()
            ? ServingTelemetry.Source.StartActivity(
                "strata.predict", request.TraceParent != default || Activity.Current is null ? ActivityKind.Server : ActivityKind.Internal, request.TraceParent)
            : null;
        activity?.SetTag("strata.endpoint", deployment.Name).SetTag("strata.request_id", request.RequestId).SetTag("strata.rows", request.Input.Rows);
        try
        {
            if (!endpoint.Rates.TryTake(request.KeyId ?? "local", out var retryAfter))
            {
                throw ServingRefusal.RateLimited(deployment.Name, deployment.Limits.RatePerSecond, endpoint.Rates.Burst, retryAfter, request.Naming);
            }

            CheckRows(request.Input, deployment, request.Naming);

            // NOTE: the timeout only matters while the request waits (for a slot, for the online store): a request that
            // gets a slot at once and needs no enrichment predicts synchronously, so it never pays for a timer.
            if (!endpoint.Admission.TryEnter(out var lease))
            {
                timeout = Timeout(deployment, cancellationToken);
                try
                {
                    lease = await endpoint.Admission.EnterAsync(request.Naming, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw ServingRefusal.Timeout(deployment.Name, deployment.Limits.TimeoutMs, request.Naming);
                }
            }

            using (lease)
            {
                var state = endpoint.State ?? throw ServingRefusal.Unavailable(deployment.Name, endpoint.LastError ?? "its models are still loading", request.Naming);
                var input = request.Input;
                var masked = state.Masked;
                var allowed = state.OtherFields;
                if (state.Deployment.FeatureService is { } service)
                {
                    allowed = new HashSet<string>(allowed, StringComparer.Ordinal); // enrichment adds the service's fields
                    try
                    {
                        timeout ??= Timeout(deployment, cancellationToken);
                        (input, masked) = await EnrichAsync(state, service, input, allowed, request.Naming, timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw ServingRefusal.Timeout(deployment.Name, deployment.Limits.TimeoutMs, request.Naming);
                    }
                    catch (InputProblemsException e) when (e.Supplied is not null)
                    {
                        throw WithModelProblems(e, state, input, allowed, request); // one 400 for both kinds of problem
                    }
                }

                // TreeSHAP needs trees; refused whichever side the split picks, so the answer does not depend on the key.
                if (request.Explain > 0 && (state.Champion.Tree is null ? state.Champion : state.Challenger is { Tree: null } c ? c : null) is { } unexplained)
                {
                    throw new StrataException(
                        ErrorCodes.ArgumentInvalid,
                        $"parameter 'explain' needs a tree model (TreeSHAP); model '{unexplained.Name}' version {unexplained.Version}, which endpoint '{deployment.Name}' answers with, is not one");
                }

                var (model, role, sticky) = Route(state, input, request);
                version = model.Version;
                var problems = model.Check(input, allowed, request.Naming);
                if (problems.Count > 0)
                {
                    throw new InputProblemsException($"the request does not fit {request.Naming.Model(model.Name, model.Version)}: {string.Join("; ", problems)}", problems);
                }

                PredictionOutput output;
                if (state.Deployment.Batching is { } batching && input.Rows == 1 && request.Explain == 0)
                {
                    try
                    {
                        timeout ??= Timeout(deployment, cancellationToken);
                        var batcher = state.Batcher(model, m => new PredictionBatcher(m, batching, state.Deployment.Limits.MaxConcurrency, _metrics.BatchSizes.Labels(state.Deployment.Name)));
                        output = await batcher.PredictAsync(input, timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw ServingRefusal.Timeout(deployment.Name, deployment.Limits.TimeoutMs, request.Naming);
                    }
                }
                else if (request.Explain > 0)
                {
                    // TreeSHAP of many rows can take longer than the request may: it stops at the timeout, or when the caller goes.
                    try
                    {
                        timeout ??= Timeout(deployment, cancellationToken);
                        output = model.Predict(input, Math.Min(request.Explain, _options.MaxExplain), timeout.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw ServingRefusal.Timeout(deployment.Name, deployment.Limits.TimeoutMs, request.Naming);
                    }
                }
                else
                {
                    output = model.Predict(input, 0, CancellationToken.None);
                }

                output.Role = role;
                output.StickyValue = sticky;
                status = "200";
                var latency = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (_log is not null && LogSampling.Sampled(request.RequestId, state.Deployment.LogSampleRate))
                {
                    _log.TryWrite(new PendingPrediction(Now(), request.RequestId, deployment.Name, deployment.Project, input, output, latency, masked));
                }

                // A shadow whose alias has come to name the version that just answered (say after a promotion) would only repeat it.
                if (state.Shadow is { } shadow && !ReferenceEquals(shadow, model))
                {
                    // The endpoint's own queue: a full one drops only this endpoint's copies.
                    var queue = _shadowQueues.TryGetValue(deployment.Name, out var known) ? known : AddShadowQueue(deployment.Name);
                    if (queue is null || !queue.Copies.Writer.TryWrite(new ShadowWork(deployment.Name, deployment.Project, shadow, input, request.RequestId, masked, state.Deployment.LogSampleRate, allowed)))
                    {
                        _metrics.ShadowDropped.Labels(deployment.Name).Inc();
                    }
                }

                return output;
            }
        }
        catch (StrataException e)
        {
            status = e is ServingRefusal refusal ? refusal.Status.ToString(System.Globalization.CultureInfo.InvariantCulture) : StatusOf(e.Code);
            throw;
        }
        catch (OperationCanceledException)
        {
            status = "499"; // the caller went away
            throw;
        }
        finally
        {
            if (activity is not null)
            {
                // The semantic conventions' status code is an int; the label string is what the metrics need.
                activity.SetTag("strata.model.version", version).SetTag("http.response.status_code", int.Parse(status, System.Globalization.CultureInfo.InvariantCulture));
                if (status != "200")
                {
                    activity.SetStatus(ActivityStatusCode.Error);
                }
            }

            timeout?.Dispose();
            _metrics.Record(deployment.Name, version, status, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    private static CancellationTokenSource Timeout(Deployment deployment, CancellationToken cancellationToken)
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deployment.Limits.TimeoutMs);
        return timeout;
    }

    /// <summary>The bucket (0 ≤ b &lt; 1) an entity key falls in: the same key always lands on the same side of a canary.</summary>
    public static double Bucket(string key)
    {
        // SHA-256 rather than a faster hash: the split must stay the same across versions and processes, and this is one
        // short key per request.
        Span<byte> digest = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(key), digest);
        var hash = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(digest);
        return (hash >> 11) * (1.0 / (1UL << 53));
    }

    private static (LoadedModel Model, string Role, string? Sticky) Route(EndpointState state, PredictionInput input, PredictionRequest request)
    {
        if (request.Version is { } asked)
        {
            if (state.Champion.Version == asked)
            {
                return (state.Champion, ServingRoles.Champion, null);
            }

            if (state.Challenger is { } c && c.Version == asked)
            {
                return (c, ServingRoles.Challenger, null);
            }

            throw new StrataException(ErrorCodes.NotFound, $"{request.Naming.Named(state.Deployment.Name)} does not serve version {asked} (it serves {state.Champion.Version}{(state.Challenger is { } ch ? " and " + ch.Version : "")})");
        }

        // A challenger whose alias has come to name the champion's version (after a promotion) has nothing left to compare.
        if (state.Challenger is not { } challenger || state.Deployment.ChallengerWeight <= 0 || ReferenceEquals(challenger, state.Champion))
        {
            return (state.Champion, ServingRoles.Champion, null);
        }

        // Sticky per entity: the key's hash picks the side, so one customer sees one model for the whole canary. A
        // request without the key is split by its request id (random, but still counted in the weights).
        var keyName = state.Deployment.StickyKey;
        var sticky = keyName is not null && input.Rows > 0 && input.Columns.TryGetValue(keyName, out var column) ? column.TextAt(0) : null;
        var bucket = Bucket(sticky ?? request.RequestId);
        return bucket < state.Deployment.ChallengerWeight
            ? (challenger, ServingRoles.Challenger, sticky)
            : (state.Champion, ServingRoles.Champion, sticky);
    }

    private static void CheckRows(PredictionInput input, Deployment deployment, RequestNaming naming)
    {
        if (input.Rows == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, naming.Empty());
        }

        if (input.Rows > deployment.Limits.MaxRows)
        {
            throw new StrataException(ErrorCodes.DataLimit, naming.TooMany(input.Rows, deployment.Name, deployment.Limits.MaxRows));
        }
    }

    /// <summary>
    /// What enriching from a feature service takes from a request: the join keys and request fields it needs, and the
    /// stored features a request field may replace for its on-demand features too. It depends only on the applied
    /// definitions, so it is worked out once per feature store (one per definitions version) and service, not per request.
    /// </summary>
    private static ServiceNeeds Needs(FeatureStore store, string service, IReadOnlyList<FeatureReference> references) =>
        NeedsByStore.GetValue(store, _ => new ConcurrentDictionary<string, ServiceNeeds>(StringComparer.Ordinal))
            .GetOrAdd(service, _ =>
            {
                var needed = new Dictionary<string, Field>(StringComparer.Ordinal);
                var keys = new HashSet<string>(StringComparer.Ordinal);
                var inputs = new HashSet<FeatureReference>();
                void Keys(string view)
                {
                    foreach (var key in store.JoinKeys(view))
                    {
                        needed.TryAdd(key.Name, key);
                        keys.Add(key.Name);
                    }
                }

                foreach (var view in references.Select(r => r.View).Distinct(StringComparer.Ordinal))
                {
                    if (store.Repository.OnDemandViews.FirstOrDefault(v => v.Name == view) is { } onDemand)
                    {
                        foreach (var field in onDemand.RequestFields)
                        {
                            needed.TryAdd(field.Name, field);
                        }

                        inputs.UnionWith(onDemand.Inputs);

                        foreach (var inputView in onDemand.Inputs.Select(i => i.View).Distinct(StringComparer.Ordinal))
                        {
                            Keys(inputView);
                        }
                    }
                    else
                    {
                        Keys(view);
                    }
                }

                // A feature the service gives is named by its feature name (enrichment reads without view prefixes).
                var replaceable = references.Where(inputs.Contains).Distinct().Select(r => (r.Feature, r, store.FieldOf(r).Type)).ToArray();
                return new ServiceNeeds(needed, keys, replaceable);
            });

    /// <summary>
    /// Adds the feature service's online values (and on-demand features computed from them and the request) to the
    /// request's fields. Fields the request carries win over stored values (request-time features). A value that does not
    /// fit, or a field that is missing, is worded as <paramref name="naming"/> words it.
    /// </summary>
    private async Task<(PredictionInput Input, IReadOnlySet<string> Masked)> EnrichAsync(
        EndpointState state, string service, PredictionInput input, HashSet<string> allowed, RequestNaming naming, CancellationToken cancellationToken)
    {
        var features = _features ?? throw new StrataException(ErrorCodes.Conflict, $"{naming.Named(state.Deployment.Name)} enriches from feature service '{service}', but this server has no feature store");
        using var activity = ServingTelemetry.Source.StartActivity("strata.enrich");
        activity?.SetTag("strata.endpoint", state.Deployment.Name).SetTag("strata.feature_service", service).SetTag("strata.rows", input.Rows);
        var store = await features.GetAsync(state.Deployment.Project, cancellationToken).ConfigureAwait(false);
        var references = store.Resolve(null, service);

        var needs = Needs(store, service, references);
        var needed = needs.Fields;

        // Sized at once (as is the field table below): grown one name at a time to fifty features, these sets were
        // reallocated five times per request, a large part of an enriched request's garbage.
        allowed.EnsureCapacity(allowed.Count + needed.Count + references.Count);
        var problems = new List<(string Field, string Problem)>();
        var entityColumns = new List<(string, Column)>(needed.Count);
        foreach (var (name, field) in needed)
        {
            allowed.Add(name);
            if (!input.Fields.TryGetValue(name, out var column))
            {
                problems.Add((name, naming.Missing(RequestInput(field), service)));
            }
            // Read as the feature routes read the same field: an entity key must name an entity, while a request field
            // may be null in some rows and reaches the on-demand features as a null (as in a training set).
            else if (RequestColumns.Read(column, name, field.Type, input.Rows, key: needs.Keys.Contains(name), naming, out var problem) is { } built)
            {
                entityColumns.Add((name, built));
            }
            else
            {
                problems.Add((name, FieldProblem(field.Type, problem!, service, naming)));
            }
        }

        // Fields the request carries win over stored values: a stored feature it replaces is replaced for the on-demand
        // features that read it as well, so they are computed from the values the model receives.
        Dictionary<FeatureReference, Column>? replaced = null;
        foreach (var (name, reference, type) in needs.Replaceable)
        {
            if (!input.Fields.TryGetValue(name, out var column))
            {
                continue;
            }

            if (RequestColumns.Read(column, name, type, input.Rows, key: false, naming, out var problem) is { } built)
            {
                (replaced ??= [])[reference] = built;
            }
            else if (!problems.Exists(p => p.Field == name)) // two views' features of one name are one field
            {
                problems.Add((name, FieldProblem(type, problem!, service, naming)));
            }
        }

        if (problems.Count > 0)
        {
            throw EnrichmentProblems(problems, references.Select(r => r.Feature));
        }

        var online = await store.GetOnlineFeaturesAsync(references, Table.From([.. entityColumns]), replaced, fullFeatureNames: false, cancellationToken).ConfigureAwait(false);
        _metrics.Enrichments.Labels(state.Deployment.Name).Inc();
        if (Misses(online.Stored, input.Rows) is > 0 and var misses)
        {
            _metrics.OnlineMisses.Labels(state.Deployment.Name).Inc(misses);
        }

        var columns = new Dictionary<string, InputColumn>(input.Fields.Count + online.FeatureNames.Count, StringComparer.Ordinal);
        foreach (var (name, column) in input.Fields)
        {
            columns.Add(name, column);
        }

        // A timestamp request field arrives as ISO 8601 text; a model reads a timestamp as training did, a number.
        foreach (var (name, column) in entityColumns)
        {
            if (column.Type == DataType.Timestamp)
            {
                columns[name] = Seconds((Column<long>)column);
            }
        }

        HashSet<string>? masked = null;
        for (var f = 0; f < online.FeatureNames.Count; f++)
        {
            var name = online.FeatureNames[f];
            allowed.Add(name);
            if (store.FieldOf(online.References[f]).IsPii || needed.TryGetValue(name, out var keyField) && keyField.IsPii)
            {
                masked ??= new HashSet<string>(state.Masked, StringComparer.Ordinal);
                masked.Add(name);
            }

            columns.TryAdd(name, FromOnline(online.Values[f]));
        }

        foreach (var (name, field) in needed)
        {
            if (field.IsPii)
            {
                masked ??= new HashSet<string>(state.Masked, StringComparer.Ordinal);
                masked.Add(name);
            }
        }

        return (new PredictionInput(input.Rows, columns), masked ?? state.Masked);
    }

    /// <summary>
    /// Rows for which the online store gave none of the stored features read (an entity it does not hold). On-demand
    /// features do not count: computed from the request, they are present for any entity.
    /// </summary>
    private static int Misses(IReadOnlyList<FeatureValue[]> stored, int rows)
    {
        if (stored.Count == 0)
        {
            return 0;
        }

        var misses = 0;
        for (var r = 0; r < rows; r++)
        {
            var found = false;
            for (var f = 0; f < stored.Count && !found; f++)
            {
                found = stored[f][r].HasValue;
            }

            misses += found ? 0 : 1;
        }

        return misses;
    }

    /// <summary>
    /// Why a request's field cannot be read as the feature service declares it: <paramref name="problem"/> names the field,
    /// row and value, and the type is told in the request's API's words (Open Inference Protocol's datatypes on /v2).
    /// </summary>
    private static string FieldProblem(DataType type, string problem, string service, RequestNaming naming) =>
        $"{problem}; feature service '{service}' reads it ({naming.Type(type)})";

    /// <summary>Timestamps as a model reads them: seconds since 1970, as training sets give them (NaN for a null).</summary>
    private static InputColumn Seconds(Column<long> micros)
    {
        var seconds = new double[micros.Length];
        for (var r = 0; r < seconds.Length; r++)
        {
            seconds[r] = micros.IsNull(r) ? double.NaN : micros[r] / (double)Timestamp.MicrosPerSecond;
        }

        return InputColumn.OfNumbers(seconds);
    }

    private static InputColumn FromOnline(FeatureValue[] values)
    {
        if (values.Length > 0 && values[0].Type == DataType.String)
        {
            return InputColumn.OfTexts(values.Select(v => v.HasValue ? v.AsString() : null).ToArray());
        }

        if (values.Length == 1)
        {
            return InputColumn.OfNumber(Number(values[0]));
        }

        var numbers = new double[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            numbers[i] = Number(values[i]);
        }

        return InputColumn.OfNumbers(numbers);
    }

    private static double Number(FeatureValue v) => !v.HasValue ? double.NaN : v.Type switch
    {
        DataType.Float64 => v.AsFloat64(),
        DataType.Float32 => v.AsFloat32(),
        DataType.Int64 => v.AsInt64(),
        DataType.Timestamp => v.AsInt64() / (double)Timestamp.MicrosPerSecond, // seconds since 1970, as training sets give it
        DataType.Int32 => v.AsInt32(),
        DataType.Bool => v.AsBool() ? 1 : 0,
        _ => double.NaN,
    };

    /// <summary>
    /// The queue of an endpoint's shadow copies, made with its first copy, its worker started; null when the endpoint is
    /// gone, unloaded or without a shadow by now (a request still in flight: its copy is dropped), or the runtime is
    /// stopping. Made under the lock that retires queues, and only while the endpoint still has a shadow: a queue
    /// retired once its endpoint lost the shadow is not made again behind its back.
    /// </summary>
    private ShadowQueue? AddShadowQueue(string endpoint)
    {
        lock (_shadowLock)
        {
            if (_shadowQueues.TryGetValue(endpoint, out var queue))
            {
                return queue;
            }

            if (_shadowClosed || !_endpoints.TryGetValue(endpoint, out var runtime) || runtime.State?.Shadow is null)
            {
                return null;
            }

            queue = new ShadowQueue(endpoint, _options.ShadowCapacity);
            _shadowWorking.Add(queue);
            queue.Worker = Task.Run(() => ShadowLoopAsync(queue), CancellationToken.None);
            _shadowQueues[endpoint] = queue;
            return queue;
        }
    }

    /// <summary>
    /// Takes no more copies for an endpoint that was deleted, unloaded or has no shadow now: its worker answers the copies
    /// already queued (a bounded number) and ends. A later copy makes a new queue.
    /// </summary>
    private void RetireShadow(string endpoint)
    {
        lock (_shadowLock)
        {
            if (_shadowQueues.TryRemove(endpoint, out var queue))
            {
                queue.Copies.Writer.TryComplete();
            }
        }
    }

    /// <summary>
    /// Answers one endpoint's queued shadow copies one at a time until its queue is retired and empty, or the runtime
    /// stops. On stopping it ends after the copy in hand (a shutdown must fit in the host's window, and a backlog of a
    /// slow shadow would not): <see cref="DisposeAsync"/> counts what is still queued as dropped.
    /// </summary>
    private async Task ShadowLoopAsync(ShadowQueue queue)
    {
        var token = _stopping.Token;
        var reader = queue.Copies.Reader;
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                // NOTE: checked per copy, since a queue that is never empty would otherwise be drained to its end.
                while (!token.IsCancellationRequested && reader.TryRead(out var work))
                {
                    await AnswerShadowAsync(work, token).ConfigureAwait(false);
                }

                token.ThrowIfCancellationRequested();
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        finally
        {
            lock (_shadowLock)
            {
                // Stopping: DisposeAsync holds the list and counts what is left; otherwise the queue is retired and empty.
                if (!_shadowClosed)
                {
                    _shadowWorking.Remove(queue);
                }
            }
        }
    }

    /// <summary>Predicts one shadow copy and logs its answer; a failure is counted, and a copy cut short by stopping is counted as dropped.</summary>
    private async Task AnswerShadowAsync(ShadowWork work, CancellationToken token)
    {
        try
        {
            if (_options.BeforeShadow is { } hook)
            {
                await hook(token).ConfigureAwait(false);
            }

            var start = Stopwatch.GetTimestamp();
            if (work.Model.Check(work.Input, work.AllowedExtra) is { Count: > 0 } problems)
            {
                ShadowFailed(work, string.Join("; ", problems.Select(p => WithoutPii(p, work.Masked))));
                return;
            }

            var output = work.Model.Predict(work.Input, 0, CancellationToken.None); // nothing to explain, so nothing to stop
            output.Role = ServingRoles.Shadow;
            _metrics.ShadowPredictions.Labels(work.Endpoint).Inc();
            if (_log is not null && LogSampling.Sampled(work.RequestId, work.SampleRate))
            {
                _log.TryWrite(new PendingPrediction(Now(), work.RequestId, work.Endpoint, work.Project, work.Input, output, Stopwatch.GetElapsedTime(start).TotalMilliseconds, work.Masked));
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            _metrics.ShadowDropped.Labels(work.Endpoint).Inc();
        }
#pragma warning disable CA1031 // a failing shadow must never affect serving: it is counted and the next copy is tried
        catch (Exception e)
#pragma warning restore CA1031
        {
            ShadowFailed(work, WithoutPii(e.Message, work.Masked));
        }
    }

    /// <summary>
    /// A shadow failure's reason as the server log may show it: one that names a field the endpoint masks (its <c>pii</c>
    /// and PII-tagged features) is replaced by the names alone, since the reason may quote the request's value (the caller's
    /// answer and the prediction log mask it; this warning is the one place it would otherwise appear).
    /// </summary>
    private static string WithoutPii(string reason, IReadOnlySet<string> masked)
    {
        if (masked.Count == 0)
        {
            return reason;
        }

        var named = masked.Where(field => reason.Contains($"'{field}'", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        return named.Count == 0 ? reason
            : named.Count == 1 ? $"field '{named[0]}' (PII): reason withheld, as it may hold the value"
            : $"fields {string.Join(", ", named.Select(f => $"'{f}'"))} (PII): reason withheld, as it may hold their values";
    }

    /// <summary>Most distinct reasons a shadow's failures are logged for, per endpoint (a reason may name a request's value).</summary>
    private const int MaxShadowReasons = 16;

    /// <summary>
    /// Counts a shadow's failure by endpoint and logs its reason the first time it is seen, never once per request: a
    /// shadow that cannot read what the endpoint is sent fails every copy, and nobody looks at an unlabelled counter.
    /// </summary>
    private void ShadowFailed(ShadowWork work, string reason)
    {
        _metrics.ShadowFailures.Labels(work.Endpoint).Inc();
        var logged = _shadowReasons.GetOrAdd(work.Endpoint, _ => new HashSet<string>(StringComparer.Ordinal));
        var shadow = $"{work.Model.Name}/{work.Model.Version}";
        int count;
        lock (logged)
        {
            if (logged.Count > MaxShadowReasons || !logged.Add($"{shadow}: {reason}"))
            {
                return;
            }

            count = logged.Count;
        }

        _options.Warn?.Invoke(count > MaxShadowReasons
            ? $"endpoint '{work.Endpoint}': shadow {shadow} fails for further reasons; they are counted (strata_serving_shadow_failures_total), not logged"
            : $"endpoint '{work.Endpoint}': shadow {shadow} failed a request (counted in strata_serving_shadow_failures_total; logged once per reason): {reason}");
    }

    private long Now() => _clock.GetUtcNow().ToUnixTimeMilliseconds() * 1000;

    private static string StatusOf(string code) => code switch
    {
        ErrorCodes.NotFound => "404",
        ErrorCodes.DataLimit => "413",
        ErrorCodes.Forbidden => "403",
        ErrorCodes.Unauthorized => "401",
        ErrorCodes.Conflict => "409",
        _ when ErrorCodes.IsCallerError(code) => "400",
        _ => "500",
    };
}
