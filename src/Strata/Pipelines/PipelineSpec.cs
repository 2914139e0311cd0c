using System.Globalization;
using System.Text.Json.Nodes;

namespace Strata.Pipelines;

/// <summary>What a step's input or output holds; an output feeds only inputs of the same kind (checked before anything runs).</summary>
public enum ArtifactKind
{
    /// <summary>A table (stored as Arrow IPC).</summary>
    Table,
    /// <summary>A data profile (JSON).</summary>
    Profile,
    /// <summary>A data schema (YAML text in JSON).</summary>
    Schema,
    /// <summary>A model package.</summary>
    Model,
    /// <summary>Metrics overall and per slice, of the candidate and the champion (JSON).</summary>
    Evaluation,
    /// <summary>A learner configuration, the best a tuning found (JSON).</summary>
    Config,
    /// <summary>Whether a model passed the gate, and why (JSON).</summary>
    Blessing,
    /// <summary>A registered model version (JSON).</summary>
    Version,
    /// <summary>A report (validation anomalies, a promotion) (JSON).</summary>
    Report,
}

/// <summary>
/// One named step: its type, where its inputs come from (<c>input → step.output</c>), its parameters, extra ordering
/// dependencies and a time limit. <see cref="Lines"/> maps fields to the spec file's lines, so errors can point at them.
/// </summary>
public sealed record StepSpec
{
    /// <summary>The step's name, unique in the pipeline.</summary>
    public required string Name { get; init; }

    /// <summary>The step type (ingest, split, train…).</summary>
    public required string Type { get; init; }

    /// <summary>Input name → <c>step.output</c> of an upstream step.</summary>
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();

    /// <summary>Parameters: scalars are strings; lists and maps nest.</summary>
    public IReadOnlyDictionary<string, JsonNode?> Parameters { get; init; } = new Dictionary<string, JsonNode?>();

    /// <summary>Steps that must finish first although no output flows from them.</summary>
    public IReadOnlyList<string> After { get; init; } = [];

    /// <summary>How long the step may run; null for no limit.</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>Field (<c>type</c>, <c>inputs.data</c>, <c>parameters.label</c>) → line in the spec file; empty for built specs.</summary>
    public IReadOnlyDictionary<string, int> Lines { get; init; } = new Dictionary<string, int>();

    /// <summary>The line of a field, or of the step, or null.</summary>
    public int? LineOf(string? field) =>
        field is not null && Lines.TryGetValue(field, out var line) ? line : Lines.TryGetValue("", out var start) ? start : null;
}

/// <summary>
/// A pipeline: named, typed steps forming a DAG, read from YAML (<see cref="PipelineYaml"/>) or built in C#
/// (<see cref="PipelineBuilder"/>); both give this same model, so they validate, cache and run alike.
/// </summary>
public sealed record PipelineSpec
{
    /// <summary>The pipeline's name (runs are listed under it).</summary>
    public required string Name { get; init; }

    /// <summary>The project it runs in (default: the caller's choice).</summary>
    public string? Project { get; init; }

    /// <summary>Steps in declaration order.</summary>
    public required IReadOnlyList<StepSpec> Steps { get; init; }

    /// <summary>The folder files are read from (ingest paths are relative to it and never leave it); null: no file access.</summary>
    public string? Folder { get; init; }

    /// <summary>The spec file's name, for error messages.</summary>
    public string? File { get; init; }

    /// <summary>How many steps may run at once (default 2).</summary>
    public int Parallelism { get; init; } = 2;

    /// <summary>The step named so, or null.</summary>
    public StepSpec? Step(string name) => Steps.FirstOrDefault(s => s.Name == name);
}

/// <summary>A pipeline in C#: the same model a YAML spec gives, so <c>new PipelineBuilder("p").Step(…).Build()</c> runs like a file.</summary>
public sealed class PipelineBuilder
{
    private readonly List<StepSpec> _steps = [];
    private readonly string _name;
    private string? _project;
    private string? _folder;
    private int _parallelism = 2;

    /// <summary>Starts a pipeline.</summary>
    public PipelineBuilder(string name) => _name = name;

    /// <summary>Sets the project.</summary>
    public PipelineBuilder Project(string project)
    {
        _project = project;
        return this;
    }

    /// <summary>Sets the folder ingest reads files from.</summary>
    public PipelineBuilder Folder(string folder)
    {
        _folder = folder;
        return this;
    }

    /// <summary>Sets how many steps may run at once.</summary>
    public PipelineBuilder Parallelism(int parallelism)
    {
        _parallelism = parallelism;
        return this;
    }

    /// <summary>Adds a step, configured by <paramref name="configure"/>.</summary>
    public PipelineBuilder Step(string name, string type, Action<StepBuilder>? configure = null)
    {
        var step = new StepBuilder(name, type);
        configure?.Invoke(step);
        _steps.Add(step.Build());
        return this;
    }

    /// <summary>The pipeline (validated when it runs, like a file).</summary>
    public PipelineSpec Build() => new() { Name = _name, Project = _project, Steps = _steps.ToList(), Folder = _folder, Parallelism = _parallelism };
}

/// <summary>Configures one step of a <see cref="PipelineBuilder"/>.</summary>
public sealed class StepBuilder
{
    private readonly string _name;
    private readonly string _type;
    private readonly Dictionary<string, string> _inputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonNode?> _parameters = new(StringComparer.Ordinal);
    private readonly List<string> _after = [];
    private TimeSpan? _timeLimit;

    internal StepBuilder(string name, string type)
    {
        _name = name;
        _type = type;
    }

    /// <summary>Feeds input <paramref name="name"/> from <paramref name="source"/> (<c>step.output</c>).</summary>
    public StepBuilder Input(string name, string source)
    {
        _inputs[name] = source;
        return this;
    }

    /// <summary>Sets a scalar parameter (numbers in invariant text).</summary>
    public StepBuilder Set(string name, object value)
    {
        _parameters[name] = JsonValue.Create(Convert.ToString(value, CultureInfo.InvariantCulture));
        return this;
    }

    /// <summary>Sets a structured parameter (a list or a map).</summary>
    public StepBuilder Set(string name, JsonNode? value)
    {
        _parameters[name] = PipelineYaml.AsText(value);
        return this;
    }

    /// <summary>Runs after <paramref name="step"/> although no output flows from it.</summary>
    public StepBuilder After(string step)
    {
        _after.Add(step);
        return this;
    }

    /// <summary>Limits the step's running time.</summary>
    public StepBuilder TimeLimit(TimeSpan limit)
    {
        _timeLimit = limit;
        return this;
    }

    internal StepSpec Build() => new()
    {
        Name = _name, Type = _type, Inputs = new Dictionary<string, string>(_inputs), Parameters = new Dictionary<string, JsonNode?>(_parameters),
        After = _after.ToList(), TimeLimit = _timeLimit,
    };
}
