using Strata.Features.PointInTime;
using Strata.Testing;

namespace Strata.Tests.Features.PointInTime;

/// <summary>The engine against <see cref="NaivePointInTimeJoin"/> on seeded random data full of awkward cases.</summary>
public sealed class PointInTimeJoinPropertyTests
{
    private const long Hour = 3_600_000_000;
    private static readonly long T0 = Timestamp.FromDateTime(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc));
    private static readonly string[] Regions = ["north", "south", "east", "west", "ünïcödé"];

    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        for (var seed = 1; seed <= 200; seed++)
        {
            seeds.Add(seed);
        }

        return seeds;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Join_agrees_with_the_naive_reference_on_small_random_data(int seed)
    {
        var random = new Random(seed);
        var (entities, views) = RandomCase(random, entityRows: random.Next(0, 60), viewRows: () => random.Next(0, 4) == 0 ? 0 : random.Next(1, 120), keys: 5);
        var fullNames = random.Next(2) == 0 || views.Count > 1;

        AssertAgrees(seed, entities, views, fullNames, degree: 1 + random.Next(2));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Join_agrees_with_the_naive_reference_when_few_keys_are_looked_up_often(int seed)
    {
        // Many lookups per key make the engine sort a key's rows and binary-search them instead of scanning.
        var random = new Random(seed);
        var (entities, views) = RandomCase(random, entityRows: random.Next(100, 300), viewRows: () => random.Next(20, 200), keys: 2);

        AssertAgrees(seed, entities, views, fullFeatureNames: true, degree: 1);
    }

    [Theory]
    [InlineData(1001)]
    [InlineData(1002)]
    [InlineData(1003)]
    public void Join_agrees_with_the_naive_reference_on_data_large_enough_to_run_in_parallel(int seed)
    {
        var random = new Random(seed);
        var (entities, views) = RandomCase(random, entityRows: 30_000, viewRows: () => 60_000, keys: 12_000);

        AssertAgrees(seed, entities, views, fullFeatureNames: true, degree: 2);
        AssertAgrees(seed, entities, views, fullFeatureNames: true, degree: 1);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public void Join_never_takes_a_value_from_after_the_entity_timestamp(int seed)
    {
        // Each feature row carries its own event time as a feature, so any leak shows up as a later value.
        var random = new Random(seed);
        var (entities, views) = RandomCase(random, entityRows: 20_000, viewRows: () => 50_000, keys: 300);
        var view = views[0];
        var leaky = view with
        {
            Rows = Table.From(view.Rows.Schema.Names.Select(n => (n, view.Rows[n])).Append(("seen_ts", view.Rows[view.EventTimestamp])).ToArray()),
            Features = ["seen_ts"],
        };

        var result = PointInTimeJoin.Join(entities, "ts", [leaky]);

        var seen = result.GetColumn<long>("seen_ts");
        var ts = entities.GetColumn<long>("ts");
        for (var i = 0; i < result.RowCount; i++)
        {
            if (seen.IsValid(i))
            {
                Assert.True(seen[i] <= ts[i], $"seed {seed}, row {i}: took a row from {seen[i]} for an entity at {ts[i]}");
            }
        }
    }

    private static void AssertAgrees(int seed, Table entities, IReadOnlyList<FeatureViewSource> views, bool fullFeatureNames, int degree)
    {
        var expected = NaivePointInTimeJoin.Join(entities, "ts", views, fullFeatureNames);
        Table actual;
        try
        {
            actual = PointInTimeJoin.Join(entities, "ts", views, new PointInTimeJoinOptions { FullFeatureNames = fullFeatureNames, MaxDegreeOfParallelism = degree });
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"seed {seed}: {e}");
        }

        try
        {
            TableAssert.Equal(expected, actual);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"seed {seed}, {views.Count} view(s), degree {degree}: {e.Message}");
        }
    }

    /// <summary>
    /// Entities keyed by (id int64, region string, shard int32) with a label; views keyed by a random subset of those,
    /// under other names, with timestamps on a coarse grid (so ties and exact TTL boundaries are common), rows in random
    /// order (late arrivals), created-time ties and nulls everywhere.
    /// </summary>
    private static (Table Entities, IReadOnlyList<FeatureViewSource> Views) RandomCase(Random random, int entityRows, Func<int> viewRows, int keys)
    {
        var grid = random.Next(2) == 0 ? Hour : 1;
        var span = Math.Max(4, random.Next(4, 40));
        long? Time(int nullOneIn) => random.Next(nullOneIn) == 0 ? null : T0 + (random.Next(span) * grid);

        var entities = Table.From(
            ("id", Columns.Int64(Enumerable.Range(0, entityRows).Select(_ => random.Next(12) == 0 ? null : (long?)random.Next(keys)).ToArray())),
            ("region", Columns.String(Enumerable.Range(0, entityRows).Select(_ => random.Next(12) == 0 ? null : Regions[random.Next(Regions.Length)]).ToArray())),
            ("shard", Columns.Int32(Enumerable.Range(0, entityRows).Select(_ => random.Next(12) == 0 ? null : (int?)random.Next(3)).ToArray())),
            ("ts", Columns.Timestamp(Enumerable.Range(0, entityRows).Select(_ => Time(15)).ToArray())),
            ("label", Columns.Float64(Enumerable.Range(0, entityRows).Select(i => (double?)i).ToArray())));

        var views = new List<FeatureViewSource>();
        var count = random.Next(1, 4);
        for (var v = 0; v < count; v++)
        {
            var rows = viewRows();
            var keyNames = new[] { "id", "region", "shard" }.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).ToArray();
            if (keys > 100 && !keyNames.Contains("id"))
            {
                // Keeps the reference's candidate lists short on large data.
                keyNames = [.. keyNames, "id"];
            }

            var columns = new List<(string, Column)>();
            foreach (var key in keyNames)
            {
                Column column = key switch
                {
                    "id" => Columns.Int64(Enumerable.Range(0, rows).Select(_ => random.Next(20) == 0 ? null : (long?)random.Next(keys)).ToArray()),
                    // Its own dictionary order, unlike the entity table's.
                    "region" => Columns.String(Enumerable.Range(0, rows).Select(_ => random.Next(20) == 0 ? null : Regions[Regions.Length - 1 - random.Next(Regions.Length)]).ToArray()),
                    _ => Columns.Int32(Enumerable.Range(0, rows).Select(_ => random.Next(20) == 0 ? null : (int?)random.Next(3)).ToArray()),
                };
                columns.Add(($"v{v}_{key}", column));
            }

            columns.Add(("event_ts", Columns.Timestamp(Enumerable.Range(0, rows).Select(_ => Time(25)).ToArray())));
            var created = random.Next(2) == 0;
            if (created)
            {
                columns.Add(("created_ts", Columns.Timestamp(Enumerable.Range(0, rows).Select(_ => random.Next(6) == 0 ? null : (long?)(T0 + random.Next(3))).ToArray())));
            }

            columns.Add(("a", Columns.Float32(Enumerable.Range(0, rows).Select(r => random.Next(10) == 0 ? null : (float?)r).ToArray())));
            columns.Add(("b", Columns.String(Enumerable.Range(0, rows).Select(r => random.Next(10) == 0 ? null : $"row{r}").ToArray())));
            columns.Add(("c", Columns.Int64(Enumerable.Range(0, rows).Select(r => (long?)r).ToArray())));
            var ttl = random.Next(4) switch
            {
                0 => (TimeSpan?)null,
                1 => TimeSpan.Zero,
                2 => TimeSpan.FromTicks(grid * 10 * random.Next(1, 4)),
                _ => TimeSpan.FromTicks(grid * 10 * 5),
            };
            views.Add(new FeatureViewSource($"view{v}", Table.From(columns.ToArray()), keyNames.Select(k => $"v{v}_{k}").ToArray(), "event_ts", ["a", "b", "c"])
            {
                EntityKeys = keyNames,
                CreatedTimestamp = created ? "created_ts" : null,
                Ttl = ttl,
            });
        }

        return (entities, views);
    }
}
