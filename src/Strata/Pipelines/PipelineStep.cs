namespace Strata.Pipelines;

/// <summary>A named, typed input or output of a step type.</summary>
internal sealed record Port(string Name, ArtifactKind Kind, bool Optional = false);

/// <summary>How a step relates to the world outside its inputs.</summary>
[Flags]
internal enum StepTraits
{
    /// <summary>A pure function of its inputs and parameters.</summary>
    None = 0,
    /// <summary>Reads state outside the pipeline (a file, a database, the feature store): a rerun reuses its recorded outputs.</summary>
    External = 1,
    /// <summary>Changes the registry (register, promote): a rerun does not repeat it.</summary>
    SideEffect = 2,
}

/// <summary>
/// A step type: its ports and parameters (checked before anything runs) and the work. <see cref="Version"/> is part of
/// the cache key, so a change to a step's code that changes its outputs must change it.
/// </summary>
internal interface IPipelineStep
{
    string Type { get; }

    string Version { get; }

    IReadOnlyList<Port> Inputs { get; }

    IReadOnlyList<Port> Outputs { get; }

    IReadOnlyList<string> Required { get; }

    IReadOnlyList<string> Optional { get; }

    StepTraits Traits { get; }

    /// <summary>State outside the inputs the outputs depend on (a file's digest, the champion's version), added to the cache key; null for none.</summary>
    Task<string?> FingerprintAsync(StepContext context, CancellationToken cancellationToken);

    /// <summary>
    /// Whether outputs an earlier execution with the same cache key produced still stand for the world: a registry version
    /// a <c>register</c> step made may have been deleted since, and reusing its record would skip a real registration.
    /// </summary>
    Task<bool> CanReuseAsync(StepContext context, IReadOnlyDictionary<string, ArtifactRef> outputs, CancellationToken cancellationToken);

    Task RunAsync(StepContext context, CancellationToken cancellationToken);
}

/// <summary>The step types a pipeline may use: the built-ins, plus any a caller adds (tests add failing ones).</summary>
internal sealed class StepCatalog
{
    private readonly Dictionary<string, IPipelineStep> _steps = new(StringComparer.Ordinal);

    public StepCatalog(IEnumerable<IPipelineStep> steps)
    {
        foreach (var step in steps)
        {
            _steps[step.Type] = step;
        }
    }

    /// <summary>Every built-in step.</summary>
    public static StepCatalog Builtin() => new(Steps.BuiltinSteps.All());

    public IReadOnlyCollection<string> Types => _steps.Keys;

    public IPipelineStep? Find(string type) => _steps.GetValueOrDefault(type);

    public StepCatalog With(params IPipelineStep[] more) => new(_steps.Values.Concat(more));
}

/// <summary>Checks a spec before anything runs: step types, names, inputs and their types, parameters, dependencies and cycles.</summary>
internal static class PipelineValidator
{
    /// <summary>The steps in an order where every step comes after its dependencies.</summary>
    /// <exception cref="PipelineSpecException">Every problem found.</exception>
    public static IReadOnlyList<StepSpec> Validate(PipelineSpec spec, StepCatalog catalog)
    {
        var file = spec.File;
        var errors = new List<SpecError>();
        if (!IsName(spec.Name))
        {
            errors.Add(new SpecError(file, null, null, "pipeline", $"'{spec.Name}' is not a name (letters, digits, '-' and '_', up to 64)"));
        }

        if (spec.Steps.Count == 0)
        {
            errors.Add(new SpecError(file, null, null, "steps", "a pipeline needs at least one step"));
        }

        var byName = new Dictionary<string, StepSpec>(StringComparer.Ordinal);
        foreach (var step in spec.Steps)
        {
            if (!IsName(step.Name))
            {
                errors.Add(new SpecError(file, step.LineOf("name"), step.Name, "name", "a step name uses letters, digits, '-' and '_' (up to 64)"));
            }
            else if (!byName.TryAdd(step.Name, step))
            {
                errors.Add(new SpecError(file, step.LineOf("name"), step.Name, "name", "another step has this name"));
            }
        }

        foreach (var step in spec.Steps)
        {
            var type = catalog.Find(step.Type);
            if (type is null)
            {
                errors.Add(new SpecError(file, step.LineOf("type"), step.Name, "type",
                    $"unknown step type '{step.Type}' (known: {string.Join(", ", catalog.Types.Order(StringComparer.Ordinal))})"));
                continue;
            }

            foreach (var (input, source) in step.Inputs)
            {
                var field = $"inputs.{input}";
                var port = type.Inputs.FirstOrDefault(p => p.Name == input);
                if (port is null)
                {
                    errors.Add(new SpecError(file, step.LineOf(field), step.Name, field,
                        $"a {step.Type} step has no input '{input}' (inputs: {string.Join(", ", type.Inputs.Select(p => p.Name))})"));
                    continue;
                }

                var dot = source.IndexOf('.', StringComparison.Ordinal);
                if (dot <= 0 || dot == source.Length - 1)
                {
                    errors.Add(new SpecError(file, step.LineOf(field), step.Name, field, $"'{source}' is not step.output"));
                    continue;
                }

                var (from, output) = (source[..dot], source[(dot + 1)..]);
                if (!byName.TryGetValue(from, out var upstream))
                {
                    errors.Add(new SpecError(file, step.LineOf(field), step.Name, field, $"no step '{from}'"));
                    continue;
                }

                if (catalog.Find(upstream.Type) is not { } upstreamType)
                {
                    continue;
                }

                var produced = upstreamType.Outputs.FirstOrDefault(p => p.Name == output);
                if (produced is null)
                {
                    errors.Add(new SpecError(file, step.LineOf(field), step.Name, field,
                        $"step '{from}' ({upstream.Type}) has no output '{output}' (outputs: {string.Join(", ", upstreamType.Outputs.Select(p => p.Name))})"));
                }
                else if (produced.Kind != port.Kind)
                {
                    errors.Add(new SpecError(file, step.LineOf(field), step.Name, field,
                        $"type mismatch: '{source}' is a {Name(produced.Kind)}, but input '{input}' of a {step.Type} step takes a {Name(port.Kind)}"));
                }
            }

            foreach (var port in type.Inputs.Where(p => !p.Optional && !step.Inputs.ContainsKey(p.Name)))
            {
                errors.Add(new SpecError(file, step.LineOf("inputs"), step.Name, $"inputs.{port.Name}", $"missing input '{port.Name}' (a {Name(port.Kind)})"));
            }

            foreach (var parameter in type.Required.Where(p => !step.Parameters.ContainsKey(p) || step.Parameters[p] is null))
            {
                errors.Add(new SpecError(file, step.LineOf("parameters"), step.Name, $"parameters.{parameter}", $"missing parameter '{parameter}'"));
            }

            foreach (var parameter in step.Parameters.Keys.Where(p => !type.Required.Contains(p) && !type.Optional.Contains(p)))
            {
                errors.Add(new SpecError(file, step.LineOf($"parameters.{parameter}"), step.Name, $"parameters.{parameter}",
                    $"a {step.Type} step has no parameter '{parameter}' (parameters: {string.Join(", ", type.Required.Concat(type.Optional))})"));
            }

            foreach (var before in step.After.Where(a => !byName.ContainsKey(a)))
            {
                errors.Add(new SpecError(file, step.LineOf("after"), step.Name, "after", $"no step '{before}'"));
            }
        }

        if (errors.Count == 0 && FindCycle(spec.Steps, byName) is { } cycle)
        {
            errors.Add(new SpecError(file, byName[cycle[0]].LineOf("inputs"), cycle[0], "inputs", $"the steps form a cycle: {string.Join(" → ", cycle)}"));
        }

        if (errors.Count > 0)
        {
            throw new PipelineSpecException(errors);
        }

        return TopologicalOrder(spec.Steps, byName);
    }

    /// <summary>The steps a step waits for: the sources of its inputs and its <c>after</c> list.</summary>
    public static IEnumerable<string> Dependencies(StepSpec step) =>
        step.Inputs.Values.Select(s => s[..s.IndexOf('.', StringComparison.Ordinal)]).Concat(step.After).Distinct(StringComparer.Ordinal);

    private static List<string>? FindCycle(IReadOnlyList<StepSpec> steps, Dictionary<string, StepSpec> byName)
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal);
        var path = new List<string>();
        foreach (var step in steps)
        {
            if (Visit(step.Name) is { } cycle)
            {
                return cycle;
            }
        }

        return null;

        List<string>? Visit(string name)
        {
            if (state.GetValueOrDefault(name) == 2)
            {
                return null;
            }

            if (state.GetValueOrDefault(name) == 1)
            {
                return [.. path.Skip(path.IndexOf(name)), name];
            }

            state[name] = 1;
            path.Add(name);
            foreach (var dependency in Dependencies(byName[name]))
            {
                if (Visit(dependency) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[name] = 2;
            return null;
        }
    }

    private static List<StepSpec> TopologicalOrder(IReadOnlyList<StepSpec> steps, Dictionary<string, StepSpec> byName)
    {
        var done = new HashSet<string>(StringComparer.Ordinal);
        var order = new List<StepSpec>();
        foreach (var step in steps)
        {
            Add(step);
        }

        return order;

        void Add(StepSpec step)
        {
            if (!done.Add(step.Name))
            {
                return;
            }

            foreach (var dependency in Dependencies(step))
            {
                Add(byName[dependency]);
            }

            order.Add(step);
        }
    }

    internal static string Name(ArtifactKind kind) => kind.ToString().ToLowerInvariant();

    internal static bool IsName(string? name) =>
        name is { Length: > 0 and <= 64 } && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
