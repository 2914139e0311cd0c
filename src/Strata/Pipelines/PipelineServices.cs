using Strata.Features;
using Strata.Registry;
using Strata.Security;
using Strata.Stores;

namespace Strata.Pipelines;

/// <summary>Reads the rows of a PostgreSQL query with declared columns (the composition root supplies it: the engine does not reference the PostgreSQL backend).</summary>
public delegate Task<Table> PostgresQueryReader(string connectionString, string query, Schema schema, CancellationToken cancellationToken);

/// <summary>What a pipeline's steps work with: the stores, the registry, the feature stores, and a scratch folder.</summary>
public sealed class PipelineServices
{
    /// <summary>Creates the services.</summary>
    public PipelineServices(IMetadataStore metadata, IArtifactStore artifacts, string scratchFolder, FeatureStores? features = null, PostgresQueryReader? postgres = null, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(artifacts);
        ArgumentException.ThrowIfNullOrEmpty(scratchFolder);
        Metadata = metadata;
        Artifacts = artifacts;
        Registry = new RegistryService(metadata, artifacts, clock: clock);
        ScratchFolder = scratchFolder;
        Features = features;
        Postgres = postgres;
        Clock = clock ?? TimeProvider.System;
    }

    /// <summary>The metadata store (runs, steps, lineage, registry).</summary>
    public IMetadataStore Metadata { get; }

    /// <summary>Where step outputs are kept, by digest.</summary>
    public IArtifactStore Artifacts { get; }

    /// <summary>The registry, with its access checks.</summary>
    public RegistryService Registry { get; }

    /// <summary>A folder for temporary files (created when needed).</summary>
    public string ScratchFolder { get; }

    /// <summary>The feature stores (for training-set steps), or null.</summary>
    public FeatureStores? Features { get; }

    /// <summary>Reads PostgreSQL queries (for ingest from a database), or null.</summary>
    public PostgresQueryReader? Postgres { get; }

    /// <summary>The clock.</summary>
    public TimeProvider Clock { get; }
}

/// <summary>How to run a pipeline.</summary>
public sealed record PipelineRunOptions
{
    /// <summary>The project (default: the spec's, else "default").</summary>
    public string? Project { get; init; }

    /// <summary>Who runs it (default: the local owner).</summary>
    public Caller Caller { get; init; } = Caller.Local;

    /// <summary>Execute every step even when an earlier execution with the same cache key exists.</summary>
    public bool NoCache { get; init; }

    /// <summary>The new run's id (null: a fresh one); a run with that id must not exist (idempotent starts, e.g. one per alert).</summary>
    public string? RunId { get; init; }

    /// <summary>Receives step starts, ends, logs and progress as they happen.</summary>
    public IProgress<PipelineEvent>? Progress { get; init; }
}

/// <summary>What a pipeline event reports.</summary>
public enum PipelineEventKind
{
    /// <summary>The run started.</summary>
    RunStarted,
    /// <summary>A step started executing.</summary>
    StepStarted,
    /// <summary>A step logged a line.</summary>
    Log,
    /// <summary>A step finished.</summary>
    StepSucceeded,
    /// <summary>A step's outputs were reused from the cache.</summary>
    StepCached,
    /// <summary>A step failed.</summary>
    StepFailed,
    /// <summary>A step did not run.</summary>
    StepSkipped,
    /// <summary>The run ended.</summary>
    RunEnded,
}

/// <summary>One event of a run: its kind, the step (null for the run), a message, and the time since the step (or run) started.</summary>
public sealed record PipelineEvent(string RunId, PipelineEventKind Kind, string? Step, string Message, TimeSpan Elapsed);
