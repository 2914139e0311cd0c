using System.Diagnostics;
using Strata.Features;
using Strata.Registry;
using Strata.Storage;

namespace Strata.Cli.Commands;

/// <summary>What a quickstart run is asked to do.</summary>
/// <param name="Home">The fresh (or empty) home folder the run fills.</param>
/// <param name="Sample">The bundled flights folder (samples/flights).</param>
/// <param name="Small">Less data and a smaller tuning budget; every stage still runs.</param>
/// <param name="Port">The loopback port to serve on (0: a free one).</param>
internal sealed record QuickstartOptions(string Home, string Sample, bool Small, int Port)
{
    /// <summary>Every how many rows of the sample the run keeps (the sample is 150,000 flights).</summary>
    public int Stride => Small ? 3 : 1;

    /// <summary>Single-row requests timed through the native API.</summary>
    public int NativeRequests => Small ? 1000 : 2000;

    /// <summary>Single-row requests timed through the Open Inference Protocol v2.</summary>
    public int InferRequests => Small ? 200 : 500;

    /// <summary>Tuning trials (ASHA) and the most boosting rounds a trial may reach.</summary>
    public (int Trials, int MaxRounds) Tuning => Small ? (4, 30) : (8, 60);

    /// <summary>Days of the drifted stream replayed after the training months.</summary>
    public int StreamDays => Small ? 21 : 42;

    /// <summary>Days into the stream from which replayed delays are shifted.</summary>
    public int ShiftAfterDays => Small ? 7 : 14;
}

/// <summary>One stage's outcome: its figures (machine-readable) and a one-line headline for people.</summary>
internal sealed class QuickstartStage(string name, string title)
{
    public string Name { get; } = name;

    public string Title { get; } = title;

    public string Headline { get; set; } = "";

    public double Seconds { get; set; }

    public SortedDictionary<string, object?> Figures { get; } = new(StringComparer.Ordinal);
}

/// <summary>Where a stage's progress goes (a terminal, or nowhere under --json).</summary>
internal interface IQuickstartProgress
{
    void StageStarted(QuickstartStage stage);

    void Step(string message);

    void StageEnded(QuickstartStage stage);
}

/// <summary>
/// <c>strata quickstart</c>: the whole lifecycle on the bundled flights sample in a fresh home, stage by stage. It only
/// orchestrates the strata (data, features, pipelines, registry, the server, monitoring); each stage is a partial file.
/// </summary>
/// <remarks>
/// The sample is 2001 history, while the online store and serving read "now": the in-process server runs on a replay
/// clock (<see cref="ReplayClock"/>) set to the replayed hour, so feature freshness (TTLs), windowed aggregates and the
/// prediction log's timestamps all follow the replayed time, as they would have live.
/// </remarks>
internal sealed partial class Quickstart : IAsyncDisposable
{
    /// <summary>The project, model, endpoint and feature service the quickstart creates.</summary>
    public const string Project = "flights";

    public const string ModelName = "flights-delay";

    public const string Endpoint = "flights";

    public const string Service = "flight_delay_v1";

    /// <summary>The error code of a stage whose outcome is not what the lifecycle needs (a failed run, nothing blessed).</summary>
    public const string StageFailed = "quickstart.stage_failed";

    /// <summary>Training months end (and serving starts) here: 2001-05-01.</summary>
    public static readonly long TrainingEnd = Micros(2001, 5, 1);

    private static readonly long SampleStart = Micros(2001, 1, 1);

    private readonly QuickstartOptions _options;
    private readonly IQuickstartProgress _progress;
    private readonly Termination? _termination;
    private readonly List<QuickstartStage> _stages = [];
    private StrataHome? _home;
    private FeatureStores? _features;
    private Table? _flights;

    /// <param name="options">What to run.</param>
    /// <param name="progress">Where each stage's progress goes.</param>
    /// <param name="termination">The process's Ctrl-C handling, whose grace the server's shutdown lengthens.</param>
    public Quickstart(QuickstartOptions options, IQuickstartProgress progress, Termination? termination = null)
    {
        _options = options;
        _progress = progress;
        _termination = termination;
        Registry = null!;
    }

    /// <summary>The stages run so far, in order.</summary>
    public IReadOnlyList<QuickstartStage> Stages => _stages;

    /// <summary>The server's address once stage 4 started it.</summary>
    public string? ServerUrl { get; private set; }

    /// <summary>The admin key of project flights the quickstart created.</summary>
    public string? ApiKey { get; private set; }

    /// <summary>The monitoring report written by stage 5.</summary>
    public string? ReportPath { get; private set; }

    private StrataHome Home => _home ?? throw new InvalidOperationException("the home is not open");

    private RegistryService Registry { get; set; }

    private Table Flights => _flights ?? throw new InvalidOperationException("the sample is not read yet");

    private string Folder(params string[] parts)
    {
        var path = Path.Combine([_options.Home, .. parts]);
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Runs every stage; the server stays up afterwards (<see cref="StopServingAsync"/>, or dispose).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _home = await StrataHome.OpenAsync(_options.Home, cancellationToken: cancellationToken).ConfigureAwait(false);
        Registry = new RegistryService(Home.Metadata, Home.Artifacts);
        await StageAsync("data", "Data: ingest, profile, schema, validate", IngestAndValidateAsync, cancellationToken).ConfigureAwait(false);
        await StageAsync("features", "Features: apply, training set, online store", BuildFeaturesAsync, cancellationToken).ConfigureAwait(false);
        await StageAsync("training", "Training pipeline: tune, evaluate, bless, register", TrainAsync, cancellationToken).ConfigureAwait(false);
        await StageAsync("serving", "Serving: model@champion with online features", ServeAsync, cancellationToken).ConfigureAwait(false);
        await StageAsync("monitoring", "Monitoring: drifted stream, alert, retraining", MonitorAsync, cancellationToken).ConfigureAwait(false);
    }

    private async Task StageAsync(string name, string title, Func<QuickstartStage, CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stage = new QuickstartStage(name, title);
        _stages.Add(stage);
        _progress.StageStarted(stage);
        var watch = Stopwatch.StartNew();
        await work(stage, cancellationToken).ConfigureAwait(false);
        stage.Seconds = Math.Round(watch.Elapsed.TotalSeconds, 2);
        _progress.StageEnded(stage);
    }

    public async ValueTask DisposeAsync()
    {
        await StopServingAsync().ConfigureAwait(false);
        if (_features is not null)
        {
            await _features.DisposeAsync().ConfigureAwait(false);
        }

        if (_home is not null)
        {
            await _home.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>UTC microseconds of a date.</summary>
    internal static long Micros(int year, int month, int day) => new DateTimeOffset(year, month, day, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;

    /// <summary>Rows of <paramref name="table"/> whose <c>date</c> is in [from, to).</summary>
    internal static Table Between(Table table, long from, long to)
    {
        var dates = table.GetColumn<long>("date");
        var rows = new List<int>();
        for (var i = 0; i < table.RowCount; i++)
        {
            if (!dates.IsNull(i) && dates[i] >= from && dates[i] < to)
            {
                rows.Add(i);
            }
        }

        return table.Take(rows.ToArray());
    }

    /// <summary>
    /// The bundled sample folder: samples/flights under the working folder or one of its parents, else under the folder
    /// the program runs from or its parents (a build output inside the repository).
    /// </summary>
    public static string? FindSample()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, "samples", "flights");
                if (File.Exists(Path.Combine(candidate, "flights-2001-sample.csv.gz")))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
