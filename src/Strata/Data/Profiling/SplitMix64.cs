namespace Strata.Data.Profiling;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood): a tiny PRNG whose whole state is one <see cref="ulong"/>, so a sketch can save its
/// coin and a reloaded sketch flips the same coins as the original would have.
/// </summary>
internal static class SplitMix64
{
    /// <summary>Advances <paramref name="state"/> and returns the next 64 random bits.</summary>
    public static ulong Next(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Mixes values into one well-spread seed (for per-slice sketch seeds).</summary>
    public static ulong Mix(ulong a, ulong b)
    {
        var state = a ^ (b * 0xD6E8FEB86659FD93UL);
        return Next(ref state);
    }
}
