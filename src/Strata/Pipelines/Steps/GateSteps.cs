using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Strata.Learning;
using Strata.Registry;
using Strata.Stores;

namespace Strata.Pipelines.Steps;

/// <summary>
/// <c>bless</c>: the evaluation gate. Thresholds declared in the spec — absolute (<c>auc &gt;= 0.75</c>), relative to
/// the champion (<c>auc &gt;= champion.auc - 0.002</c>), per slice (<c>slice_max_drop: {metric, drop, min_rows}</c>: no
/// slice of at least min_rows rows worse than the champion's slice, or without a champion the overall value, by more than drop) and a latency bound (<c>latency_p99_ms</c>: the compiled predictor's single-row
/// p99), and relative to a baseline model the evaluate step was given (<c>auc &gt;= baseline.auc + 0.01</c>) → a blessing.
/// An unblessed model is still registered, but never promoted.
/// </summary>
internal sealed class BlessStep : StepBase
{
    public override string Type => "bless";

    public override IReadOnlyList<Port> Inputs => [new("evaluation", ArtifactKind.Evaluation), new("model", ArtifactKind.Model, Optional: true), new("data", ArtifactKind.Table, Optional: true)];

    public override IReadOnlyList<Port> Outputs => [new("blessing", ArtifactKind.Blessing)];

    public override IReadOnlyList<string> Optional => ["thresholds", "slice_max_drop", "latency_p99_ms", "latency_rows"];

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var evaluation = await context.JsonAsync("evaluation", cancellationToken).ConfigureAwait(false);
        var candidate = Metrics(evaluation["candidate"]?["overall"]);
        var champion = evaluation["champion"] is { } c ? Metrics(c["overall"]) : null;
        var baseline = evaluation["baseline"] is { } b ? Metrics(b["overall"]) : null;
        var checks = new JsonArray();
        var blessed = true;
        void Check(string name, bool passed, string detail)
        {
            blessed &= passed;
            checks.Add(new JsonObject { ["check"] = name, ["passed"] = passed ? "true" : "false", ["detail"] = detail });
            context.Log($"{(passed ? "pass" : "FAIL")}: {name} ({detail})");
        }

        foreach (var threshold in context.List("thresholds"))
        {
            var (metric, op, reference, delta) = ParseThreshold(context, threshold);
            if (!candidate.TryGetValue(metric, out var value))
            {
                throw context.Bad("parameters.thresholds", $"'{threshold}': the evaluation has no metric '{metric}' (metrics: {string.Join(", ", candidate.Keys)})");
            }

            double bound;
            if (reference is null)
            {
                bound = delta;
            }
            else if (reference.StartsWith(BaselinePrefix, StringComparison.Ordinal))
            {
                // Unlike a champion, a baseline the spec asks for must be there: evaluate was not given one.
                var name = reference[BaselinePrefix.Length..];
                bound = (baseline is null
                    ? throw context.Bad("parameters.thresholds", $"'{threshold}': the evaluation has no baseline (give the evaluate step a 'baseline' model input)")
                    : baseline.TryGetValue(name, out var r) ? r : throw context.Bad("parameters.thresholds", $"'{threshold}': the baseline has no metric '{name}'")) + delta;
            }
            else if (champion is null)
            {
                Check(threshold, true, "no champion to compare with");
                continue;
            }
            else
            {
                bound = (champion.TryGetValue(reference, out var r) ? r : throw context.Bad("parameters.thresholds", $"'{threshold}': the champion has no metric '{reference}'")) + delta;
            }

            Check(threshold, Compare(value, op, bound), $"{metric} = {value:0.######}, bound {bound:0.######}");
        }

        if (context.Parameter("slice_max_drop") is not null)
        {
            var rule = context.Map("slice_max_drop");
            var metric = rule.GetValueOrDefault("metric") ?? throw context.Bad("parameters.slice_max_drop", "needs 'metric' and 'drop'");
            if (!double.TryParse(rule.GetValueOrDefault("drop"), NumberStyles.Float, CultureInfo.InvariantCulture, out var drop))
            {
                throw context.Bad("parameters.slice_max_drop", "'drop' must be a number");
            }

            var minRows = double.TryParse(rule.GetValueOrDefault("min_rows", "0"), NumberStyles.Float, CultureInfo.InvariantCulture, out var m) ? m
                : throw context.Bad("parameters.slice_max_drop", "'min_rows' must be a number");
            var higher = LearnerParameters.HigherIsBetter(metric);
            var slices = evaluation["candidate"]?["slices"] as JsonObject ?? [];
            var championSlices = evaluation["champion"]?["slices"] as JsonObject;
            foreach (var (slice, metrics) in slices)
            {
                var mine = Metrics(metrics);
                var theirs = championSlices is null ? candidate : Metrics(championSlices[slice]);
                // Slices too small to measure (min_rows) are left out rather than failing the gate on noise.
                if (!mine.TryGetValue(metric, out var value) || !theirs.TryGetValue(metric, out var reference) || mine.GetValueOrDefault("rows") < minRows)
                {
                    continue;
                }

                var worse = higher ? reference - value : value - reference;
                Check($"slice {slice}: {metric} drop <= {drop}", worse <= drop,
                    $"{metric} {value:0.######} vs {(championSlices is null ? "overall" : "champion")} {reference:0.######}");
            }
        }

        if (context.String("latency_p99_ms") is not null)
        {
            var bound = context.Double("latency_p99_ms", 0);
            if (!context.HasInput("model") || !context.HasInput("data"))
            {
                throw context.Bad("parameters.latency_p99_ms", "the latency check needs inputs 'model' and 'data'");
            }

            var model = await context.ModelAsync("model", cancellationToken).ConfigureAwait(false);
            var data = await context.TableAsync("data", cancellationToken).ConfigureAwait(false);
            var p99 = SingleRowP99(model, data, Math.Clamp(context.Int("latency_rows", 2000), 10, 100_000));
            Check($"latency p99 <= {bound} ms", p99 <= bound, $"single-row p99 {p99:0.####} ms");
        }

        context.Log(blessed ? "blessed" : "not blessed");
        await context.WriteJsonAsync("blessing", ArtifactKind.Blessing, new JsonObject { ["blessed"] = blessed ? "true" : "false", ["checks"] = checks }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The 99th percentile of one-row predictions, in milliseconds (trees through the compiled predictor).</summary>
    internal static double SingleRowP99(Model model, Table data, int rows)
    {
        rows = Math.Min(rows, data.RowCount);
        if (rows == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "the latency check needs at least one row of data");
        }

        var sample = data.Slice(0, rows);
        var times = new double[rows];
        if (model is TreeEnsembleModel trees)
        {
            var features = FeatureMatrix.FromTable(sample, model.Signature.Inputs);
            var row = new float[features.Count];
            var margins = new double[model.OutputCount];
            for (var pass = 0; pass < 2; pass++)
            {
                for (var i = 0; i < rows; i++)
                {
                    for (var f = 0; f < row.Length; f++)
                    {
                        row[f] = features.Value(f, i);
                    }

                    var start = Stopwatch.GetTimestamp();
                    trees.PredictMargins(row, margins);
                    times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }
        }
        else
        {
            for (var pass = 0; pass < 2; pass++)
            {
                for (var i = 0; i < rows; i++)
                {
                    var one = sample.Slice(i, 1);
                    var start = Stopwatch.GetTimestamp();
                    model.Predict(one);
                    times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }
        }

        Array.Sort(times);
        return times[Math.Min(rows - 1, (int)Math.Ceiling(0.99 * rows) - 1)];
    }

    private static Dictionary<string, double> Metrics(JsonNode? node) =>
        (node as JsonObject ?? []).Where(p => p.Value is not null)
            .ToDictionary(p => p.Key, p => double.Parse(p.Value!.GetValue<string>(), CultureInfo.InvariantCulture), StringComparer.Ordinal);

    private static bool Compare(double value, string op, double bound) => op switch
    {
        ">=" => value >= bound,
        ">" => value > bound,
        "<=" => value <= bound,
        _ => value < bound,
    };

    /// <summary>Marks a threshold's reference as the evaluation's baseline model (<c>auc &gt;= baseline.auc + 0.01</c>).</summary>
    private const string BaselinePrefix = "baseline.";

    /// <summary><c>metric op number</c>, <c>metric op champion.metric [+|- number]</c> or the same with <c>baseline.metric</c>.</summary>
    private static (string Metric, string Op, string? Reference, double Delta) ParseThreshold(StepContext context, string text)
    {
        var tokens = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var bad = context.Bad("parameters.thresholds", $"'{text}' is not 'METRIC >= NUMBER' or 'METRIC >= champion.METRIC - NUMBER' or 'METRIC > baseline.METRIC' (operators >=, >, <=, <)");
        if (tokens.Length is not (3 or 5) || tokens[1] is not (">=" or ">" or "<=" or "<"))
        {
            throw bad;
        }

        if (tokens.Length == 3 && double.TryParse(tokens[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var absolute))
        {
            return (tokens[0], tokens[1], null, absolute);
        }

        var isBaseline = tokens[2].StartsWith(BaselinePrefix, StringComparison.Ordinal);
        if (!isBaseline && !tokens[2].StartsWith("champion.", StringComparison.Ordinal))
        {
            throw bad;
        }

        var delta = 0.0;
        if (tokens.Length == 5)
        {
            if (tokens[3] is not ("+" or "-") || !double.TryParse(tokens[4], NumberStyles.Float, CultureInfo.InvariantCulture, out delta))
            {
                throw bad;
            }

            delta = tokens[3] == "-" ? -delta : delta;
        }

        return (tokens[0], tokens[1], isBaseline ? tokens[2] : tokens[2]["champion.".Length..], delta);
    }
}

/// <summary>
/// <c>register</c>: a model (its package already in the artifact store) → the model's next version, tagged with its
/// blessing and the run. Registration is one metadata write after every check, so a failure leaves nothing half-written.
/// </summary>
internal sealed class RegisterStep : StepBase
{
    public override string Type => "register";

    public override IReadOnlyList<Port> Inputs => [new("model", ArtifactKind.Model), new("blessing", ArtifactKind.Blessing, Optional: true), new("evaluation", ArtifactKind.Evaluation, Optional: true)];

    public override IReadOnlyList<Port> Outputs => [new("version", ArtifactKind.Version)];

    public override IReadOnlyList<string> Required => ["model_name"];

    public override IReadOnlyList<string> Optional => ["description"];

    public override StepTraits Traits => StepTraits.SideEffect;

    /// <summary>
    /// The version recorded by the cached execution must still be in the registry with the same package: one deleted
    /// since (or never there, after a restore) is registered again rather than handed on as if it existed. An archived
    /// version is someone's decision and is left alone.
    /// </summary>
    public override async Task<bool> CanReuseAsync(StepContext context, IReadOnlyDictionary<string, ArtifactRef> outputs, CancellationToken cancellationToken)
    {
        if (!outputs.TryGetValue("version", out var output))
        {
            return false;
        }

        var recorded = await context.Io.GetJsonAsync(output, cancellationToken).ConfigureAwait(false);
        var name = recorded["model"]?.GetValue<string>();
        if (name is null || !int.TryParse(recorded["version"]?.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var version = await context.Services.Metadata.Registry.GetVersionAsync(context.Project, name, number, cancellationToken).ConfigureAwait(false);
        var reusable = version is not null && version.Status != VersionStatus.Deleted && version.ArtifactDigest == recorded["digest"]?.GetValue<string>();
        if (!reusable)
        {
            context.Log($"{name} version {number} of the cached registration is gone: registering again");
        }

        return reusable;
    }

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var name = context.RequiredString("model_name");
        var model = await context.ModelAsync("model", cancellationToken).ConfigureAwait(false);
        var blessed = !context.HasInput("blessing") || (await context.JsonAsync("blessing", cancellationToken).ConfigureAwait(false))["blessed"]?.GetValue<string>() == "true";
        var metrics = model.Metrics.Where(m => double.IsFinite(m.Value) && Names.IsValid(m.Key, NameKind.Key)).ToDictionary(m => m.Key, m => m.Value);
        if (context.HasInput("evaluation"))
        {
            var overall = (await context.JsonAsync("evaluation", cancellationToken).ConfigureAwait(false))["candidate"]?["overall"] as JsonObject ?? [];
            foreach (var (key, value) in overall)
            {
                if (value is not null && Names.IsValid($"test.{key}", NameKind.Key))
                {
                    metrics[$"test.{key}"] = double.Parse(value.GetValue<string>(), CultureInfo.InvariantCulture);
                }
            }
        }

        var registry = context.Services.Registry;
        if (await context.Services.Metadata.Registry.GetModelAsync(context.Project, name, cancellationToken).ConfigureAwait(false) is null)
        {
            try
            {
                await registry.CreateModelAsync(context.Caller, context.Project, name, null, null, cancellationToken).ConfigureAwait(false);
            }
            catch (StrataException e) when (e.Code == ErrorCodes.Conflict)
            {
                // Made meanwhile by another run.
            }
        }

        var digest = context.Input("model").Digest;
        var version = await registry.RegisterVersionAsync(context.Caller, context.Project, name, new VersionRegistration
        {
            ArtifactDigest = digest,
            Signature = model.Signature.ToJson(),
            Learner = model.Learner,
            Metrics = metrics,
            Description = context.String("description"),
            Tags = new Dictionary<string, string>
            {
                ["blessed"] = blessed ? "true" : "false", ["pipeline"] = context.Pipeline.Name, ["pipeline_run"] = context.RunId, ["pipeline_step"] = context.Step.Name,
            },
        }, cancellationToken).ConfigureAwait(false);
        context.Log($"registered {name} version {version.Version} ({(blessed ? "blessed" : "not blessed")})");
        await context.WriteJsonAsync("version", ArtifactKind.Version, new JsonObject
        {
            ["model"] = name, ["version"] = version.Version.ToString(CultureInfo.InvariantCulture), ["digest"] = digest, ["blessed"] = blessed ? "true" : "false",
        }, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// <c>promote</c>: a blessed version → alias <c>challenger</c> at once; <c>champion</c> through the registry's approval
/// flow (a promotion request for a deployer) unless the spec says <c>champion: auto</c> (which a deployer's run
/// approves itself; an editor's run still waits for approval). An unblessed version is never promoted.
/// </summary>
internal sealed class PromoteStep : StepBase
{
    public override string Type => "promote";

    public override IReadOnlyList<Port> Inputs => [new("version", ArtifactKind.Version)];

    public override IReadOnlyList<Port> Outputs => [new("report", ArtifactKind.Report)];

    public override IReadOnlyList<string> Optional => ["alias", "champion", "reason"];

    public override StepTraits Traits => StepTraits.SideEffect;

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var version = await context.JsonAsync("version", cancellationToken).ConfigureAwait(false);
        var name = version["model"]!.GetValue<string>();
        var number = int.Parse(version["version"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        var report = new JsonObject { ["model"] = name, ["version"] = number.ToString(CultureInfo.InvariantCulture) };
        var championMode = context.String("champion") ?? "request";
        if (championMode is not ("request" or "auto" or "off"))
        {
            throw context.Bad("parameters.champion", $"must be request, auto or off, not '{championMode}'");
        }

        if (version["blessed"]?.GetValue<string>() != "true")
        {
            report["promoted"] = "false";
            report["reason"] = "not blessed";
            context.Log($"{name} version {number} is not blessed: not promoted");
            await context.WriteJsonAsync("report", ArtifactKind.Report, report, cancellationToken).ConfigureAwait(false);
            return;
        }

        var registry = context.Services.Registry;
        var reason = context.String("reason") ?? $"pipeline {context.Pipeline.Name} run {context.RunId}";
        var alias = context.String("alias") ?? "challenger";
        var moved = await registry.SetAliasAsync(context.Caller, context.Project, name, alias, number, reason, cancellationToken).ConfigureAwait(false);
        report[alias] = moved.Outcome.ToString().ToLowerInvariant();
        context.Log($"{alias} → {name} version {number} ({moved.Outcome.ToString().ToLowerInvariant()})");
        if (championMode != "off")
        {
            var current = await context.Services.Metadata.Registry.GetAliasAsync(context.Project, name, "champion", cancellationToken).ConfigureAwait(false);
            if (current?.Version == number)
            {
                report["champion"] = "already";
            }
            else if (championMode == "auto")
            {
                var change = await registry.SetAliasAsync(context.Caller, context.Project, name, "champion", number, reason, cancellationToken).ConfigureAwait(false);
                report["champion"] = change.Outcome.ToString().ToLowerInvariant();
                report["promotion_request"] = change.Promotion?.Id;
            }
            else
            {
                var request = await registry.RequestPromotionAsync(context.Caller, context.Project, name, "champion", number, reason, cancellationToken).ConfigureAwait(false);
                report["champion"] = "pending";
                report["promotion_request"] = request.Id;
            }

            context.Log($"champion: {report["champion"]}");
        }

        report["promoted"] = "true";
        await context.WriteJsonAsync("report", ArtifactKind.Report, report, cancellationToken).ConfigureAwait(false);
    }
}
