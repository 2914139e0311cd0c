using System.Text;

namespace Strata.Data.Validation;

/// <summary>
/// Counts, exactly and batch by batch, the values that break a field's range and category constraints, keeping a few
/// examples. Category checks look each dictionary value up once per batch, then count rows by code.
/// </summary>
internal sealed class ConstraintChecker
{
    private const int MaxExamples = 5;
    private readonly Field _field;
    private readonly HashSet<string>? _categories;
    private readonly List<string> _unknownExamples = [];
    private readonly HashSet<string> _unknownSeen = new(StringComparer.Ordinal);

    public ConstraintChecker(Field field)
    {
        _field = field;
        if (field.Constraints?.Categories is { } categories)
        {
            _categories = new HashSet<string>(categories, StringComparer.Ordinal);
        }
    }

    public long Rows { get; private set; }

    public long Nulls { get; private set; }

    public long BelowMin { get; private set; }

    public long AboveMax { get; private set; }

    /// <summary>Smallest and largest values seen (as doubles; timestamps in microseconds).</summary>
    public double ObservedMin { get; private set; } = double.PositiveInfinity;

    public double ObservedMax { get; private set; } = double.NegativeInfinity;

    public long Unknown { get; private set; }

    public IReadOnlyList<string> UnknownExamples => _unknownExamples;

    public void Add(Column column)
    {
        Rows += column.Length;
        Nulls += column.NullCount;
        switch (column)
        {
            case StringColumn strings when _categories is not null:
                AddCategories(strings);
                break;
            case Column<int> ints:
                AddRange<int>(ints, static v => v);
                break;
            case Column<long> longs:
                AddRange<long>(longs, static v => v);
                break;
            case Column<float> floats:
                AddRange<float>(floats, static v => v);
                break;
            case Column<double> doubles:
                AddRange<double>(doubles, static v => v);
                break;
            default:
                break;
        }
    }

    private void AddRange<T>(Column<T> column, Func<T, double> toDouble)
        where T : unmanaged
    {
        var min = _field.Constraints?.Min ?? double.NegativeInfinity;
        var max = _field.Constraints?.Max ?? double.PositiveInfinity;
        var values = column.Values;
        var hasNulls = column.HasNulls;
        for (var i = 0; i < values.Length; i++)
        {
            if (hasNulls && column.IsNull(i))
            {
                continue;
            }

            var v = toDouble(values[i]);
            if (double.IsNaN(v))
            {
                continue;
            }

            if (v < ObservedMin)
            {
                ObservedMin = v;
            }

            if (v > ObservedMax)
            {
                ObservedMax = v;
            }

            if (v < min)
            {
                BelowMin++;
            }
            else if (v > max)
            {
                AboveMax++;
            }
        }
    }

    private void AddCategories(StringColumn column)
    {
        var dictionary = column.Dictionary;
        var known = new bool[Math.Max(1, dictionary.Count)];
        for (var code = 0; code < dictionary.Count; code++)
        {
            known[code] = _categories!.Contains(dictionary.GetString(code));
        }

        var codes = column.Codes;
        var hasNulls = column.HasNulls;
        for (var i = 0; i < codes.Length; i++)
        {
            if (known[codes[i]] || (hasNulls && column.IsNull(i)))
            {
                continue;
            }

            Unknown++;
            if (_unknownExamples.Count < MaxExamples && !_field.IsPii)
            {
                var value = dictionary.GetString(codes[i]);
                if (_unknownSeen.Add(value))
                {
                    _unknownExamples.Add(value);
                }
            }
        }
    }

    /// <summary>A value as it appears in an anomaly's description.</summary>
    public string Show(double value) => _field.IsPii
        ? Text.TextValues.Redacted
        : _field.Type == DataType.Timestamp
            ? Timestamp.Format((long)value)
            : value.ToString("G10", System.Globalization.CultureInfo.InvariantCulture);

    public static string Quote(IEnumerable<string> values)
    {
        var sb = new StringBuilder();
        foreach (var v in values)
        {
            if (sb.Length > 0)
            {
                sb.Append(", ");
            }

            sb.Append('\'').Append(v.Length > 40 ? v[..40] + "…" : v).Append('\'');
        }

        return sb.ToString();
    }
}
