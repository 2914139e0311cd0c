using System.Numerics;
using System.Runtime.InteropServices;

namespace Strata.Data.Profiling;

/// <summary>Exact true and false counts of a bool column, or for PII only which of the two values occurred.</summary>
internal sealed class BoolState(bool pii) : ColumnState
{
    private bool _holdsValues = !pii;

    public long TrueCount { get; private set; }

    public long FalseCount { get; private set; }

    /// <summary>Bit 0: false occurred, bit 1: true occurred; what a distinct count needs to merge exactly.</summary>
    public int SeenMask { get; private set; }

    public override bool HoldsValues => _holdsValues;

    public int DistinctCount => BitOperations.PopCount((uint)SeenMask);

    public override void Add(Column column)
    {
        var bools = (Column<bool>)column;
        CountRows(column);

        // NOTE: null slots hold false, so counting the non-zero bytes counts exactly the true rows.
        var bytes = MemoryMarshal.AsBytes(bools.Values);
        long trues = bytes.Length - bytes.Count((byte)0);
        long falses = bools.Length - bools.NullCount - trues;
        SeenMask |= (falses > 0 ? 1 : 0) | (trues > 0 ? 2 : 0);
        if (_holdsValues)
        {
            TrueCount += trues;
            FalseCount += falses;
        }
    }

    public override void Merge(ColumnState other, string column)
    {
        var o = (BoolState)other;
        MergeCounts(o);
        SeenMask |= o.SeenMask;
        TrueCount += o.TrueCount;
        FalseCount += o.FalseCount;
    }

    public override BoolState Clone() => (BoolState)MemberwiseClone();

    public override void DropValues()
    {
        _holdsValues = false;
        TrueCount = 0;
        FalseCount = 0;
    }

    internal void Load(long trueCount, long falseCount, int seenMask)
    {
        TrueCount = trueCount;
        FalseCount = falseCount;
        SeenMask = seenMask;
    }
}
