using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Strata.Stores;

namespace Strata.Pipelines;

/// <summary>
/// Runs pipelines: validates the spec before anything runs, executes independent steps in parallel, skips steps whose
/// cache key (type, code version, parameters, input digests) matches an earlier execution, records every step as a
/// lineage execution with its input and output artifacts, and stops a run at a failed step with that step named.
/// Failed runs can be resumed from the failed step; finished runs can be rerun from their recorded inputs.
/// </summary>
public sealed class PipelineExecutor
{
    /// <summary>Run property: the run this one resumed or reran.</summary>
    public const string ReproducedProperty = "reproduced";

    private readonly PipelineServices _services;
    private readonly StepCatalog _catalog;

    /// <summary>Creates an executor with the built-in steps.</summary>
    public PipelineExecutor(PipelineServices services)
        : this(services, StepCatalog.Builtin())
    {
    }

    internal PipelineExecutor(PipelineServices services, StepCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(services);
        _services = services;
        _catalog = catalog;
    }

    /// <summary>Checks a spec without running it.</summary>
    /// <exception cref="PipelineSpecException">Every problem, naming file, line, step and field.</exception>
    public void Validate(PipelineSpec spec) => PipelineValidator.Validate(spec, _catalog);

    /// <summary>Runs a pipeline to its end (or its first failed step); the returned run says which.</summary>
    /// <exception cref="PipelineSpecException">The spec is invalid; nothing ran.</exception>
    public async Task<PipelineRun> RunAsync(PipelineSpec spec, PipelineRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PipelineRunOptions();
        var run = await StartAsync(spec, options, cancellationToken).ConfigureAwait(false);
        return await ExecuteAsync(run, spec, new Dictionary<string, PipelineStepRun>(), rerun: false, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Validates a pipeline and records its run (state running) without executing it; <see cref="ExecuteAsync(PipelineRun, PipelineRunOptions?, CancellationToken)"/> does that.</summary>
    /// <exception cref="PipelineSpecException">The spec is invalid; nothing was recorded.</exception>
    public async Task<PipelineRun> StartAsync(PipelineSpec spec, PipelineRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        options ??= new PipelineRunOptions();
        PipelineValidator.Validate(spec, _catalog);
        var project = await RequireProjectAsync(options.Project ?? spec.Project ?? "default", options, cancellationToken).ConfigureAwait(false);
        return await CreateRunAsync(spec, project, null, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Executes a run recorded by <see cref="StartAsync"/>.</summary>
    public Task<PipelineRun> ExecuteAsync(PipelineRun run, PipelineRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        return ExecuteAsync(run, SpecOf(run), new Dictionary<string, PipelineStepRun>(), rerun: false, options ?? new PipelineRunOptions(), cancellationToken);
    }

    /// <summary>Resumes a failed run: its succeeded steps keep their outputs, the failed step and everything after it run again.</summary>
    public async Task<PipelineRun> ResumeAsync(string project, string runId, PipelineRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PipelineRunOptions();
        var run = await GetRunAsync(project, runId, options, cancellationToken).ConfigureAwait(false);
        if (run.State != PipelineState.Failed)
        {
            throw new StrataException(ErrorCodes.Conflict, $"pipeline run '{runId}' is {SqlName(run.State)}; only a failed run can be resumed");
        }

        var spec = SpecOf(run);
        PipelineValidator.Validate(spec, _catalog);
        var done = (await _services.Metadata.Pipelines.ListStepsAsync(project, runId, cancellationToken).ConfigureAwait(false))
            .Where(s => s.State is PipelineState.Succeeded or PipelineState.Cached)
            .ToDictionary(s => s.Step, StringComparer.Ordinal);
        run = await _services.Metadata.Pipelines.UpdateRunAsync(run with { State = PipelineState.Running, EndedAt = null, Error = null }, options.Caller.Actor, cancellationToken)
            .ConfigureAwait(false);
        return await ExecuteAsync(run, spec, done, rerun: false, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Recomputes a run from its recorded inputs as a new run: steps that read the outside world (ingest, training-set)
    /// reuse their recorded outputs, every other step executes again without the cache, and steps with side effects
    /// (register, promote) are not repeated. The new run's <c>reproduced</c> property says whether every model came out
    /// bit-identical (same package digest).
    /// </summary>
    public async Task<PipelineRun> RerunAsync(string project, string runId, PipelineRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PipelineRunOptions();
        var original = await GetRunAsync(project, runId, options, cancellationToken).ConfigureAwait(false);
        var spec = SpecOf(original);
        PipelineValidator.Validate(spec, _catalog);
        var recorded = (await _services.Metadata.Pipelines.ListStepsAsync(project, runId, cancellationToken).ConfigureAwait(false))
            .ToDictionary(s => s.Step, StringComparer.Ordinal);
        var pinned = new Dictionary<string, PipelineStepRun>(StringComparer.Ordinal);
        foreach (var step in spec.Steps)
        {
            if (_catalog.Find(step.Type)!.Traits.HasFlag(StepTraits.External))
            {
                pinned[step.Name] = recorded.TryGetValue(step.Name, out var r) && r.State is PipelineState.Succeeded or PipelineState.Cached
                    ? r
                    : throw new StrataException(ErrorCodes.Conflict, $"pipeline run '{runId}' has no recorded outputs of step '{step.Name}' to rerun from");
            }
        }

        var run = await CreateRunAsync(spec, project, original, options with { NoCache = true }, cancellationToken).ConfigureAwait(false);
        run = await ExecuteAsync(run, spec, pinned, rerun: true, options with { NoCache = true }, cancellationToken).ConfigureAwait(false);

        // Every model output of the original, compared by digest with the rerun's.
        var now = (await _services.Metadata.Pipelines.ListStepsAsync(project, run.Id, cancellationToken).ConfigureAwait(false)).ToDictionary(s => s.Step, StringComparer.Ordinal);
        var properties = run.Properties.ToDictionary();
        var same = run.State == PipelineState.Succeeded;
        foreach (var (name, step) in recorded)
        {
            foreach (var (output, reference) in step.Outputs.Where(o => ArtifactRef.Parse(o.Value).Kind == ArtifactKind.Model))
            {
                var again = now.TryGetValue(name, out var s) ? s.Outputs.GetValueOrDefault(output) : null;
                properties[$"digest.{name}.{output}"] = ArtifactRef.Parse(reference).Digest;
                properties[$"rerun_digest.{name}.{output}"] = again is null ? "" : ArtifactRef.Parse(again).Digest;
                same &= again == reference;
            }
        }

        properties[ReproducedProperty] = same ? "true" : "false";
        return await _services.Metadata.Pipelines.UpdateRunAsync(run with { Properties = properties }, options.Caller.Actor, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The spec a run ran, parsed from its stored text, with the folder it ran in.</summary>
    public static PipelineSpec SpecOf(PipelineRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var spec = PipelineYaml.Parse(run.Spec, $"run {run.Id}");
        return spec with { Folder = run.Properties.GetValueOrDefault("folder") is { Length: > 0 } folder ? folder : null };
    }

    private async Task<string> RequireProjectAsync(string project, PipelineRunOptions options, CancellationToken cancellationToken)
    {
        await _services.Registry.GetProjectAsync(options.Caller, project, cancellationToken).ConfigureAwait(false);
        Security.AccessPolicy.Require(options.Caller.Principal, project, Role.Editor);
        return project;
    }

    private async Task<PipelineRun> GetRunAsync(string project, string runId, PipelineRunOptions options, CancellationToken cancellationToken)
    {
        Names.Check("run", runId);
        await RequireProjectAsync(project, options, cancellationToken).ConfigureAwait(false);
        return await _services.Metadata.Pipelines.GetRunAsync(project, runId, cancellationToken).ConfigureAwait(false)
            ?? throw new StrataException(ErrorCodes.NotFound, $"no pipeline run '{runId}' in project '{project}'");
    }

    private async Task<PipelineRun> CreateRunAsync(PipelineSpec spec, string project, PipelineRun? rerunOf, PipelineRunOptions options, CancellationToken cancellationToken)
    {
        var text = PipelineYaml.Write(spec);
        var properties = new Dictionary<string, string>(StringComparer.Ordinal) { ["no_cache"] = options.NoCache ? "true" : "false" };
        if (spec.Folder is not null)
        {
            properties["folder"] = Path.GetFullPath(spec.Folder);
        }

        var run = new PipelineRun(
            rerunOf is null && options.RunId is { } id ? id : Guid.NewGuid().ToString("N"), project, spec.Name, Sha256(text), text, PipelineState.Running, Now(), null, null,
            options.Caller.Principal.Name, rerunOf?.Id, properties);
        return await _services.Metadata.Pipelines.CreateRunAsync(run, options.Caller.Actor, cancellationToken).ConfigureAwait(false);
    }

    private async Task<PipelineRun> ExecuteAsync(
        PipelineRun run, PipelineSpec spec, IReadOnlyDictionary<string, PipelineStepRun> reuse, bool rerun, PipelineRunOptions options, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var io = new ArtifactIo(_services);
        using var lineage = new LineageRecorder(_services, run, options.Caller);
        Emit(options, run, PipelineEventKind.RunStarted, null, $"pipeline '{spec.Name}' run {run.Id} in project '{run.Project}'", watch.Elapsed);
        var outputs = new Dictionary<string, IReadOnlyDictionary<string, ArtifactRef>>(StringComparer.Ordinal);
        var states = new Dictionary<string, PipelineState>(StringComparer.Ordinal);
        var order = PipelineValidator.Validate(spec, _catalog);
        foreach (var (name, recorded) in reuse)
        {
            if (!rerun)
            {
                // Resumed: the step already has its record in this run.
                outputs[name] = recorded.Outputs.ToDictionary(o => o.Key, o => ArtifactRef.Parse(o.Value), StringComparer.Ordinal);
                states[name] = recorded.State;
            }
        }

        var running = new Dictionary<Task<StepOutcome>, string>();
        string? failure = null;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        while (true)
        {
            if (failure is null)
            {
                foreach (var step in order)
                {
                    if (running.Count >= spec.Parallelism)
                    {
                        break;
                    }

                    if (states.ContainsKey(step.Name) || running.ContainsValue(step.Name) || !PipelineValidator.Dependencies(step).All(d => outputs.ContainsKey(d)))
                    {
                        continue;
                    }

                    // An input whose source produced nothing (a side-effect step a rerun skipped) stays unconnected.
                    var inputs = new Dictionary<string, ArtifactRef>(StringComparer.Ordinal);
                    foreach (var (input, source) in step.Inputs)
                    {
                        var dot = source.IndexOf('.', StringComparison.Ordinal);
                        if (outputs[source[..dot]].TryGetValue(source[(dot + 1)..], out var artifact))
                        {
                            inputs[input] = artifact;
                        }
                    }

                    var pinned = rerun ? reuse.GetValueOrDefault(step.Name) : null;
                    running[RunStepAsync(run, spec, step, inputs, pinned, rerun, io, lineage, options, stop.Token)] = step.Name;
                }
            }

            if (running.Count == 0)
            {
                break;
            }

            var done = await Task.WhenAny(running.Keys).ConfigureAwait(false);
            var name = running[done];
            running.Remove(done);
            var outcome = await done.ConfigureAwait(false);
            states[name] = outcome.State;
            if (outcome.State == PipelineState.Failed)
            {
                failure ??= $"step '{name}' failed: {outcome.Error}";
            }
            else
            {
                outputs[name] = outcome.Outputs;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        foreach (var step in order.Where(s => !states.ContainsKey(s.Name)))
        {
            var reason = failure is null ? "not reached" : $"not run: {failure}";
            await _services.Metadata.Pipelines.PutStepAsync(run.Project, new PipelineStepRun(run.Id, step.Name, step.Type, PipelineState.Skipped, null, null, null,
                new Dictionary<string, string>(), new Dictionary<string, string>(), reason, null), options.Caller.Actor, cancellationToken).ConfigureAwait(false);
            Emit(options, run, PipelineEventKind.StepSkipped, step.Name, reason, TimeSpan.Zero);
        }

        await lineage.RecordContextAsync(cancellationToken).ConfigureAwait(false);
        var properties = run.Properties.ToDictionary();
        properties["seconds"] = watch.Elapsed.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        properties["steps_cached"] = states.Count(s => s.Value == PipelineState.Cached).ToString(CultureInfo.InvariantCulture);
        properties["steps_executed"] = states.Count(s => s.Value == PipelineState.Succeeded).ToString(CultureInfo.InvariantCulture);
        var ended = run with
        {
            State = failure is null ? PipelineState.Succeeded : PipelineState.Failed,
            EndedAt = Now(),
            Error = failure is null ? null : Truncate(failure, 4000),
            Properties = properties,
        };
        ended = await _services.Metadata.Pipelines.UpdateRunAsync(ended, options.Caller.Actor, cancellationToken).ConfigureAwait(false);
        Emit(options, run, PipelineEventKind.RunEnded, null, failure ?? $"succeeded ({properties["steps_executed"]} executed, {properties["steps_cached"]} cached)", watch.Elapsed);
        return ended;
    }

    private sealed record StepOutcome(PipelineState State, IReadOnlyDictionary<string, ArtifactRef> Outputs, string? Error);

    private async Task<StepOutcome> RunStepAsync(
        PipelineRun run, PipelineSpec spec, StepSpec step, Dictionary<string, ArtifactRef> inputs, PipelineStepRun? pinned, bool rerun,
        ArtifactIo io, LineageRecorder lineage, PipelineRunOptions options, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var type = _catalog.Find(step.Type)!;
        var inputText = inputs.ToDictionary(i => i.Key, i => i.Value.ToString(), StringComparer.Ordinal);
        var started = Now();
        var watch = Stopwatch.StartNew();
        var actor = options.Caller.Actor;
        var context = new StepContext(spec, step, type, run.Project, run.Id, options.Caller, io, inputs,
            message => Emit(options, run, PipelineEventKind.Log, step.Name, message, watch.Elapsed));
        string key;
        try
        {
            key = CacheKey(step, type, inputs, pinned is null ? await type.FingerprintAsync(context, cancellationToken).ConfigureAwait(false) : null);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return await FailAsync(null, e is StrataException ? e.Message : $"{e.GetType().Name}: {e.Message}").ConfigureAwait(false);
        }

        if (rerun && type.Traits.HasFlag(StepTraits.SideEffect))
        {
            const string reason = "side effects are not repeated by a rerun";
            await _services.Metadata.Pipelines.PutStepAsync(run.Project, new PipelineStepRun(run.Id, step.Name, step.Type, PipelineState.Skipped, key, started, Now(),
                inputText, new Dictionary<string, string>(), reason, null), actor, cancellationToken).ConfigureAwait(false);
            Emit(options, run, PipelineEventKind.StepSkipped, step.Name, reason, TimeSpan.Zero);
            return new StepOutcome(PipelineState.Skipped, new Dictionary<string, ArtifactRef>(), null);
        }

        // The cache (or, in a rerun, the recorded outputs of a step that reads the outside world).
        var reused = pinned ?? (options.NoCache ? null : await _services.Metadata.Pipelines.FindCachedStepAsync(run.Project, key, cancellationToken).ConfigureAwait(false));
        var cachedOutputs = reused?.Outputs.ToDictionary(o => o.Key, o => ArtifactRef.Parse(o.Value), StringComparer.Ordinal);
        if (reused is not null && cachedOutputs is not null && await AllStoredAsync(reused, cancellationToken).ConfigureAwait(false)
            && (pinned is not null || await CanReuseAsync(type, context, cachedOutputs, cancellationToken).ConfigureAwait(false)))
        {
            var executionId = await lineage.RecordAsync(step, "cached", inputs, cachedOutputs, cancellationToken).ConfigureAwait(false);
            await _services.Metadata.Pipelines.PutStepAsync(run.Project, new PipelineStepRun(run.Id, step.Name, step.Type, PipelineState.Cached, key, started, Now(),
                inputText, reused.Outputs, null, executionId), actor, cancellationToken).ConfigureAwait(false);
            Emit(options, run, PipelineEventKind.StepCached, step.Name, pinned is null ? $"cached (from run {reused.RunId})" : $"recorded outputs of run {reused.RunId}", watch.Elapsed);
            return new StepOutcome(PipelineState.Cached, cachedOutputs, null);
        }

        await _services.Metadata.Pipelines.PutStepAsync(run.Project, new PipelineStepRun(run.Id, step.Name, step.Type, PipelineState.Running, key, started, null,
            inputText, new Dictionary<string, string>(), null, null), actor, cancellationToken).ConfigureAwait(false);
        Emit(options, run, PipelineEventKind.StepStarted, step.Name, $"{step.Type} started", TimeSpan.Zero);
        string? error = null;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (step.TimeLimit is { } timeLimit)
        {
            limit.CancelAfter(timeLimit);
        }

        try
        {
            // WaitAsync stops waiting at the limit even when the step ignores its token.
            await type.RunAsync(context, limit.Token).WaitAsync(limit.Token).ConfigureAwait(false);
            var missing = type.Outputs.Where(p => !p.Optional && !context.Outputs.ContainsKey(p.Name)).Select(p => p.Name).ToList();
            if (missing.Count > 0)
            {
                error = $"it did not produce its output {string.Join(", ", missing.Select(m => $"'{m}'"))}";
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && step.TimeLimit is { } t)
        {
            error = $"it ran out of its time limit of {Describe(t)}";
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            error = e is StrataException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        }

        var outputs = context.Outputs.ToDictionary(o => o.Key, o => o.Value, StringComparer.Ordinal);
        if (error is not null)
        {
            return await FailAsync(key, error).ConfigureAwait(false);
        }

        var id = await lineage.RecordAsync(step, "complete", inputs, outputs, cancellationToken).ConfigureAwait(false);
        await _services.Metadata.Pipelines.PutStepAsync(run.Project, new PipelineStepRun(run.Id, step.Name, step.Type, PipelineState.Succeeded, key, started, Now(),
            inputText, outputs.ToDictionary(o => o.Key, o => o.Value.ToString(), StringComparer.Ordinal), null, id), actor, cancellationToken).ConfigureAwait(false);
        Emit(options, run, PipelineEventKind.StepSucceeded, step.Name, $"{step.Type} done in {watch.Elapsed.TotalSeconds:0.00} s", watch.Elapsed);
        return new StepOutcome(PipelineState.Succeeded, outputs, null);

        async Task<StepOutcome> FailAsync(string? cacheKey, string message)
        {
            // Nothing the failed step wrote counts as its output: the next run executes it again.
            var executionId = await lineage.RecordAsync(step, "failed", inputs, new Dictionary<string, ArtifactRef>(), CancellationToken.None).ConfigureAwait(false);
            await _services.Metadata.Pipelines.PutStepAsync(run.Project, new PipelineStepRun(run.Id, step.Name, step.Type, PipelineState.Failed, cacheKey, started, Now(),
                inputText, new Dictionary<string, string>(), Truncate(message, 4000), executionId), actor, CancellationToken.None).ConfigureAwait(false);
            Emit(options, run, PipelineEventKind.StepFailed, step.Name, $"step '{step.Name}' ({step.Type}) failed: {message}", watch.Elapsed);
            return new StepOutcome(PipelineState.Failed, new Dictionary<string, ArtifactRef>(), message);
        }
    }

    /// <summary>A step's own check that cached outputs still hold; one that cannot tell (it throws) executes again.</summary>
    private static async Task<bool> CanReuseAsync(IPipelineStep type, StepContext context, IReadOnlyDictionary<string, ArtifactRef> outputs, CancellationToken cancellationToken)
    {
        try
        {
            return await type.CanReuseAsync(context, outputs, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            context.Log($"cached outputs not reused: {e.Message}");
            return false;
        }
    }

    private async Task<bool> AllStoredAsync(PipelineStepRun step, CancellationToken cancellationToken)
    {
        foreach (var output in step.Outputs.Values)
        {
            if (await _services.Artifacts.GetSizeAsync(ArtifactRef.Parse(output).Digest, cancellationToken).ConfigureAwait(false) is null)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>SHA-256 of the step type and code version, the state outside it reads, the canonical parameters and the input artifacts' digests.</summary>
    internal static string CacheKey(StepSpec step, IPipelineStep type, IReadOnlyDictionary<string, ArtifactRef> inputs, string? fingerprint)
    {
        var sb = new StringBuilder();
        sb.Append("type=").Append(type.Type).Append('\n');
        sb.Append("version=").Append(type.Version).Append('\n');
        sb.Append("outside=").Append(fingerprint ?? "").Append('\n');
        foreach (var (name, value) in step.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sb.Append("param.").Append(name).Append('=').Append(PipelineYaml.CanonicalText(value)).Append('\n');
        }

        foreach (var (name, artifact) in inputs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sb.Append("input.").Append(name).Append('=').Append(artifact).Append('\n');
        }

        return Sha256(sb.ToString());
    }

    private static void Emit(PipelineRunOptions options, PipelineRun run, PipelineEventKind kind, string? step, string message, TimeSpan elapsed) =>
        options.Progress?.Report(new PipelineEvent(run.Id, kind, step, message, elapsed));

    private long Now() => Timestamp.FromDateTimeOffset(_services.Clock.GetUtcNow());

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max];

    private static string SqlName(PipelineState state) => state.ToString().ToLowerInvariant();

    private static string Describe(TimeSpan t) =>
        t.TotalSeconds < 1 ? $"{t.TotalMilliseconds:0} ms" : t.TotalMinutes < 1 ? $"{t.TotalSeconds:0.#} s" : $"{t.TotalMinutes:0.#} min";
}
