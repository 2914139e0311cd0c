using Strata.Data.Profiling;

namespace Strata.Tests.Data.Profiling;

public sealed class FrequentItemsTests
{
    [Fact]
    public void Summary_is_exact_while_the_distinct_values_fit()
    {
        var random = new Random(1);
        var summary = new FrequentItems(capacity: 100);
        var exact = new Dictionary<string, long>();
        for (var i = 0; i < 50_000; i++)
        {
            var value = "v" + random.Next(200);
            summary.Add(value);
            exact[value] = exact.GetValueOrDefault(value) + 1;
        }

        Assert.True(summary.IsExact);
        Assert.Equal(0, summary.MaximumError);
        Assert.Equal(exact.Count, summary.TrackedCount);
        foreach (var (value, count) in exact)
        {
            Assert.Equal(count, summary.LowerBound(value));
        }
    }

    [Fact]
    public void Counts_are_within_n_over_capacity_plus_one_of_the_truth()
    {
        Property.ForSeeds(Enumerable.Range(1, 4), seed =>
        {
            var random = new Random(seed);
            var summary = new FrequentItems(capacity: 64);
            var exact = new Dictionary<string, long>();
            for (var i = 0; i < 100_000; i++)
            {
                var value = Zipf(random, 20_000);
                var weight = 1 + random.Next(3);
                summary.Add(value, weight);
                exact[value] = exact.GetValueOrDefault(value) + weight;
            }

            AssertWithinBounds(summary, exact);
        });
    }

    [Fact]
    public void Merged_summaries_keep_the_error_bound_of_the_union()
    {
        Property.ForSeeds(Enumerable.Range(10, 4), seed =>
        {
            var random = new Random(seed);
            var merged = new FrequentItems(capacity: 50);
            var exact = new Dictionary<string, long>();
            for (var part = 0; part < 12; part++)
            {
                var summary = new FrequentItems(capacity: 50);
                for (var i = 0; i < 5_000 + random.Next(5_000); i++)
                {
                    // Each part has its own favourites, so merges must purge.
                    var value = random.Next(4) == 0 ? $"p{part}-{random.Next(30)}" : Zipf(random, 5_000);
                    summary.Add(value);
                    exact[value] = exact.GetValueOrDefault(value) + 1;
                }

                merged.Merge(summary);
            }

            Assert.False(merged.IsExact);
            AssertWithinBounds(merged, exact);
        });
    }

    [Fact]
    public void Exact_counts_of_many_values_keep_at_most_twice_the_capacity()
    {
        var random = new Random(3);
        var counts = new int[100_000];
        var exact = new Dictionary<string, long>();
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = random.Next(10) == 0 ? random.Next(1, 1_000) : random.Next(0, 3);
            if (counts[i] > 0)
            {
                exact["v" + i] = counts[i];
            }
        }

        var summary = new FrequentItems(capacity: 256);
        var made = 0;
        summary.AddExactCounts(counts, i =>
        {
            made++;
            return "v" + i;
        });

        Assert.True(made <= 2 * 256, $"{made} values were materialized");
        AssertWithinBounds(summary, exact);
    }

    [Fact]
    public void Top_orders_by_count_then_by_value()
    {
        var summary = new FrequentItems();
        summary.Add("b", 2);
        summary.Add("a", 2);
        summary.Add("c", 5);
        summary.Add("d", 1);

        Assert.Equal(["c", "a", "b"], summary.Top(3).Select(i => i.Value));
        Assert.Equal(new FrequentItem("c", 5, 5), summary.Top(1)[0]);
    }

    [Fact]
    public void Purged_state_depends_only_on_the_operations_not_on_table_order()
    {
        var random = new Random(9);
        var values = Enumerable.Range(0, 30_000).Select(_ => Zipf(random, 3_000)).ToArray();
        var a = new FrequentItems(capacity: 32);
        var b = new FrequentItems(capacity: 32);
        foreach (var v in values)
        {
            a.Add(v);
        }

        foreach (var group in values.Chunk(1000))
        {
            var part = new FrequentItems(capacity: 32);
            foreach (var v in group)
            {
                part.Add(v);
            }

            b.Merge(part);
        }

        // Different operation sequences may keep different counters, but each is a valid summary.
        Assert.Equal(a.Top(), a.Clone().Top());
        Assert.Equal(values.Length, b.TotalWeight);
    }

    private static void AssertWithinBounds(FrequentItems summary, Dictionary<string, long> exact)
    {
        var n = exact.Values.Sum();
        Assert.Equal(n, summary.TotalWeight);
        Assert.True(summary.MaximumError <= n / (summary.Capacity + 1), $"error {summary.MaximumError} exceeds n/(capacity+1) = {n / (summary.Capacity + 1)}");
        Assert.True(summary.TrackedCount <= 2 * summary.Capacity);
        foreach (var (value, count) in exact)
        {
            Assert.InRange(count, summary.LowerBound(value), summary.UpperBound(value));
            if (count > summary.MaximumError)
            {
                Assert.True(summary.LowerBound(value) > 0, $"'{value}' occurs {count} times, more than the error, but is not kept");
            }
        }
    }

    private static string Zipf(Random random, int values) => "z" + (int)(values * Math.Pow(random.NextDouble(), 3));
}
