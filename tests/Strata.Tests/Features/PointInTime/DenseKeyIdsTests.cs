using Strata.Features.PointInTime;
using Strata.Testing;

namespace Strata.Tests.Features.PointInTime;

/// <summary>
/// The join numbers a single key spanning a small range by value and hashes every other key; both must give the
/// naive reference's answer, including at the ends of the int64 range.
/// </summary>
public sealed class DenseKeyIdsTests
{
    private static readonly long T0 = Timestamp.FromDateTime(new DateTime(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc));

    [Fact]
    public void A_single_key_spanning_a_small_range_is_numbered_by_value_and_a_wide_one_is_not()
    {
        var dense = Columns.Int64(Enumerable.Range(0, 1000).Select(i => (long?)(-500 + (i % 300))).ToArray());
        var wide = Columns.Int64(Enumerable.Range(0, 1000).Select(i => (long?)(i * 1_000_003L)).ToArray());
        var codes = Columns.String(Enumerable.Range(0, 1000).Select(i => (string?)$"k{i % 7}").ToArray());

        var denseIds = DenseKeyIds.TryBuild(dense, new int[1000], degree: 1);
        var wideIds = DenseKeyIds.TryBuild(wide, new int[1000], degree: 1);
        var stringIds = DenseKeyIds.TryBuild(codes, new int[1000], degree: 1);

        Assert.NotNull(denseIds);
        Assert.Equal(300, denseIds.IdCount);
        Assert.Null(wideIds);
        Assert.NotNull(stringIds);
        Assert.Equal(7, stringIds.IdCount);
    }

    [Fact]
    public void Entity_keys_far_outside_the_views_range_never_match_even_at_the_ends_of_int64()
    {
        var rows = Table.From(
            ("id", Columns.Int64(long.MaxValue - 1, long.MaxValue, null)),
            ("event_ts", Columns.Timestamp(T0, T0, T0)),
            ("f", Columns.Float32(1f, 2f, 3f)));
        var entities = Table.From(
            ("id", Columns.Int64(long.MinValue, long.MinValue + 1, long.MaxValue, long.MaxValue - 2, null, 0)),
            ("ts", Columns.Timestamp(T0, T0, T0, T0, T0, T0)));

        var result = PointInTimeJoin.Join(entities, "ts", [new FeatureViewSource("v", rows, ["id"], "event_ts", ["f"])]);

        Assert.Equal(new object?[] { null, null, 2f, null, null, null }, Enumerable.Range(0, 6).Select(i => result["f"].GetValue(i)).ToArray());
    }

    [Theory]
    [InlineData(0L, 1L)]
    [InlineData(-4_611_686_018_427_387_904L, 1L)]
    [InlineData(long.MaxValue - 100_000L, 1L)]
    [InlineData(long.MinValue, 1L)]
    [InlineData(0L, 1_000_003L)]
    [InlineData(long.MinValue, 90_000_000_000_000L)]
    public void Join_agrees_with_the_naive_reference_wherever_single_int64_keys_lie(long start, long stride)
    {
        foreach (var seed in new[] { 11, 12, 13 })
        {
            var random = new Random(seed);
            var viewRows = random.Next(0, 3_000);
            long? Key(int nullOneIn) => random.Next(nullOneIn) == 0 ? null : unchecked(start + (random.Next(200) * stride));
            long? Time(int nullOneIn) => random.Next(nullOneIn) == 0 ? null : T0 + random.Next(50);
            var entities = Table.From(
                ("id", Columns.Int64(Enumerable.Range(0, 2_000).Select(_ => Key(15)).ToArray())),
                ("ts", Columns.Timestamp(Enumerable.Range(0, 2_000).Select(_ => Time(20)).ToArray())));
            var rows = Table.From(
                ("key", Columns.Int64(Enumerable.Range(0, viewRows).Select(_ => Key(25)).ToArray())),
                ("event_ts", Columns.Timestamp(Enumerable.Range(0, viewRows).Select(_ => Time(25)).ToArray())),
                ("f", Columns.Int64(Enumerable.Range(0, viewRows).Select(r => random.Next(10) == 0 ? null : (long?)r).ToArray())));
            var view = new FeatureViewSource("v", rows, ["key"], "event_ts", ["f"]) { EntityKeys = ["id"], Ttl = TimeSpan.FromMicroseconds(20 * random.Next(0, 2)) };

            var expected = NaivePointInTimeJoin.Join(entities, "ts", [view], fullFeatureNames: false);
            var actual = PointInTimeJoin.Join(entities, "ts", [view], new PointInTimeJoinOptions { MaxDegreeOfParallelism = 2 });

            TableAssert.Equal(expected, actual);
        }
    }
}
