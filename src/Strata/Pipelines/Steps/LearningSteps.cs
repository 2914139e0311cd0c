using System.Globalization;
using System.Text.Json.Nodes;
using Strata.Hashing;
using Strata.Learning;
using Strata.Learning.Metrics;

namespace Strata.Pipelines.Steps;

/// <summary><c>split</c>: a table → train, valid and test parts, at random, by time (the latest rows last) or by group; seeded.</summary>
internal sealed class SplitStep : StepBase
{
    public override string Type => "split";

    public override IReadOnlyList<Port> Inputs => [new("data", ArtifactKind.Table)];

    public override IReadOnlyList<Port> Outputs => [new("train", ArtifactKind.Table), new("valid", ArtifactKind.Table), new("test", ArtifactKind.Table)];

    public override IReadOnlyList<string> Optional => ["method", "column", "seed", "test", "valid"];

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var table = await context.TableAsync("data", cancellationToken).ConfigureAwait(false);
        var test = context.Double("test", 0.2);
        var valid = context.Double("valid", 0.1);
        if (test is <= 0 or >= 1 || valid is < 0 or >= 1 || test + valid >= 1)
        {
            throw context.Bad("parameters.test", $"test ({test}) and valid ({valid}) are fractions in (0, 1) adding up to less than 1");
        }

        var seed = (ulong)context.Int("seed", 0);
        var n = table.RowCount;
        var part = new byte[n]; // 0 train, 1 valid, 2 test
        var method = context.String("method") ?? "random";
        switch (method)
        {
            case "random":
            {
                var order = Enumerable.Range(0, n).ToArray();
                new Random(unchecked((int)FastHash.Hash(seed, 0x5eed))).Shuffle(order);
                Assign(order);
                break;
            }

            case "time":
            {
                var column = Column(context, table);
                var order = Enumerable.Range(0, n).OrderBy(i => column.IsNull(i) ? 0 : 1).ThenBy(i => SortKey(column, i)).ThenBy(i => i).ToArray();
                Assign(order);
                break;
            }

            case "group":
            {
                var column = Column(context, table);
                for (var i = 0; i < n; i++)
                {
                    var key = System.Text.Encoding.UTF8.GetBytes(Convert.ToString(column.GetValue(i), CultureInfo.InvariantCulture) ?? "\0");
                    var u = (FastHash.Hash(key, seed) >> 11) * (1.0 / (1UL << 53));
                    part[i] = (byte)(u < test ? 2 : u < test + valid ? 1 : 0);
                }

                break;
            }

            default:
                throw context.Bad("parameters.method", $"must be random, time or group, not '{method}'");
        }

        foreach (var (name, index) in new[] { ("train", 0), ("valid", 1), ("test", 2) })
        {
            var rows = Enumerable.Range(0, n).Where(i => part[i] == index).ToArray();
            context.Log($"{name}: {rows.Length:N0} rows");
            await context.WriteTableAsync(name, table.Take(rows), cancellationToken).ConfigureAwait(false);
        }

        void Assign(int[] order)
        {
            // The first rows of the order train, then validate, the last test (for "time": the latest rows are the test set).
            var trainCount = n - (int)Math.Round(n * test) - (int)Math.Round(n * valid);
            var validCount = (int)Math.Round(n * valid);
            for (var k = 0; k < n; k++)
            {
                part[order[k]] = (byte)(k < trainCount ? 0 : k < trainCount + validCount ? 1 : 2);
            }
        }
    }

    /// <summary>A row's value as a number to order by (timestamps as microseconds).</summary>
    internal static double SortKey(Column column, int row) => column.IsNull(row) ? 0 : column switch
    {
        Column<long> l => l[row],
        Column<int> i => i[row],
        Column<double> d => d[row],
        Column<float> f => f[row],
        Column<bool> b => b[row] ? 1 : 0,
        _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"a time split needs a numeric or timestamp column, not {column.Type.Name()}"),
    };

    private static Column Column(StepContext context, Table table)
    {
        var name = context.String("column") ?? throw context.Bad("parameters.column", "time and group splits need a column");
        return table.Schema.Contains(name) ? table[name] : throw context.Bad("parameters.column", $"the data has no column '{name}'");
    }
}

/// <summary>What train and tune share: the learner, its settings and the training spec, from parameters.</summary>
internal static class LearnerParameters
{
    public static readonly string[] Names = ["learner", "label", "features", "categorical", "weight", "settings", "seed"];

    public static TrainingSpec Spec(StepContext context) => new()
    {
        Label = context.RequiredString("label"),
        Features = context.Parameter("features") is null ? null : context.List("features"),
        Categorical = context.Parameter("categorical") is null ? null : context.List("categorical"),
        Weight = context.String("weight"),
    };

    public static Dictionary<string, string> Settings(StepContext context, string learner, IReadOnlyDictionary<string, string>? more = null)
    {
        var settings = new Dictionary<string, string>(context.Map("settings"), StringComparer.Ordinal);
        foreach (var (key, value) in more ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        if (context.String("seed") is { } seed && learner == "gbdt")
        {
            settings["seed"] = seed;
        }

        return settings;
    }

    public static bool HigherIsBetter(string metric) =>
        metric is not (MetricNames.LogLoss or MetricNames.Brier or MetricNames.Ece) && !metric.Contains("rmse", StringComparison.Ordinal)
        && !metric.Contains("mae", StringComparison.Ordinal) && !metric.Contains("error", StringComparison.Ordinal) && !metric.Contains("loss", StringComparison.Ordinal);
}

/// <summary><c>train</c>: a training table (and optionally a validation table and a tuned config) → a model package.</summary>
internal sealed class TrainStep : StepBase
{
    public override string Type => "train";

    public override IReadOnlyList<Port> Inputs => [new("train", ArtifactKind.Table), new("valid", ArtifactKind.Table, Optional: true), new("config", ArtifactKind.Config, Optional: true)];

    public override IReadOnlyList<Port> Outputs => [new("model", ArtifactKind.Model)];

    public override IReadOnlyList<string> Required => ["label"];

    public override IReadOnlyList<string> Optional => LearnerParameters.Names.Where(n => n != "label").ToList();

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var table = await context.TableAsync("train", cancellationToken).ConfigureAwait(false);
        Dictionary<string, string>? tuned = null;
        var learnerName = context.String("learner") ?? "gbdt";
        if (context.HasInput("config"))
        {
            var config = await context.JsonAsync("config", cancellationToken).ConfigureAwait(false);
            learnerName = config["learner"]?.GetValue<string>() ?? learnerName;
            tuned = (config["settings"] as JsonObject)?.ToDictionary(p => p.Key, p => p.Value!.GetValue<string>(), StringComparer.Ordinal);
        }

        var spec = LearnerParameters.Spec(context);
        var learner = Learners.Create(learnerName, LearnerParameters.Settings(context, learnerName, tuned));
        var train = TrainingData.FromTable(table, spec);

        // The plan before the work: the signature is checked against the data before training compute is spent.
        learner.GetOutputSchema(table.Schema, spec with { Task = train.Task });
        TrainingData? valid = null;
        if (context.HasInput("valid"))
        {
            valid = TrainingData.FromTable(await context.TableAsync("valid", cancellationToken).ConfigureAwait(false), spec, like: train);
        }

        var progress = new Progress(context);
        var model = await learner.FitAsync(train, valid, progress, cancellationToken).ConfigureAwait(false);
        context.Log($"trained {learner.Name} on {table.RowCount:N0} rows");
        await context.WriteModelAsync("model", model, cancellationToken).ConfigureAwait(false);
    }

    private sealed class Progress(StepContext context) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (value.Round == value.Rounds || value.Round % 25 == 0)
            {
                context.Log($"round {value.Round}/{value.Rounds}{(value.ValidValue is { } v ? $" valid {value.Metric} {v:0.#####}" : "")}");
            }
        }
    }
}

/// <summary>
/// <c>evaluate</c>: a model on held-out rows → metrics overall and per slice, for the candidate, an optional baseline
/// model (input <c>baseline</c>, e.g. a logistic regression trained beside it, so the gate can ask "better than the simple
/// model?") and (when the registry has one) the current champion of the same model name.
/// </summary>
internal sealed class EvaluateStep : StepBase
{
    public override string Type => "evaluate";

    // 2: slices carry their row count. 3: the cache key names the champion's version as well as its package digest.
    public override string Version => "3";

    public override IReadOnlyList<Port> Inputs => [new("model", ArtifactKind.Model), new("data", ArtifactKind.Table), new("baseline", ArtifactKind.Model, Optional: true)];

    public override IReadOnlyList<Port> Outputs => [new("evaluation", ArtifactKind.Evaluation)];

    public override IReadOnlyList<string> Required => ["label"];

    public override IReadOnlyList<string> Optional => ["slice", "model_name", "champion_alias"];

    /// <summary>The champion's version and package digest (both are in the output), or none.</summary>
    public override async Task<string?> FingerprintAsync(StepContext context, CancellationToken cancellationToken) =>
        await ChampionAsync(context, cancellationToken).ConfigureAwait(false) is { } champion
            ? string.Create(CultureInfo.InvariantCulture, $"champion {champion.Model} v{champion.Version} {champion.ArtifactDigest}")
            : "no-champion";

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var model = await context.ModelAsync("model", cancellationToken).ConfigureAwait(false);
        var data = await context.TableAsync("data", cancellationToken).ConfigureAwait(false);
        var label = context.RequiredString("label");
        var slice = context.String("slice");
        var result = new JsonObject { ["label"] = label, ["slice"] = slice, ["candidate"] = Report(Evaluation.Evaluate(model, data, label, slice)) };
        if (context.HasInput("baseline"))
        {
            var baseline = await context.ModelAsync("baseline", cancellationToken).ConfigureAwait(false);
            result["baseline"] = Report(Evaluation.Evaluate(baseline, data, label, slice));
            context.Log($"baseline: {string.Join(", ", ((JsonObject)result["baseline"]!["overall"]!).Take(4).Select(p => $"{p.Key} {p.Value}"))}");
        }

        if (await ChampionAsync(context, cancellationToken).ConfigureAwait(false) is { } version)
        {
            var (_, stream) = await context.Services.Registry.OpenPackageAsync(context.Caller, context.Project, version.Model, version.Version, cancellationToken).ConfigureAwait(false);
            Model champion;
            await using (stream.ConfigureAwait(false))
            {
                champion = await ModelPackage.LoadAsync(stream, cancellationToken).ConfigureAwait(false);
            }

            result["champion"] = Report(Evaluation.Evaluate(champion, data, label, slice));
            result["champion_version"] = version.Version.ToString(CultureInfo.InvariantCulture);
            context.Log($"champion: version {version.Version}");
        }

        context.Log($"candidate: {string.Join(", ", ((JsonObject)result["candidate"]!["overall"]!).Take(4).Select(p => $"{p.Key} {p.Value}"))}");
        await context.WriteJsonAsync("evaluation", ArtifactKind.Evaluation, result, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Stores.ModelVersion?> ChampionAsync(StepContext context, CancellationToken cancellationToken)
    {
        if (context.String("model_name") is not { } name)
        {
            return null;
        }

        var alias = context.String("champion_alias") ?? "champion";
        try
        {
            return await context.Services.Registry.ResolveAsync(context.Caller, context.Project, $"{name}@{alias}", cancellationToken).ConfigureAwait(false);
        }
        catch (StrataException e) when (e.Code == ErrorCodes.NotFound)
        {
            return null;
        }
    }

    private static JsonObject Report(EvaluationReport report) => new()
    {
        ["overall"] = Metrics(report.Overall),
        ["slices"] = new JsonObject(report.Slices.Select(s => KeyValuePair.Create(s.Value ?? EvaluationReport.NullName, (JsonNode?)Metrics(s.Metrics)))),
    };

    private static JsonObject Metrics(MetricSet metrics)
    {
        var o = new JsonObject(metrics.Values.Where(m => double.IsFinite(m.Value)).OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => KeyValuePair.Create(m.Key, (JsonNode?)JsonValue.Create(m.Value.ToString("R", CultureInfo.InvariantCulture)))));
        o["rows"] = metrics.Rows.ToString(CultureInfo.InvariantCulture);
        return o;
    }
}
