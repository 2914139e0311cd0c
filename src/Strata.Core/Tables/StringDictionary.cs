using System.Text;

namespace Strata;

/// <summary>
/// The distinct values of a string column, in Arrow's layout (UTF-8 bytes plus <c>Count + 1</c> offsets) so Arrow IPC
/// writes it as is. Values are unique; a code is a position in this list. .NET strings are made on first use and cached.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "Arrow calls this a dictionary; the name says what it is in the file format.")]
public sealed class StringDictionary
{
    private readonly int[] _offsets;
    private readonly byte[] _data;
    private readonly string?[] _strings;
    private Utf8StringTable? _lookup;

    /// <summary>Wraps Arrow-layout arrays; the caller guarantees valid UTF-8, monotonic offsets and unique values.</summary>
    internal StringDictionary(int[] offsets, byte[] data, int count)
    {
        if (offsets.Length < count + 1 || offsets[0] != 0 || offsets[count] > data.Length)
        {
            throw new ArgumentException("dictionary offsets do not describe the data", nameof(offsets));
        }

        _offsets = offsets;
        _data = data;
        Count = count;
        _strings = new string?[count];
    }

    /// <summary>A dictionary with no values.</summary>
    public static StringDictionary Empty { get; } = new([0], [], 0);

    /// <summary>Number of distinct values.</summary>
    public int Count { get; }

    /// <summary>Arrow offsets: value <c>i</c> is <c>Data[Offsets[i]..Offsets[i + 1]]</c>.</summary>
    internal ReadOnlySpan<int> Offsets => _offsets.AsSpan(0, Count + 1);

    /// <summary>Concatenated UTF-8 bytes of all values.</summary>
    internal ReadOnlySpan<byte> Data => _data.AsSpan(0, _offsets[Count]);

    /// <summary>The UTF-8 bytes of a value.</summary>
    public ReadOnlySpan<byte> GetUtf8(int code) => _data.AsSpan(_offsets[code], _offsets[code + 1] - _offsets[code]);

    /// <summary>A value as a .NET string (cached).</summary>
    public string GetString(int code)
    {
        // NOTE: a race makes two equal strings and keeps one; both are correct, so no lock.
        return _strings[code] ??= Encoding.UTF8.GetString(GetUtf8(code));
    }

    /// <summary>The code of a value, or -1.</summary>
    public int IndexOf(ReadOnlySpan<byte> utf8) => Lookup().TryGet(utf8, out var code) ? code : -1;

    /// <summary>The code of a value, or -1.</summary>
    public int IndexOf(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Span<byte> buffer = max <= 512 ? stackalloc byte[max] : new byte[max];
        var written = Encoding.UTF8.GetBytes(value, buffer);
        return IndexOf(buffer[..written]);
    }

    /// <summary>All values as strings, in code order.</summary>
    public IEnumerable<string> Values
    {
        get
        {
            for (var i = 0; i < Count; i++)
            {
                yield return GetString(i);
            }
        }
    }

    /// <summary>A dictionary of the given values, which must be distinct.</summary>
    public static StringDictionary From(IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var table = new Utf8StringTable();
        foreach (var value in values)
        {
            var before = table.Count;
            var bytes = Encoding.UTF8.GetBytes(value);
            if (table.GetOrAdd(bytes) != before)
            {
                throw new ArgumentException($"duplicate dictionary value '{value}'", nameof(values));
            }
        }

        return table.ToDictionary();
    }

    private Utf8StringTable Lookup()
    {
        if (_lookup is { } lookup)
        {
            return lookup;
        }

        var table = new Utf8StringTable(Count);
        for (var i = 0; i < Count; i++)
        {
            table.GetOrAdd(GetUtf8(i));
        }

        // Publishing a fully built table; a concurrent builder's duplicate is simply dropped.
        Interlocked.CompareExchange(ref _lookup, table, null);
        return _lookup;
    }
}
