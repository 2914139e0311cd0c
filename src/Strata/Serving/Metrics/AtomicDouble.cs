namespace Strata.Serving.Metrics;

/// <summary>Lock-free arithmetic on a double stored as its bits, because <see cref="Interlocked"/> has no double add.</summary>
internal static class AtomicDouble
{
    public static double Read(ref long bits) => BitConverter.Int64BitsToDouble(Volatile.Read(ref bits));

    public static void Write(ref long bits, double value) => Volatile.Write(ref bits, BitConverter.DoubleToInt64Bits(value));

    public static void Add(ref long bits, double amount)
    {
        // NOTE: a compare-and-swap loop; integers below 2^53 add exactly, so counts of whole events never drift.
        var seen = Volatile.Read(ref bits);
        while (true)
        {
            var next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + amount);
            var found = Interlocked.CompareExchange(ref bits, next, seen);
            if (found == seen)
            {
                return;
            }

            seen = found;
        }
    }

    /// <summary>Raises the value to <paramref name="value"/> unless it is already at least that (counters never go down).</summary>
    public static void Max(ref long bits, double value)
    {
        var seen = Volatile.Read(ref bits);
        while (BitConverter.Int64BitsToDouble(seen) < value)
        {
            var found = Interlocked.CompareExchange(ref bits, BitConverter.DoubleToInt64Bits(value), seen);
            if (found == seen)
            {
                return;
            }

            seen = found;
        }
    }
}
