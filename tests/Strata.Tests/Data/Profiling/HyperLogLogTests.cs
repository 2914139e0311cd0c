using System.Text;
using Strata.Data.Profiling;

namespace Strata.Tests.Data.Profiling;

public sealed class HyperLogLogTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(50)]
    [InlineData(1_000)]
    [InlineData(6_000)]
    [InlineData(12_000)]
    [InlineData(50_000)]
    [InlineData(100_000)]
    public void Estimate_is_within_four_standard_errors_of_the_exact_distinct_count(int distinct)
    {
        Property.ForSeeds(Enumerable.Range(1, 5), seed =>
        {
            var random = new Random(seed);
            var integers = new HyperLogLog();
            var strings = new HyperLogLog();
            var exact = new HashSet<long>();
            var offset = random.NextInt64(1L << 50);
            while (exact.Count < distinct)
            {
                // Repeats on purpose: a distinct count must not depend on multiplicity.
                var value = offset + random.Next(distinct + (distinct / 2) + 1);
                exact.Add(value);
                integers.Add(value);
                strings.Add(Encoding.UTF8.GetBytes("key-" + value));
            }

            var tolerance = Math.Max(1, 4 * integers.StandardError * distinct);
            Assert.InRange(integers.Estimate(), exact.Count - tolerance, exact.Count + tolerance);
            Assert.InRange(strings.Estimate(), exact.Count - tolerance, exact.Count + tolerance);
        });
    }

    [Fact]
    public void Small_cardinalities_are_counted_almost_exactly_by_linear_counting()
    {
        var sketch = new HyperLogLog();
        for (var i = 0; i < 20; i++)
        {
            sketch.Add(i * 1000L);
            Assert.Equal(i + 1, sketch.Estimate(), 0.5);
        }
    }

    [Fact]
    public void Merge_is_the_sketch_of_the_union()
    {
        var a = new HyperLogLog();
        var b = new HyperLogLog();
        var union = new HyperLogLog();
        for (var i = 0L; i < 20_000; i++)
        {
            (i % 3 == 0 ? a : b).Add(i);
            union.Add(i);
        }

        a.Merge(b);

        Assert.True(a.Registers.SequenceEqual(union.Registers));
        Assert.Equal(union.Estimate(), a.Estimate());
    }

    [Fact]
    public void Numbers_hash_by_value_with_negative_zero_as_zero_and_NaN_ignored()
    {
        var sketch = new HyperLogLog();
        sketch.Add(0.0);
        sketch.Add(-0.0);
        sketch.Add(double.NaN);
        sketch.Add(double.PositiveInfinity);

        Assert.Equal(2, sketch.Estimate(), 0.5);
    }

    [Fact]
    public void Standard_error_is_1_04_over_root_m()
    {
        Assert.Equal(0.01625, new HyperLogLog(12).StandardError, 5);
        Assert.Equal(0.008125, new HyperLogLog(14).StandardError, 6);
    }

    [Fact]
    public void Merging_different_precisions_is_an_argument_error()
    {
        var error = Assert.Throws<StrataException>(() => new HyperLogLog(10).Merge(new HyperLogLog(12)));
        Assert.Equal(ErrorCodes.ArgumentInvalid, error.Code);
    }
}
