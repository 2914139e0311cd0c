using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Strata.Features.Aggregation;
using Strata.Features.Definitions;
using Strata.Features.OnlineStore;

namespace Strata.Features.Streaming;

/// <summary>
/// Windowed aggregates for serving, with the online store as their only state: per entity the store keeps the events of
/// its widest window (one string column, <see cref="WindowColumn"/>), a push merges new events into the stored windows of
/// the entities it touches, and an online read computes each aggregate over the window ending at the read time, so values
/// decay as events age out. A read equals, bit for bit, what <see cref="WindowedAggregation.AsOf"/> computes from the same
/// events as of the read time.
/// </summary>
/// <remarks>
/// <para>
/// Keeping the windows in the online store, not in this process's memory, makes them exactly as durable as the store and
/// shared by every process reading it: a restart, a new definitions version and the other replicas of a PostgreSQL
/// deployment see the same windows, whether the events were pushed online only or also offline.
/// </para>
/// <para>
/// An entity keeps its events newer than min(newest event, push time) − widest window: an older event can change no read
/// made at or after the push, so a read at any later instant finds every event its windows need. Window and function
/// semantics are those of <see cref="WindowedAggregation"/>; ties in event time go to the greater created time (none being
/// the oldest), then to the later push.
/// </para>
/// <para>
/// Reads are the hot path, so a merge also stores, per (sum, min or max; input; window), the aggregate of every suffix of
/// the events that can still be in that window: a read at or after the newest event (the usual case) finds each window's
/// first event by binary search and its value in that table, decoding only the bytes it touches; it scans the events only
/// when read before the newest event. The aggregator holds no state; callers serialize merges into the same entities.
/// </para>
/// </remarks>
public sealed class StreamingAggregator
{
    // Encoding, version 1, base64 of: a header (version, events, inputs, tables), per input its section's offset, per
    // table its offset and first event, the event times, the created times (when the events have them), per input a
    // validity bitmap and a value per event (8 bytes; for strings an offset to a length-prefixed UTF-8 value), and per
    // table one entry (value bits, number of non-null inputs) per suffix from its first event to the empty one.
    private const byte FormatVersion = 1;
    private const int HeaderBytes = 13;
    private const int EntryBytes = 12;
    private const int CachedWindows = 16;

    // Base64's six-bit values by character, -1 outside the alphabet; '=' padding reads as 0, since the bytes it stands for
    // lie beyond the decoded length.
    private static readonly int[] Sextets = BuildSextets();

    private readonly FeatureViewLayout _eventsLayout;
    private readonly ResolvedAggregation[] _plan;
    private readonly string[] _inputs;
    private readonly DataType[] _inputTypes;
    private readonly int[] _inputOf;
    private readonly SuffixTable[] _tables;
    private readonly int[] _tableOf;
    private readonly long _horizon;
    private readonly bool _hasCreated;
    private readonly string[] _windowColumns;

    /// <summary>Creates an aggregator for events of <paramref name="eventsLayout"/> (the view's offline layout).</summary>
    /// <exception cref="StrataException">An aggregation is invalid or names a missing or unsuitable column.</exception>
    public StreamingAggregator(FeatureViewLayout eventsLayout, IReadOnlyList<AggregationDefinition> aggregations)
    {
        _plan = AggregationPlan.Resolve(eventsLayout, aggregations);
        _eventsLayout = eventsLayout;

        // Inputs and tables in a canonical order, so the encoding does not depend on how the aggregations are declared.
        _inputs = _plan.Where(p => p.Input is not null).Select(p => p.Input!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        _inputTypes = _inputs.Select(i => eventsLayout.Features[eventsLayout.FeatureIndex(i)].Type).ToArray();
        _inputOf = _plan.Select(p => p.Input is null ? -1 : Array.IndexOf(_inputs, p.Input)).ToArray();
        _tables = _plan.Select((p, a) => TableOf(p, _inputOf[a])).OfType<SuffixTable>().Distinct().OrderBy(t => t.Kind).ThenBy(t => t.Input).ThenBy(t => t.Window).ToArray();
        _tableOf = _plan.Select((p, a) => TableOf(p, _inputOf[a]) is { } table ? Array.IndexOf(_tables, table) : -1).ToArray();
        _horizon = _plan.Length == 0 ? 1 : _plan.Max(p => p.WindowMicros);
        _hasCreated = eventsLayout.CreatedTimestampColumn is not null;

        // The column's name carries everything the encoding depends on, so a definitions change that alters it is a new
        // layout, whose old rows every online store drops instead of misreading them.
        var signature = string.Join(
            ';',
            [
                FormatVersion.ToString(CultureInfo.InvariantCulture),
                _horizon.ToString(CultureInfo.InvariantCulture),
                _hasCreated ? "created" : "",
                .. _inputs.Zip(_inputTypes, (n, t) => $"{n}:{t.Name()}"),
                .. _tables.Select(t => FormattableString.Invariant($"{t.Kind}:{t.Input}:{t.Window}")),
            ]);
        WindowColumn = FormattableString.Invariant($"strata:window:{Crc32C.Compute(Encoding.UTF8.GetBytes(signature)):x8}");
        _windowColumns = [WindowColumn];
        OnlineLayout = new FeatureViewLayout(
            eventsLayout.Name, eventsLayout.JoinKeys, eventsLayout.EventTimestampColumn, [new Field(WindowColumn, DataType.String)], eventsLayout.CreatedTimestampColumn, eventsLayout.Ttl);
    }

    /// <summary>What a suffix table aggregates: the exact sum (for sum and mean), the minimum or the maximum.</summary>
    private enum SuffixKind
    {
        Sum,
        Min,
        Max,
    }

    /// <summary>
    /// How the online store keeps the view: join keys, the newest event's event (and created) time, and the window column.
    /// Name and TTL are the events layout's.
    /// </summary>
    public FeatureViewLayout OnlineLayout { get; }

    /// <summary>The online column holding an entity's window (not an identifier, so it never clashes with a source column).</summary>
    public string WindowColumn { get; }

    /// <summary>The features to ask the online store for: the window column alone.</summary>
    public IReadOnlyList<string> WindowColumns => _windowColumns;

    /// <summary>The position of an aggregation in the definitions, as <see cref="Evaluate"/> takes it.</summary>
    /// <exception cref="StrataException">No such aggregation (not found).</exception>
    public int IndexOf(string aggregation)
    {
        for (var a = 0; a < _plan.Length; a++)
        {
            if (_plan[a].Definition.Name == aggregation)
            {
                return a;
            }
        }

        throw new StrataException(ErrorCodes.NotFound, $"aggregation view '{_eventsLayout.Name}' has no aggregation '{aggregation}'");
    }

    /// <summary>
    /// Groups events (columns of the events layout, by name) by entity, in order of first appearance; rows with a null key
    /// or event time are left out. The batch's <see cref="WindowBatch.Keys"/> are what to read the stored windows with.
    /// </summary>
    /// <exception cref="StrataException">A column is missing or has the wrong type.</exception>
    public WindowBatch Prepare(Table events)
    {
        ArgumentNullException.ThrowIfNull(events);
        const string What = "pushed events";
        var keys = _eventsLayout.JoinKeys.Select(k => AggregationPlan.Column(events, k.Name, k.Type, What)).ToArray();
        var eventTs = (Column<long>)AggregationPlan.Column(events, _eventsLayout.EventTimestampColumn, DataType.Timestamp, What);
        var createdTs = _eventsLayout.CreatedTimestampColumn is { } c ? (Column<long>)AggregationPlan.Column(events, c, DataType.Timestamp, What) : null;
        var inputs = _inputs.Select((name, i) => AggregationPlan.Column(events, name, _inputTypes[i], What)).ToArray();

        var entities = new Dictionary<EntityKey, int>();
        var keyValues = new List<object[]>();
        var windows = new List<List<WindowEvent>>();
        for (var r = 0; r < events.RowCount; r++)
        {
            if (eventTs.IsNull(r) || keys.Any(k => k.IsNull(r)))
            {
                continue;
            }

            var key = new EntityKey(keys.Select(k => k.GetValue(r)!).ToArray());
            if (!entities.TryGetValue(key, out var e))
            {
                entities[key] = e = windows.Count;
                keyValues.Add(key.Values);
                windows.Add([]);
            }

            var cells = new Cell[inputs.Length];
            for (var i = 0; i < cells.Length; i++)
            {
                cells[i] = Cell.Of(inputs[i], r);
            }

            var created = createdTs is not null && !createdTs.IsNull(r) ? createdTs.Values[r] : long.MinValue;
            windows[e].Add(new WindowEvent(eventTs.Values[r], created, cells));
        }

        var parts = new EntityKeyPart[keyValues.Count * keys.Length];
        for (var e = 0; e < keyValues.Count; e++)
        {
            for (var k = 0; k < keys.Length; k++)
            {
                parts[(e * keys.Length) + k] = keyValues[e][k] switch
                {
                    string s => EntityKeyPart.FromString(s),
                    long l => EntityKeyPart.FromInt64(l),
                    int i => EntityKeyPart.FromInt64(i),
                    var other => throw new InvalidOperationException($"unexpected key value {other.GetType().Name}"),
                };
            }
        }

        return new WindowBatch([.. keyValues], parts, [.. windows]);
    }

    /// <summary>
    /// Merges a batch into the entities' stored windows and returns one row of <see cref="OnlineLayout"/> per entity of the
    /// batch (in its order): the merged window, stamped with its newest event. <paramref name="stored"/> holds, per entity,
    /// the window column as read from the online store (any status but present counts as no window yet), ignoring the TTL.
    /// </summary>
    /// <param name="batch">The events, from <see cref="Prepare"/>.</param>
    /// <param name="stored">One value per entity of the batch.</param>
    /// <param name="nowMicros">The push's time: events older than it by more than the widest window are dropped.</param>
    /// <exception cref="StrataException">A stored window is malformed.</exception>
    public Table Merge(WindowBatch batch, ReadOnlySpan<FeatureValue> stored, long nowMicros)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (stored.Length != batch.EntityCount)
        {
            throw new ArgumentException($"{batch.EntityCount} entities but {stored.Length} stored windows", nameof(stored));
        }

        var merged = new List<WindowEvent>[batch.EntityCount];
        for (var e = 0; e < merged.Length; e++)
        {
            // Stored events come first, so a pushed event goes after every stored one with the same (time, created).
            var window = stored[e].Status == FeatureStatus.Present ? Decode(stored[e].AsString()!) : [];
            foreach (var pushed in batch.Events[e])
            {
                Insert(window, pushed);
            }

            Evict(window, nowMicros);
            merged[e] = window;
        }

        return Output(batch.KeyValues, merged, Enumerable.Range(0, merged.Length));
    }

    /// <summary>
    /// The windows the events alone give (a materialization), one row of <see cref="OnlineLayout"/> per entity whose newest
    /// event is at or after <paramref name="fromMicros"/>.
    /// </summary>
    /// <exception cref="StrataException">A column is missing or has the wrong type.</exception>
    public Table Build(Table events, long fromMicros, long nowMicros)
    {
        var batch = Prepare(events);
        var windows = new List<WindowEvent>[batch.EntityCount];
        var kept = new List<int>();
        for (var e = 0; e < windows.Length; e++)
        {
            var window = new List<WindowEvent>(batch.Events[e].Count);
            foreach (var pushed in batch.Events[e])
            {
                Insert(window, pushed);
            }

            Evict(window, nowMicros);
            windows[e] = window;
            if (window[^1].Time >= fromMicros)
            {
                kept.Add(e);
            }
        }

        return Output(batch.KeyValues, windows, kept);
    }

    /// <summary>
    /// One entity's aggregates over the window ending at <paramref name="nowMicros"/>, from its window column as the online
    /// store returned it: per asked aggregation (positions in the definitions) a value of the aggregation's type with the
    /// row's event time (its newest event). A window the store did not find, or found beyond the view's TTL, gives that
    /// status to every aggregation. Allocates nothing, but the value of a string <c>last</c>.
    /// </summary>
    /// <exception cref="StrataException">The stored window is malformed.</exception>
    public void Evaluate(in FeatureValue window, long nowMicros, ReadOnlySpan<int> aggregations, Span<FeatureValue> results)
    {
        if (results.Length < aggregations.Length)
        {
            throw new ArgumentException($"room for {results.Length} values but {aggregations.Length} aggregations asked", nameof(results));
        }

        var eventTime = window.EventTimestamp;
        if (window.Status != FeatureStatus.Present)
        {
            var status = window.Status == FeatureStatus.OutsideMaxAge ? FeatureStatus.OutsideMaxAge : FeatureStatus.NotFound;
            for (var i = 0; i < aggregations.Length; i++)
            {
                results[i] = new FeatureValue(status, _plan[aggregations[i]].OutputType, status == FeatureStatus.NotFound ? 0 : eventTime, 0, null);
            }

            return;
        }

        var events = new EncodedWindow(window.AsString(), _inputs.Length, _tables.Length, _hasCreated);
        var count = events.Count;
        var hi = nowMicros >= events.Time(count - 1) ? count : events.FirstAfter(nowMicros);

        // Aggregations often share a window: its first event is searched for once.
        Span<long> windows = stackalloc long[CachedWindows];
        Span<int> starts = stackalloc int[CachedWindows];
        var cached = 0;
        for (var i = 0; i < aggregations.Length; i++)
        {
            var aggregation = _plan[aggregations[i]];
            var lo = -1;
            for (var w = 0; w < cached && lo < 0; w++)
            {
                lo = windows[w] == aggregation.WindowMicros ? starts[w] : -1;
            }

            if (lo < 0)
            {
                lo = nowMicros >= long.MinValue + aggregation.WindowMicros ? Math.Min(events.FirstAfter(nowMicros - aggregation.WindowMicros), hi) : 0;
                if (cached < CachedWindows)
                {
                    (windows[cached], starts[cached]) = (aggregation.WindowMicros, lo);
                    cached++;
                }
            }

            results[i] = Aggregate(aggregations[i], events, lo, hi, eventTime);
        }
    }

    /// <summary>One aggregate over the events [lo, hi), by the rules of <see cref="WindowedAggregation"/>.</summary>
    private FeatureValue Aggregate(int a, EncodedWindow events, int lo, int hi, long eventTime)
    {
        var aggregation = _plan[a];
        var type = aggregation.OutputType;
        var input = _inputOf[a];
        switch (aggregation.Function)
        {
            case AggregationFunction.Count:
                return new FeatureValue(FeatureStatus.Present, type, eventTime, hi - lo, null);
            case AggregationFunction.Last:
                for (var p = hi - 1; p >= lo; p--)
                {
                    if (events.IsValid(input, p))
                    {
                        return _inputTypes[input] == DataType.String
                            ? new FeatureValue(FeatureStatus.Present, type, eventTime, 0, events.Text(input, p))
                            : new FeatureValue(FeatureStatus.Present, type, eventTime, events.Bits(input, p), null);
                    }
                }

                return new FeatureValue(FeatureStatus.NullValue, type, eventTime, 0, null);
        }

        double value;
        long present;
        if (hi == events.Count && events.TryEntry(_tableOf[a], lo, out var bits, out var entryPresent))
        {
            (value, present) = (BitConverter.Int64BitsToDouble(bits), entryPresent);
        }
        else
        {
            (value, present) = Scan(TableOf(aggregation, input)!.Value, events, lo, hi);
        }

        double? result = aggregation.Function switch
        {
            AggregationFunction.Sum => value,
            AggregationFunction.Mean => present == 0 ? null : value / present,
            _ => present == 0 ? null : value,
        };
        return result is { } v
            ? new FeatureValue(FeatureStatus.Present, type, eventTime, BitConverter.DoubleToInt64Bits(v), null)
            : new FeatureValue(FeatureStatus.NullValue, type, eventTime, 0, null);
    }

    /// <summary>A sum (rounded once), minimum or maximum over events [lo, hi) read one by one, and the non-null inputs seen.</summary>
    private (double Value, long Present) Scan(SuffixTable table, EncodedWindow events, int lo, int hi)
    {
        var accumulator = new Accumulator(table.Kind);
        for (var p = lo; p < hi; p++)
        {
            if (events.IsValid(table.Input, p))
            {
                accumulator.Add(ToDouble(events.Bits(table.Input, p), _inputTypes[table.Input]));
            }
        }

        return (accumulator.Value, accumulator.Present);
    }

    private static SuffixTable? TableOf(ResolvedAggregation aggregation, int input) => aggregation.Function switch
    {
        AggregationFunction.Sum or AggregationFunction.Mean => new SuffixTable(SuffixKind.Sum, input, aggregation.WindowMicros),
        AggregationFunction.Min => new SuffixTable(SuffixKind.Min, input, aggregation.WindowMicros),
        AggregationFunction.Max => new SuffixTable(SuffixKind.Max, input, aggregation.WindowMicros),
        _ => null,
    };

    private static double ToDouble(long bits, DataType type) => type switch
    {
        DataType.Float64 => BitConverter.Int64BitsToDouble(bits),
        DataType.Float32 => BitConverter.Int32BitsToSingle((int)bits),
        DataType.Int32 => (int)bits,
        _ => bits,
    };

    /// <summary>Inserts in (event time, created time) order, after every event that ties with it (they came first).</summary>
    private static void Insert(List<WindowEvent> window, WindowEvent e)
    {
        var position = window.Count;
        while (position > 0 && (window[position - 1].Time > e.Time || (window[position - 1].Time == e.Time && window[position - 1].Created > e.Created)))
        {
            position--;
        }

        window.Insert(position, e);
    }

    /// <summary>Drops the events no read at or after <paramref name="now"/> can need (the newest always stays).</summary>
    private void Evict(List<WindowEvent> window, long now)
    {
        var anchor = Math.Min(window[^1].Time, now);
        if (anchor < long.MinValue + _horizon)
        {
            return;
        }

        var lower = anchor - _horizon;
        var evict = 0;
        while (evict < window.Count && window[evict].Time <= lower)
        {
            evict++;
        }

        window.RemoveRange(0, evict);
    }

    private Table Output(object[][] keys, List<WindowEvent>[] windows, IEnumerable<int> entities)
    {
        var schema = OnlineLayout.Schema;
        var builders = schema.Select(f => ColumnBuilder.Create(f.Type, windows.Length)).ToArray();
        var keyCount = OnlineLayout.JoinKeys.Count;
        foreach (var e in entities)
        {
            for (var k = 0; k < keyCount; k++)
            {
                builders[k].AppendObject(keys[e][k]);
            }

            var newest = windows[e][^1];
            builders[keyCount].AppendObject(newest.Time);
            if (_hasCreated)
            {
                builders[keyCount + 1].AppendObject(newest.Created == long.MinValue ? newest.Time : newest.Created);
            }

            builders[^1].AppendObject(Encode(windows[e]));
        }

        return new Table(schema, builders.Select(b => b.Build()));
    }

    private string Encode(List<WindowEvent> window)
    {
        var n = window.Count;
        var newest = window[^1].Time;
        var bitmap = (n + 7) / 8;
        var size = HeaderBytes + (4 * _inputs.Length) + (8 * _tables.Length) + (8 * n * (_hasCreated ? 2 : 1));
        for (var i = 0; i < _inputs.Length; i++)
        {
            size += bitmap + (8 * n);
            if (_inputTypes[i] == DataType.String)
            {
                foreach (var e in window)
                {
                    size += e.Inputs[i].Text is { } text ? 4 + Encoding.UTF8.GetByteCount(text) : 0;
                }
            }
        }

        // A table starts at the first event that a read at or after the newest event can still count.
        var firsts = new int[_tables.Length];
        for (var t = 0; t < _tables.Length; t++)
        {
            var first = 0;
            if (newest >= long.MinValue + _tables[t].Window)
            {
                while (first < n && window[first].Time <= newest - _tables[t].Window)
                {
                    first++;
                }
            }

            firsts[t] = first;
            size += (n - first + 1) * EntryBytes;
        }

        var bytes = new byte[size];
        var span = bytes.AsSpan();
        span[0] = FormatVersion;
        BinaryPrimitives.WriteInt32LittleEndian(span[1..], n);
        BinaryPrimitives.WriteInt32LittleEndian(span[5..], _inputs.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[9..], _tables.Length);
        var at = HeaderBytes + (4 * _inputs.Length) + (8 * _tables.Length);
        foreach (var e in window)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], e.Time);
            at += 8;
        }

        if (_hasCreated)
        {
            foreach (var e in window)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span[at..], e.Created);
                at += 8;
            }
        }

        for (var i = 0; i < _inputs.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[(HeaderBytes + (4 * i))..], at);
            var validity = span.Slice(at, bitmap);
            var values = at + bitmap;
            at = values + (8 * n);
            for (var p = 0; p < n; p++)
            {
                var cell = window[p].Inputs[i];
                if (!cell.Valid)
                {
                    continue;
                }

                validity[p >> 3] |= (byte)(1 << (p & 7));
                if (_inputTypes[i] == DataType.String)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(span[(values + (8 * p))..], at);
                    var length = Encoding.UTF8.GetBytes(cell.Text, span[(at + 4)..]);
                    BinaryPrimitives.WriteInt32LittleEndian(span[at..], length);
                    at += 4 + length;
                }
                else
                {
                    BinaryPrimitives.WriteInt64LittleEndian(span[(values + (8 * p))..], cell.Bits);
                }
            }
        }

        for (var t = 0; t < _tables.Length; t++)
        {
            var table = _tables[t];
            var descriptor = HeaderBytes + (4 * _inputs.Length) + (8 * t);
            BinaryPrimitives.WriteInt32LittleEndian(span[descriptor..], at);
            BinaryPrimitives.WriteInt32LittleEndian(span[(descriptor + 4)..], firsts[t]);

            // Suffixes from the empty one back to the table's first event; entry k covers events [k, n).
            var accumulator = new Accumulator(table.Kind);
            for (var k = n; k >= firsts[t]; k--)
            {
                if (k < n && window[k].Inputs[table.Input] is { Valid: true } cell)
                {
                    accumulator.Add(ToDouble(cell.Bits, _inputTypes[table.Input]));
                }

                var entry = span[(at + ((k - firsts[t]) * EntryBytes))..];
                BinaryPrimitives.WriteInt64LittleEndian(entry, BitConverter.DoubleToInt64Bits(accumulator.Value));
                BinaryPrimitives.WriteInt32LittleEndian(entry[8..], checked((int)accumulator.Present));
            }

            at += (n - firsts[t] + 1) * EntryBytes;
        }

        return Convert.ToBase64String(bytes);
    }

    private List<WindowEvent> Decode(string text)
    {
        var events = new EncodedWindow(text, _inputs.Length, _tables.Length, _hasCreated);
        var window = new List<WindowEvent>(events.Count + 1);
        for (var p = 0; p < events.Count; p++)
        {
            var cells = new Cell[_inputs.Length];
            for (var i = 0; i < cells.Length; i++)
            {
                cells[i] = !events.IsValid(i, p) ? default
                    : _inputTypes[i] == DataType.String ? new Cell(0, events.Text(i, p), true)
                    : new Cell(events.Bits(i, p), null, true);
            }

            window.Add(new WindowEvent(events.Time(p), events.Created(p), cells));
        }

        return window;
    }

    private static int[] BuildSextets()
    {
        var sextets = new int[128];
        Array.Fill(sextets, -1);
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (var i = 0; i < Alphabet.Length; i++)
        {
            sextets[Alphabet[i]] = i;
        }

        sextets['='] = 0;
        return sextets;
    }

    private static StrataException Malformed(string problem) =>
        new(ErrorCodes.DataMalformed, $"a stored aggregation window is malformed ({problem}); materialize the view again to rebuild it");

    /// <summary>What one suffix table holds: a kind of aggregate over one input, for one window length.</summary>
    private readonly record struct SuffixTable(SuffixKind Kind, int Input, long Window);

    /// <summary>
    /// A sum (exact, rounded once), minimum or maximum with <see cref="WindowedAggregation"/>'s rules (-0 below +0, a NaN
    /// makes the result NaN), and the number of values added.
    /// </summary>
    private struct Accumulator(SuffixKind kind)
    {
        private ExactSum _sum;
        private double _best;
        private bool _hasBest;
        private bool _nan;

        public long Present { get; private set; }

        public readonly double Value => kind == SuffixKind.Sum ? _sum.ToDouble() : _nan ? double.NaN : _best;

        public void Add(double value)
        {
            Present++;
            if (kind == SuffixKind.Sum)
            {
                _sum.Add(value);
            }
            else if (double.IsNaN(value))
            {
                _nan = true;
            }
            else if (!_hasBest || (kind == SuffixKind.Min ? 1 : -1) * AggregationPlan.Compare(value, _best) < 0)
            {
                (_best, _hasBest) = (value, true);
            }
        }
    }

    /// <summary>
    /// A stored window read in place from its base64 text: each access decodes only the few characters holding the bytes it
    /// reads, so a read's cost follows what it looks at (a few binary-search probes and table entries), not the window's size.
    /// </summary>
    private readonly ref struct EncodedWindow
    {
        private readonly ReadOnlySpan<char> _text;
        private readonly int _length;
        private readonly int _inputs;
        private readonly int _tables;
        private readonly int _times;

        public EncodedWindow(ReadOnlySpan<char> text, int inputs, int tables, bool hasCreated)
        {
            if (text.Length == 0 || text.Length % 4 != 0)
            {
                throw Malformed("not base64");
            }

            _text = text;
            _length = (text.Length / 4 * 3) - (text[^1] == '=' ? text[^2] == '=' ? 2 : 1 : 0);
            _inputs = inputs;
            _tables = tables;
            _times = HeaderBytes + (4 * inputs) + (8 * tables);
            Span<byte> header = stackalloc byte[HeaderBytes];
            if (_length < HeaderBytes)
            {
                throw Malformed("no header");
            }

            Read(0, header);
            Count = BinaryPrimitives.ReadInt32LittleEndian(header[1..]);
            if (header[0] != FormatVersion)
            {
                throw Malformed("unknown version");
            }

            if (Count < 1 || BinaryPrimitives.ReadInt32LittleEndian(header[5..]) != inputs || BinaryPrimitives.ReadInt32LittleEndian(header[9..]) != tables
                || _times + (8L * Count * (hasCreated ? 2 : 1)) > _length)
            {
                throw Malformed("wrong sizes");
            }

            HasCreated = hasCreated;
        }

        public int Count { get; }

        private bool HasCreated { get; }

        public long Time(int p) => ReadInt64(_times + (8 * p));

        public long Created(int p) => HasCreated ? ReadInt64(_times + (8 * (Count + p))) : long.MinValue;

        /// <summary>The position of the first event after <paramref name="t"/> (times are sorted).</summary>
        public int FirstAfter(long t)
        {
            int lo = 0, hi = Count;
            while (lo < hi)
            {
                var mid = (lo + hi) >>> 1;
                if (Time(mid) <= t)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            return lo;
        }

        public bool IsValid(int input, int p) => (ReadByte(Section(input) + (p >> 3)) & (1 << (p & 7))) != 0;

        /// <summary>A fixed-width input's value bits (as <see cref="FeatureValue"/> holds them).</summary>
        public long Bits(int input, int p) => ReadInt64(Section(input) + ((Count + 7) / 8) + (8 * p));

        /// <summary>A string input's value at a position that holds one.</summary>
        public string Text(int input, int p)
        {
            var at = Bits(input, p);
            var length = at is >= 0 and <= int.MaxValue - 4 ? ReadInt32((int)at) : -1;
            if (length < 0)
            {
                throw Malformed("a string beyond the end");
            }

            var rented = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                Read((int)at + 4, rented.AsSpan(0, length));
                return Encoding.UTF8.GetString(rented, 0, length);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        /// <summary>A table's entry for the suffix starting at event <paramref name="k"/>, when the table reaches back that far.</summary>
        public bool TryEntry(int table, int k, out long bits, out int present)
        {
            var descriptor = HeaderBytes + (4 * _inputs) + (8 * table);
            var first = ReadInt32(descriptor + 4);
            if (k < first)
            {
                (bits, present) = (0, 0);
                return false;
            }

            var entry = ReadInt32(descriptor) + ((k - first) * EntryBytes);
            (bits, present) = (ReadInt64(entry), ReadInt32(entry + 8));
            return true;
        }

        private int Section(int input) => ReadInt32(HeaderBytes + (4 * input));

        private byte ReadByte(int offset)
        {
            Span<byte> value = stackalloc byte[1];
            Read(offset, value);
            return value[0];
        }

        private int ReadInt32(int offset)
        {
            Span<byte> value = stackalloc byte[4];
            Read(offset, value);
            return BinaryPrimitives.ReadInt32LittleEndian(value);
        }

        private long ReadInt64(int offset)
        {
            Span<byte> value = stackalloc byte[8];
            Read(offset, value);
            return BinaryPrimitives.ReadInt64LittleEndian(value);
        }

        /// <summary>Decodes bytes [offset, offset + destination.Length): the 4-character groups that hold them, and no others.</summary>
        private void Read(int offset, Span<byte> destination)
        {
            if (offset < 0 || offset > _length - destination.Length)
            {
                throw Malformed("a value beyond the end");
            }

            var group = offset / 3;
            var skip = offset - (group * 3);
            var written = 0;
            while (written < destination.Length)
            {
                var chars = _text.Slice(group * 4, 4);
                var bits = (Sextet(chars[0]) << 18) | (Sextet(chars[1]) << 12) | (Sextet(chars[2]) << 6) | Sextet(chars[3]);
                if (bits < 0)
                {
                    throw Malformed("not base64");
                }

                for (var b = skip; b < 3 && written < destination.Length; b++)
                {
                    destination[written++] = (byte)(bits >> (16 - (8 * b)));
                }

                skip = 0;
                group++;
            }
        }

        /// <summary>A base64 character's six bits, or -1 (negative whatever it is shifted by or or-ed with) outside the alphabet.</summary>
        private static int Sextet(char c) => c < Sextets.Length ? Sextets[c] : -1;
    }

    /// <summary>An entity's key values (int, long or string), compared by value.</summary>
    private sealed class EntityKey(object[] values) : IEquatable<EntityKey>
    {
        public object[] Values { get; } = values;

        public bool Equals(EntityKey? other) => other is not null && Values.AsSpan().SequenceEqual(other.Values);

        public override bool Equals(object? obj) => Equals(obj as EntityKey);

        public override int GetHashCode()
        {
            var hash = default(HashCode);
            foreach (var v in Values)
            {
                hash.Add(v);
            }

            return hash.ToHashCode();
        }
    }
}

/// <summary>Pushed events grouped by entity (<see cref="StreamingAggregator.Prepare"/>), to merge into the stored windows.</summary>
public sealed class WindowBatch
{
    internal WindowBatch(object[][] keyValues, EntityKeyPart[] keys, List<WindowEvent>[] events)
    {
        KeyValues = keyValues;
        Keys = keys;
        Events = events;
    }

    /// <summary>Number of entities.</summary>
    public int EntityCount => KeyValues.Length;

    /// <summary>The entities' key parts, entity after entity, in join key order: what to read their stored windows with.</summary>
    public ReadOnlyMemory<EntityKeyPart> Keys { get; }

    internal object[][] KeyValues { get; }

    internal List<WindowEvent>[] Events { get; }
}

/// <summary>One input of one event: value bits as <see cref="FeatureValue"/> holds them, or the string.</summary>
internal readonly record struct Cell(long Bits, string? Text, bool Valid)
{
    public static Cell Of(Column column, int row) => column.IsNull(row) ? default : column switch
    {
        Column<long> c => new(c.Values[row], null, true),
        Column<int> c => new(c.Values[row], null, true),
        Column<double> c => new(BitConverter.DoubleToInt64Bits(c.Values[row]), null, true),
        Column<float> c => new(BitConverter.SingleToInt32Bits(c.Values[row]), null, true),
        Column<bool> c => new(c.Values[row] ? 1 : 0, null, true),
        StringColumn c => new(0, c[row], true),
        _ => throw new InvalidOperationException($"unexpected column type {column.Type.Name()}"),
    };
}

/// <summary>One event of a window: event time, created time (long.MinValue for none) and its inputs.</summary>
internal sealed record WindowEvent(long Time, long Created, Cell[] Inputs);
