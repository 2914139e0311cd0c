using System.Diagnostics;
using System.Globalization;

namespace Strata.Learning.Tuning;

/// <summary>How a tuning proposes configurations.</summary>
public enum TuningAlgorithm
{
    /// <summary>Independent random draws.</summary>
    Random,
    /// <summary>Asynchronous successive halving (ASHA): many configurations on a small resource, the best promoted to larger ones.</summary>
    Asha,
    /// <summary>A tree-structured Parzen estimator: draws where good trials were dense and poor ones sparse.</summary>
    Tpe,
}

/// <summary>The budget and knobs of a tuning.</summary>
public sealed record TuningOptions
{
    /// <summary>The algorithm.</summary>
    public TuningAlgorithm Algorithm { get; init; } = TuningAlgorithm.Tpe;

    /// <summary>How many configurations to try.</summary>
    public int Trials { get; init; } = 20;

    /// <summary>Stop starting trials after this long (null: no limit). With a time budget the result depends on the machine's speed.</summary>
    public TimeSpan? TimeBudget { get; init; }

    /// <summary>The seed: the same seed, space and trial budget give the same trials and the same best configuration.</summary>
    public ulong Seed { get; init; }

    /// <summary>Trials at once.</summary>
    public int Parallelism { get; init; } = 2;

    /// <summary>True when a higher score is better.</summary>
    public bool Maximize { get; init; } = true;

    /// <summary>The smallest resource (boosting rounds) a trial gets (ASHA's first rung).</summary>
    public int MinResource { get; init; } = 10;

    /// <summary>The largest resource: every trial of random search and TPE gets it; ASHA's top rung.</summary>
    public int MaxResource { get; init; } = 100;

    /// <summary>ASHA's reduction factor: the best 1/eta of a rung is promoted to eta times the resource.</summary>
    public int Eta { get; init; } = 3;

    /// <summary>TPE's random trials before it models the results.</summary>
    public int StartupTrials { get; init; } = 8;

    /// <summary>Checks the options.</summary>
    public void Validate()
    {
        if (Trials is < 1 or > 100_000 || Parallelism is < 1 or > 256 || MinResource < 1 || MaxResource < MinResource || Eta < 2 || StartupTrials < 1)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid,
                $"tuning: trials 1..100000 ({Trials}), parallelism 1..256 ({Parallelism}), 1 <= min_resource ({MinResource}) <= max_resource ({MaxResource}), eta >= 2 ({Eta})");
        }
    }
}

/// <summary>One evaluation: a configuration (by number), the resource it got and its settings.</summary>
public sealed record TrialRequest(int Number, int Resource, IReadOnlyDictionary<string, string> Settings);

/// <summary>One evaluated trial: the request, its score, and whether successive halving stopped it before the top resource.</summary>
public sealed record TrialResult(int Number, int Resource, IReadOnlyDictionary<string, string> Settings, double Score, bool StoppedEarly);

/// <summary>What a tuning found: the best configuration (its settings include the resource), its score, and every trial.</summary>
public sealed record TuningResult(IReadOnlyDictionary<string, string> BestSettings, double BestScore, int BestTrial, IReadOnlyList<TrialResult> Trials);

/// <summary>
/// Searches learner options: random search, asynchronous successive halving and a TPE-style sampler over a
/// <see cref="SearchSpace"/>, within a trial and a time budget. Repeatable: draws come from the seed, and ASHA's
/// asynchronous schedule is decided in virtual time (a trial's duration is its resource), so which trial is promoted
/// never depends on which thread finished first — while trials still run in parallel.
/// </summary>
public static class Tuner
{
    /// <summary>The setting the resource is passed in (GBDT's rounds).</summary>
    public const string ResourceSetting = "num_boost_round";

    /// <summary>Runs a tuning. <paramref name="objective"/> scores a request; <paramref name="onTrial"/> sees each result as it is decided.</summary>
    public static async Task<TuningResult> RunAsync(
        SearchSpace space,
        TuningOptions options,
        Func<TrialRequest, CancellationToken, Task<double>> objective,
        Func<TrialResult, CancellationToken, Task>? onTrial = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(objective);
        options.Validate();
        var watch = Stopwatch.StartNew();
        bool OutOfTime() => options.TimeBudget is { } budget && watch.Elapsed >= budget;
        onTrial ??= (_, _) => Task.CompletedTask;
        var results = options.Algorithm == TuningAlgorithm.Asha
            ? await AshaAsync(space, options, objective, onTrial, OutOfTime, cancellationToken).ConfigureAwait(false)
            : await SequentialBatchesAsync(space, options, objective, onTrial, OutOfTime, cancellationToken).ConfigureAwait(false);
        if (results.Count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "tuning: the time budget ended before any trial finished");
        }

        // The best at the largest resource any trial reached (ASHA compares like with like); ties go to the earlier trial.
        var top = results.Max(r => r.Resource);
        var best = results.Where(r => r.Resource == top && double.IsFinite(r.Score))
            .OrderBy(r => options.Maximize ? -r.Score : r.Score).ThenBy(r => r.Number).FirstOrDefault()
            ?? results.OrderBy(r => r.Number).First();
        var settings = new Dictionary<string, string>(best.Settings, StringComparer.Ordinal) { [ResourceSetting] = best.Resource.ToString(CultureInfo.InvariantCulture) };
        return new TuningResult(settings, best.Score, best.Number, results.OrderBy(r => r.Number).ThenBy(r => r.Resource).ToList());
    }

    // Random search and TPE: batches of `parallelism` trials, each batch proposed from the results of the ones before.
    private static async Task<List<TrialResult>> SequentialBatchesAsync(
        SearchSpace space, TuningOptions options, Func<TrialRequest, CancellationToken, Task<double>> objective, Func<TrialResult, CancellationToken, Task> onTrial,
        Func<bool> outOfTime, CancellationToken cancellationToken)
    {
        var results = new List<TrialResult>();
        var points = new List<(double[] Point, double Score)>();
        var number = 0;
        while (number < options.Trials && !outOfTime())
        {
            var batch = new List<(int Number, double[] Point)>();
            for (var i = 0; i < options.Parallelism && number < options.Trials; i++, number++)
            {
                var random = new Random(TrialSeed(options.Seed, number));
                var point = options.Algorithm == TuningAlgorithm.Tpe && points.Count >= options.StartupTrials
                    ? Tpe.Propose(space, points, options.Maximize, random)
                    : RandomPoint(space, random);
                batch.Add((number, point));
            }

            var scores = await Task.WhenAll(batch.Select(b => objective(new TrialRequest(b.Number, options.MaxResource, space.At(b.Point)), cancellationToken))).ConfigureAwait(false);
            for (var i = 0; i < batch.Count; i++)
            {
                var result = new TrialResult(batch[i].Number, options.MaxResource, space.At(batch[i].Point), scores[i], false);
                results.Add(result);
                points.Add((batch[i].Point, scores[i]));
                await onTrial(result, cancellationToken).ConfigureAwait(false);
            }
        }

        return results;
    }

    private static async Task<List<TrialResult>> AshaAsync(
        SearchSpace space, TuningOptions options, Func<TrialRequest, CancellationToken, Task<double>> objective, Func<TrialResult, CancellationToken, Task> onTrial,
        Func<bool> outOfTime, CancellationToken cancellationToken)
    {
        var rungs = new List<int>();
        for (long r = options.MinResource; r <= options.MaxResource; r *= options.Eta)
        {
            rungs.Add((int)r);
        }

        var configs = new List<Dictionary<string, string>>();
        var completed = rungs.Select(_ => new List<(int Config, double Score)>()).ToList();
        var promoted = rungs.Select(_ => new HashSet<int>()).ToList();
        var running = new List<(double Finish, long Seq, int Config, int Rung, Task<double> Score)>();
        var results = new List<TrialResult>();
        double now = 0;
        long seq = 0;
        while (true)
        {
            // Fill free workers with ASHA's next job, decided from what has finished by virtual time `now`.
            while (running.Count < options.Parallelism && !outOfTime() && NextJob() is { } job)
            {
                var resource = rungs[job.Rung];
                var settings = new Dictionary<string, string>(configs[job.Config], StringComparer.Ordinal);
                running.Add((now + resource, seq++, job.Config, job.Rung, objective(new TrialRequest(job.Config, resource, settings), cancellationToken)));
            }

            if (running.Count == 0)
            {
                break;
            }

            var next = running.OrderBy(r => r.Finish).ThenBy(r => r.Seq).First();
            running.Remove(next);
            var score = await next.Score.ConfigureAwait(false);
            now = next.Finish;
            completed[next.Rung].Add((next.Config, double.IsFinite(score) ? score : options.Maximize ? double.NegativeInfinity : double.PositiveInfinity));
            var result = new TrialResult(next.Config, rungs[next.Rung], configs[next.Config], score, next.Rung < rungs.Count - 1);
            results.Add(result);
            await onTrial(result, cancellationToken).ConfigureAwait(false);
        }

        // A trial promoted later is no longer stopped at its lower rung: only its highest rung counts as where it stopped.
        var highest = results.GroupBy(r => r.Number).ToDictionary(g => g.Key, g => g.Max(r => r.Resource));
        return results.Select(r => r with { StoppedEarly = r.Resource == highest[r.Number] && r.Resource < rungs[^1] }).ToList();

        (int Config, int Rung)? NextJob()
        {
            for (var k = rungs.Count - 2; k >= 0; k--)
            {
                var ranked = completed[k].OrderBy(c => options.Maximize ? -c.Score : c.Score).ThenBy(c => c.Config).ToList();
                foreach (var (config, _) in ranked.Take(ranked.Count / options.Eta))
                {
                    if (promoted[k].Add(config))
                    {
                        return (config, k + 1);
                    }
                }
            }

            if (configs.Count >= options.Trials)
            {
                return null;
            }

            configs.Add(space.At(RandomPoint(space, new Random(TrialSeed(options.Seed, configs.Count)))));
            return (configs.Count - 1, 0);
        }
    }

    internal static double[] RandomPoint(SearchSpace space, Random random) => space.Dimensions.Select(_ => random.NextDouble()).ToArray();

    // One generator per trial, so a trial's draw does not depend on how many draws came before it.
    private static int TrialSeed(ulong seed, int trial) => unchecked((int)((seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)trial * 0xBF58476D1CE4E5B9UL) ^ (seed >> 31)));
}

/// <summary>
/// A TPE-style proposal: split the trials into good (the best quarter) and the rest, model each with Parzen windows
/// (Gaussian kernels per dimension in the unit interval, frequencies for categories), draw candidates from the good
/// model and keep the one with the largest ratio good/poor density.
/// </summary>
internal static class Tpe
{
    private const int Candidates = 24;
    private const double Gamma = 0.25;

    public static double[] Propose(SearchSpace space, List<(double[] Point, double Score)> history, bool maximize, Random random)
    {
        var ranked = history.Where(h => double.IsFinite(h.Score)).OrderBy(h => maximize ? -h.Score : h.Score).Select(h => h.Point).ToList();
        if (ranked.Count < 2)
        {
            return Tuner.RandomPoint(space, random);
        }

        var goodCount = Math.Max(1, (int)Math.Ceiling(Gamma * ranked.Count));
        var good = ranked.Take(goodCount).ToList();
        var bad = ranked.Skip(goodCount).ToList();
        // Narrower windows as evidence grows (Scott's rule in spirit), never so narrow that the search collapses.
        var bandwidth = Math.Clamp(0.15 * Math.Pow(goodCount, -1.0 / (4 + space.Dimensions.Count)), 0.02, 0.15);
        double[]? best = null;
        var bestRatio = double.NegativeInfinity;
        for (var c = 0; c < Candidates; c++)
        {
            var center = good[random.Next(good.Count)];
            var candidate = new double[space.Dimensions.Count];
            for (var d = 0; d < candidate.Length; d++)
            {
                candidate[d] = space.Dimensions[d].Kind == DimensionKind.Categorical
                    ? (random.NextDouble() < 0.8 ? center[d] : random.NextDouble())
                    : Math.Clamp(center[d] + (bandwidth * Gaussian(random)), 0, 1 - 1e-9);
            }

            var ratio = LogDensity(space, good, candidate, bandwidth) - LogDensity(space, bad, candidate, bandwidth);
            if (ratio > bestRatio)
            {
                bestRatio = ratio;
                best = candidate;
            }
        }

        return best!;
    }

    private static double LogDensity(SearchSpace space, List<double[]> points, double[] x, double bandwidth)
    {
        var total = 0.0;
        for (var d = 0; d < x.Length; d++)
        {
            var density = 0.5; // a weak uniform prior keeps every region possible
            foreach (var p in points)
            {
                if (space.Dimensions[d].Kind == DimensionKind.Categorical)
                {
                    var k = space.Dimensions[d].Choices.Count;
                    density += (int)(p[d] * k) == (int)(x[d] * k) ? k : 0;
                }
                else
                {
                    var z = (x[d] - p[d]) / bandwidth;
                    density += Math.Exp(-0.5 * z * z) / (bandwidth * Math.Sqrt(2 * Math.PI));
                }
            }

            total += Math.Log(density / (points.Count + 1));
        }

        return total;
    }

    private static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
