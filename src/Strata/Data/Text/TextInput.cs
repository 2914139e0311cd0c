using System.Collections.Concurrent;

namespace Strata.Data.Text;

/// <summary>One open input of a text format whose preamble (dialect, header) has been read.</summary>
internal abstract class TextInput : IAsyncDisposable
{
    protected TextInput(ReadSource source, TextReadOptions options)
    {
        Source = source;
        Options = options;
    }

    public ReadSource Source { get; }

    public TextReadOptions Options { get; }

    public string Name => Source.Name;

    public abstract long DataStart { get; }

    public abstract long DataLine { get; }

    public abstract BoundaryFinder Boundaries { get; }

    /// <summary>Column names known before the data is read (a CSV header), or null when they are discovered (JSON keys).</summary>
    public abstract IReadOnlyList<string>? FixedNames { get; }

    /// <summary>True when a declared column missing from the input is an error (CSV) rather than a column of nulls (JSON Lines).</summary>
    public abstract bool DeclaredColumnsMustExist { get; }

    /// <summary>Warnings found while reading the preamble.</summary>
    public virtual IEnumerable<string> PreambleWarnings => [];

    public abstract ChunkResult Parse(int index, ReadOnlySpan<byte> data, long fileOffset, long firstLine, PlanSet plans);

    public ValueTask DisposeAsync() => Source.DisposeAsync();
}

/// <summary>The plan for every column of a pass, created on first use (JSON keys appear as chunks are parsed).</summary>
internal sealed class PlanSet
{
    private readonly ConcurrentDictionary<string, ColumnPlan> _plans = new(StringComparer.Ordinal);
    private readonly Schema? _declared;
    private readonly Func<string, (ValueKind Start, bool Skip)> _policy;

    public PlanSet(Schema? declared, Func<string, (ValueKind Start, bool Skip)>? policy = null)
    {
        _declared = declared;
        _policy = policy ?? (_ => (ValueKind.Null, false));
    }

    public ColumnPlan For(string name) => _plans.GetOrAdd(name, n =>
    {
        var field = _declared?.TryIndexOf(n) is >= 0 and var i ? _declared[i] : null;
        var (start, skip) = _policy(n);
        return new ColumnPlan(n, field) { StartKind = start, Skip = skip };
    });
}
