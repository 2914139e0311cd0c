using System.Numerics;
using Strata.Features.Aggregation;

namespace Strata.Tests.Features.Aggregation;

public sealed class ExactSumTests
{
    [Theory]
    [InlineData(new[] { 1e100, 1.0, -1e100 }, 1.0)]
    [InlineData(new[] { 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 }, 1.0)]
    [InlineData(new[] { 1.0, 1e-16, 1e-16 }, 1.0000000000000002)]
    [InlineData(new[] { double.MaxValue, double.MaxValue, -double.MaxValue }, double.MaxValue)]
    [InlineData(new[] { double.MaxValue, double.MaxValue }, double.PositiveInfinity)]
    [InlineData(new[] { 5e-324, 5e-324, -1e-323 }, 0.0)]
    [InlineData(new[] { -0.0 }, 0.0)]
    [InlineData(new[] { 1.0, double.PositiveInfinity }, double.PositiveInfinity)]
    [InlineData(new[] { double.NegativeInfinity, double.PositiveInfinity }, double.NaN)]
    [InlineData(new[] { 1.0, double.NaN }, double.NaN)]
    public void Sum_is_the_exact_sum_rounded_once(double[] values, double expected)
    {
        var sum = default(ExactSum);
        foreach (var v in values)
        {
            sum.Add(v);
        }

        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(sum.ToDouble()));
    }

    [Fact]
    public void Random_sums_are_correctly_rounded_and_independent_of_order_and_removals()
    {
        for (var seed = 0; seed < 300; seed++)
        {
            var random = new Random(seed);
            var values = Enumerable.Range(0, random.Next(1, 40)).Select(_ => RandomDouble(random)).ToArray();
            var sum = default(ExactSum);
            foreach (var v in values)
            {
                sum.Add(v);
            }

            var result = sum.ToDouble();
            var exact = values.Aggregate(BigInteger.Zero, (acc, v) => acc + Scaled(v));
            if (double.IsFinite(result))
            {
                var error = BigInteger.Abs(exact - Scaled(result));
                Assert.True(error <= BigInteger.Abs(exact - Scaled(Math.BitIncrement(result))), $"seed {seed}");
                Assert.True(error <= BigInteger.Abs(exact - Scaled(Math.BitDecrement(result))), $"seed {seed}");
            }

            // Another order, with noise added and removed, gives the same bits.
            var other = default(ExactSum);
            var noise = Enumerable.Range(0, 10).Select(_ => RandomDouble(random)).ToArray();
            foreach (var n in noise)
            {
                other.Add(n);
            }

            foreach (var v in values.OrderBy(_ => random.Next()))
            {
                other.Add(v);
            }

            foreach (var n in noise)
            {
                other.Remove(n);
            }

            Assert.Equal(BitConverter.DoubleToInt64Bits(result), BitConverter.DoubleToInt64Bits(other.ToDouble()));
        }
    }

    private static double RandomDouble(Random random) => random.Next(4) switch
    {
        0 => (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-30, 30)),
        1 => BitConverter.Int64BitsToDouble(random.NextInt64(0, 0x7FEFFFFFFFFFFFFF)) * (random.Next(2) == 0 ? 1 : -1),
        2 => random.Next(-1000, 1000) / 8.0,
        _ => BitConverter.Int64BitsToDouble(random.NextInt64(0, 1L << 53)) * (random.Next(2) == 0 ? 1 : -1),
    };

    /// <summary>A finite double as an integer multiple of 2^-1074.</summary>
    private static BigInteger Scaled(double value)
    {
        var bits = BitConverter.DoubleToInt64Bits(value);
        var exponent = (int)((bits >> 52) & 0x7FF);
        var mantissa = bits & ((1L << 52) - 1);
        var m = exponent == 0 ? mantissa : mantissa | (1L << 52);
        var scaled = new BigInteger(m) << Math.Max(exponent - 1, 0);
        return bits < 0 ? -scaled : scaled;
    }
}
