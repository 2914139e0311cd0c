using Strata.Hashing;

namespace Strata.Tests.Core;

public sealed class FastHashTests
{
    [Fact]
    public void Consecutive_integers_spread_over_the_high_bits()
    {
        // A weak word hash put 1M consecutive integers into ~281K of 1M 20-bit prefixes (expected ~632K).
        const int n = 1 << 20;
        var buckets = new HashSet<ulong>();
        for (ulong i = 0; i < n; i++)
        {
            buckets.Add(FastHash.Hash(i, 12345) >> 44);
        }

        Assert.InRange(buckets.Count, 600_000, 680_000);
    }

    [Fact]
    public void Short_strings_differing_in_one_byte_hash_apart()
    {
        var seen = new HashSet<ulong>();
        for (var i = 0; i < 100_000; i++)
        {
            seen.Add(FastHash.Hash(System.Text.Encoding.ASCII.GetBytes(i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)), 7) >> 40);
        }

        Assert.True(seen.Count > 99_000, $"{seen.Count} distinct 24-bit prefixes of 100,000");
    }
}
