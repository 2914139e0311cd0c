namespace Strata.Pipelines.Steps;

/// <summary>The declarations every built-in step makes; subclasses fill them and do the work.</summary>
internal abstract class StepBase : IPipelineStep
{
    public abstract string Type { get; }

    public virtual string Version => "1";

    public abstract IReadOnlyList<Port> Inputs { get; }

    public abstract IReadOnlyList<Port> Outputs { get; }

    public virtual IReadOnlyList<string> Required => [];

    public virtual IReadOnlyList<string> Optional => [];

    public virtual StepTraits Traits => StepTraits.None;

    public virtual Task<string?> FingerprintAsync(StepContext context, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public virtual Task<bool> CanReuseAsync(StepContext context, IReadOnlyDictionary<string, ArtifactRef> outputs, CancellationToken cancellationToken) => Task.FromResult(true);

    public abstract Task RunAsync(StepContext context, CancellationToken cancellationToken);
}
