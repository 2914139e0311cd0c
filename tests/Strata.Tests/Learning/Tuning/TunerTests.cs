using System.Collections.Concurrent;
using System.Globalization;
using Strata.Learning.Tuning;

namespace Strata.Tests.Learning.Tuning;

public sealed class TunerTests
{
    private static readonly SearchSpace Space = SearchSpace.Parse(new Dictionary<string, string>
    {
        ["x"] = "uniform -2 2",
        ["rate"] = "log-uniform 0.001 1",
        ["depth"] = "int 1 8",
        ["kind"] = "choice good bad",
    });

    // A noiseless objective with its best at x = 0.5, rate = 0.1, depth = 5, kind = good; more resource, better score.
    private static Task<double> Objective(TrialRequest request, CancellationToken _)
    {
        var x = double.Parse(request.Settings["x"], CultureInfo.InvariantCulture);
        var rate = double.Parse(request.Settings["rate"], CultureInfo.InvariantCulture);
        var depth = int.Parse(request.Settings["depth"], CultureInfo.InvariantCulture);
        var score = -Math.Pow(x - 0.5, 2) - Math.Pow(Math.Log10(rate) + 1, 2) - (0.1 * Math.Abs(depth - 5)) - (request.Settings["kind"] == "bad" ? 1 : 0)
            - (1.0 / request.Resource);
        return Task.FromResult(score);
    }

    [Theory]
    [InlineData(TuningAlgorithm.Random)]
    [InlineData(TuningAlgorithm.Asha)]
    [InlineData(TuningAlgorithm.Tpe)]
    public async Task The_same_seed_gives_the_same_trials_and_best_configuration_whatever_the_parallelism(TuningAlgorithm algorithm)
    {
        var options = new TuningOptions { Algorithm = algorithm, Trials = 24, Seed = 42, MinResource = 1, MaxResource = 27, Parallelism = 4 };

        var a = await Tuner.RunAsync(Space, options, Objective);
        var b = await Tuner.RunAsync(Space, options, SlowerForEvenTrials);
        var other = await Tuner.RunAsync(Space, options with { Seed = 43 }, Objective);

        Assert.Equal(Describe(a), Describe(b));
        Assert.NotEqual(Describe(a), Describe(other));
        Assert.Equal(24, a.Trials.Select(t => t.Number).Distinct().Count());
        Assert.Equal(a.Trials.Where(t => t.Resource == a.Trials.Max(r => r.Resource)).Max(t => t.Score), a.BestScore);
    }

    [Fact]
    public async Task Asha_stops_poor_trials_early_and_gives_the_full_resource_only_to_the_best()
    {
        var options = new TuningOptions { Algorithm = TuningAlgorithm.Asha, Trials = 27, Seed = 1, MinResource = 1, MaxResource = 27, Eta = 3, Parallelism = 3 };

        var result = await Tuner.RunAsync(Space, options, Objective);

        var highest = result.Trials.GroupBy(t => t.Number).Select(g => g.Max(t => t.Resource)).ToList();
        Assert.Equal(27, highest.Count);
        Assert.True(highest.Count(r => r == 1) >= 15, "most trials stop at the first rung");
        Assert.InRange(highest.Count(r => r == 27), 1, 3);
        Assert.Equal("27", result.BestSettings[Tuner.ResourceSetting]);
        Assert.All(result.Trials.Where(t => t.StoppedEarly), t => Assert.True(t.Resource < 27));
    }

    [Fact]
    public async Task Tpe_finds_a_better_configuration_than_random_search_on_the_same_budget()
    {
        var wins = 0;
        for (ulong seed = 0; seed < 5; seed++)
        {
            var random = await Tuner.RunAsync(Space, new TuningOptions { Algorithm = TuningAlgorithm.Random, Trials = 40, Seed = seed, MaxResource = 10 }, Objective);
            var tpe = await Tuner.RunAsync(Space, new TuningOptions { Algorithm = TuningAlgorithm.Tpe, Trials = 40, Seed = seed, MaxResource = 10 }, Objective);
            wins += tpe.BestScore > random.BestScore ? 1 : 0;
        }

        Assert.True(wins >= 3, $"TPE beat random search on {wins} of 5 seeds");
    }

    [Fact]
    public async Task The_trial_budget_and_the_time_budget_stop_the_search()
    {
        var seen = new ConcurrentBag<int>();
        var limited = await Tuner.RunAsync(Space, new TuningOptions { Algorithm = TuningAlgorithm.Random, Trials = 7, Seed = 3 }, Objective, (t, _) =>
        {
            seen.Add(t.Number);
            return Task.CompletedTask;
        });
        var timed = await Tuner.RunAsync(Space, new TuningOptions { Algorithm = TuningAlgorithm.Random, Trials = 10_000, Seed = 3, TimeBudget = TimeSpan.FromMilliseconds(300) },
            async (r, ct) =>
            {
                await Task.Delay(20, ct);
                return await Objective(r, ct);
            });

        Assert.Equal(7, limited.Trials.Count);
        Assert.Equal(Enumerable.Range(0, 7), seen.Order());
        Assert.InRange(timed.Trials.Count, 1, 9_999);
    }

    [Theory]
    [InlineData("uniform 2 1")]
    [InlineData("log-uniform 0 1")]
    [InlineData("int one 8")]
    [InlineData("choice")]
    [InlineData("normal 0 1")]
    public void A_malformed_dimension_is_refused_naming_it(string text)
    {
        var e = Assert.Throws<StrataException>(() => Dimension.Parse("depth", text));
        Assert.StartsWith($"search space 'depth': '{text}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dimensions_map_the_unit_interval_onto_their_values()
    {
        Assert.Equal("1", Dimension.Parse("d", "int 1 8").ValueAt(0));
        Assert.Equal("8", Dimension.Parse("d", "int 1 8").ValueAt(0.9999));
        Assert.Equal(0.01, double.Parse(Dimension.Parse("r", "log-uniform 0.01 1").ValueAt(0), CultureInfo.InvariantCulture), 12);
        Assert.Equal(0.1, double.Parse(Dimension.Parse("r", "log-uniform 0.01 1").ValueAt(0.5), CultureInfo.InvariantCulture), 9);
        Assert.Equal("b", Dimension.Parse("c", "choice a b").ValueAt(0.5));
    }

    private static async Task<double> SlowerForEvenTrials(TrialRequest request, CancellationToken ct)
    {
        // Finishing order in real time differs from the first run's; the result must not.
        await Task.Delay(request.Number % 2 == 0 ? 15 : 1, ct);
        return await Objective(request, ct);
    }

    private static string Describe(TuningResult r) =>
        string.Join(";", r.Trials.Select(t => $"{t.Number}@{t.Resource}:{t.Score:R}")) + "|" + string.Join(",", r.BestSettings.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}"));
}
