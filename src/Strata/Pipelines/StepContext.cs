using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Strata.Data;
using Strata.Data.Arrow;
using Strata.Learning;
using Strata.Security;

namespace Strata.Pipelines;

/// <summary>A reference to a stored artifact: its kind and digest (in the artifact store).</summary>
internal sealed record ArtifactRef(ArtifactKind Kind, string Digest)
{
    public override string ToString() => $"{PipelineValidator.Name(Kind)}:{Digest}";

    public static ArtifactRef Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && Enum.TryParse<ArtifactKind>(text[..colon], ignoreCase: true, out var kind)
            ? new ArtifactRef(kind, text[(colon + 1)..])
            : throw new StrataException(ErrorCodes.Io, $"unreadable artifact reference '{text}' in the store");
    }
}

/// <summary>Reads and writes step artifacts in the artifact store, keeping decoded values of one run in memory.</summary>
internal sealed class ArtifactIo(PipelineServices services)
{
    private const long MaxArtifactBytes = 4L << 30;
    private readonly ConcurrentDictionary<string, Lazy<Task<object>>> _decoded = new(StringComparer.Ordinal);

    public PipelineServices Services => services;

    public async Task<ArtifactRef> PutTableAsync(Table table, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await using (var writer = new ArrowFileWriter(buffer, table.Schema, leaveOpen: true))
        {
            await writer.WriteBatchAsync(table, cancellationToken).ConfigureAwait(false);
            await writer.FinishAsync(cancellationToken).ConfigureAwait(false);
        }

        return Remember(await PutBytesAsync(ArtifactKind.Table, buffer, cancellationToken).ConfigureAwait(false), table);
    }

    public async Task<ArtifactRef> PutModelAsync(Model model, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await ModelPackage.SaveAsync(model, buffer, cancellationToken).ConfigureAwait(false);
        return Remember(await PutBytesAsync(ArtifactKind.Model, buffer, cancellationToken).ConfigureAwait(false), model);
    }

    public async Task<ArtifactRef> PutJsonAsync(ArtifactKind kind, JsonNode value, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream(Encoding.UTF8.GetBytes(PipelineYaml.CanonicalText(value)));
        return await PutBytesAsync(kind, buffer, cancellationToken).ConfigureAwait(false);
    }

    public Task<Table> GetTableAsync(ArtifactRef artifact, CancellationToken cancellationToken) =>
        GetAsync<Table>(artifact, ArtifactKind.Table, async ct =>
        {
            var path = await ToFileAsync(artifact.Digest, ".arrow", ct).ConfigureAwait(false);
            try
            {
                return (await DataFiles.ReadAsync(path, new DataReadOptions { Format = DataFormat.Arrow }, ct).ConfigureAwait(false)).Table;
            }
            finally
            {
                File.Delete(path);
            }
        }, cancellationToken);

    public Task<Model> GetModelAsync(ArtifactRef artifact, CancellationToken cancellationToken) =>
        GetAsync<Model>(artifact, ArtifactKind.Model, async ct =>
        {
            var stream = await services.Artifacts.OpenReadAsync(artifact.Digest, ct).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return await ModelPackage.LoadAsync(stream, ct).ConfigureAwait(false);
            }
        }, cancellationToken);

    public async Task<JsonNode> GetJsonAsync(ArtifactRef artifact, CancellationToken cancellationToken)
    {
        var node = await GetAsync<JsonNode>(artifact, artifact.Kind, async ct =>
        {
            var stream = await services.Artifacts.OpenReadAsync(artifact.Digest, ct).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return JsonNode.Parse(stream) ?? new JsonObject();
            }
        }, cancellationToken).ConfigureAwait(false);
        return node.DeepClone();
    }

    /// <summary>Copies a blob to a temporary file (the caller deletes it); Arrow readers and validators read files.</summary>
    public async Task<string> ToFileAsync(string digest, string extension, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(services.ScratchFolder);
        var path = Path.Combine(services.ScratchFolder, Guid.NewGuid().ToString("N") + extension);
        var source = await services.Artifacts.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
        await using (source.ConfigureAwait(false))
        {
            var target = File.Create(path);
            await using (target.ConfigureAwait(false))
            {
                await source.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
            }
        }

        return path;
    }

    private async Task<ArtifactRef> PutBytesAsync(ArtifactKind kind, MemoryStream buffer, CancellationToken cancellationToken)
    {
        buffer.Position = 0;
        var blob = await services.Artifacts.PutAsync(buffer, MaxArtifactBytes, cancellationToken).ConfigureAwait(false);
        return new ArtifactRef(kind, blob.Digest);
    }

    private ArtifactRef Remember(ArtifactRef artifact, object value)
    {
        _decoded.TryAdd(artifact.Digest, new Lazy<Task<object>>(Task.FromResult(value)));
        return artifact;
    }

    private async Task<T> GetAsync<T>(ArtifactRef artifact, ArtifactKind expected, Func<CancellationToken, Task<T>> load, CancellationToken cancellationToken)
        where T : class
    {
        if (artifact.Kind != expected)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"artifact {artifact.Digest} is a {PipelineValidator.Name(artifact.Kind)}, not a {PipelineValidator.Name(expected)}");
        }

        var lazy = _decoded.GetOrAdd(artifact.Digest, _ => new Lazy<Task<object>>(async () => await load(CancellationToken.None).ConfigureAwait(false)));
        try
        {
            return (T)await lazy.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            _decoded.TryRemove(artifact.Digest, out _);
            throw;
        }
    }
}

/// <summary>
/// What a running step sees: its spec and parameters, its inputs (read from the artifact store), and where its outputs
/// go. An output written with the wrong kind, or a declared output left unwritten, fails the step.
/// </summary>
internal sealed class StepContext
{
    private readonly ArtifactIo _io;
    private readonly IReadOnlyDictionary<string, ArtifactRef> _inputs;
    private readonly ConcurrentDictionary<string, ArtifactRef> _outputs = new(StringComparer.Ordinal);
    private readonly Action<string> _log;

    public StepContext(PipelineSpec pipeline, StepSpec step, IPipelineStep type, string project, string runId, Caller caller, ArtifactIo io,
        IReadOnlyDictionary<string, ArtifactRef> inputs, Action<string> log)
    {
        Pipeline = pipeline;
        Step = step;
        Type = type;
        Project = project;
        RunId = runId;
        Caller = caller;
        _io = io;
        _inputs = inputs;
        _log = log;
    }

    public PipelineSpec Pipeline { get; }

    public StepSpec Step { get; }

    public IPipelineStep Type { get; }

    public string Project { get; }

    public string RunId { get; }

    public Caller Caller { get; }

    public PipelineServices Services => _io.Services;

    public ArtifactIo Io => _io;

    public IReadOnlyDictionary<string, ArtifactRef> Outputs => _outputs;

    public void Log(string message) => _log(message);

    public bool HasInput(string name) => _inputs.ContainsKey(name);

    public ArtifactRef Input(string name) =>
        _inputs.TryGetValue(name, out var artifact) ? artifact : throw Bad("inputs." + name, "is not connected");

    public Task<Table> TableAsync(string name, CancellationToken cancellationToken) => _io.GetTableAsync(Input(name), cancellationToken);

    public Task<Model> ModelAsync(string name, CancellationToken cancellationToken) => _io.GetModelAsync(Input(name), cancellationToken);

    public Task<JsonNode> JsonAsync(string name, CancellationToken cancellationToken) => _io.GetJsonAsync(Input(name), cancellationToken);

    public async Task WriteTableAsync(string name, Table table, CancellationToken cancellationToken)
    {
        Declared(name, ArtifactKind.Table);
        _outputs[name] = await _io.PutTableAsync(table, cancellationToken).ConfigureAwait(false);
    }

    public async Task WriteModelAsync(string name, Model model, CancellationToken cancellationToken)
    {
        Declared(name, ArtifactKind.Model);
        _outputs[name] = await _io.PutModelAsync(model, cancellationToken).ConfigureAwait(false);
    }

    public async Task WriteJsonAsync(string name, ArtifactKind kind, JsonNode value, CancellationToken cancellationToken)
    {
        Declared(name, kind);
        _outputs[name] = await _io.PutJsonAsync(kind, value, cancellationToken).ConfigureAwait(false);
    }

    public JsonNode? Parameter(string name) => Step.Parameters.GetValueOrDefault(name);

    public string? String(string name) => Parameter(name) switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw Bad("parameters." + name, "must be a single value"),
    };

    public string RequiredString(string name) => String(name) ?? throw Bad("parameters." + name, "is missing");

    public double Double(string name, double fallback)
    {
        var text = String(name);
        return text is null ? fallback
            : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) ? value
            : throw Bad("parameters." + name, $"must be a number, not '{text}'");
    }

    public int Int(string name, int fallback)
    {
        var text = String(name);
        return text is null ? fallback
            : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value
            : throw Bad("parameters." + name, $"must be an integer, not '{text}'");
    }

    public bool Bool(string name, bool fallback)
    {
        var text = String(name);
        return text is null ? fallback
            : text is "true" or "yes" or "on" ? true
            : text is "false" or "no" or "off" ? false
            : throw Bad("parameters." + name, $"must be true or false, not '{text}'");
    }

    public IReadOnlyList<string> List(string name) => Parameter(name) switch
    {
        null => [],
        JsonArray a => a.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Bad("parameters." + name, "must be a list of values")).ToList(),
        JsonValue v when v.TryGetValue<string>(out var s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        _ => throw Bad("parameters." + name, "must be a list"),
    };

    public IReadOnlyDictionary<string, string> Map(string name) => Parameter(name) switch
    {
        null => new Dictionary<string, string>(),
        JsonObject o => o.ToDictionary(p => p.Key, p => p.Value is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Bad($"parameters.{name}.{p.Key}", "must be a single value"), StringComparer.Ordinal),
        _ => throw Bad("parameters." + name, "must be a mapping of name: value"),
    };

    /// <summary>An error about this step's field, naming file, line, step and field.</summary>
    public PipelineSpecException Bad(string field, string message) =>
        new([new SpecError(Pipeline.File, Step.LineOf(field), Step.Name, field, message)]);

    private void Declared(string name, ArtifactKind kind)
    {
        var port = Type.Outputs.FirstOrDefault(p => p.Name == name)
            ?? throw new StrataException(ErrorCodes.ArgumentInvalid, $"step '{Step.Name}' wrote output '{name}', which a {Type.Type} step does not declare");
        if (port.Kind != kind)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid,
                $"step '{Step.Name}' wrote a {PipelineValidator.Name(kind)} to output '{name}', which is declared a {PipelineValidator.Name(port.Kind)}");
        }
    }
}
