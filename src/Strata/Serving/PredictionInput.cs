using System.Diagnostics.CodeAnalysis;

namespace Strata.Serving;

/// <summary>What a request's field holds: numbers, text, or only nulls (missing values).</summary>
public enum InputKind
{
    /// <summary>Numbers (a null is NaN, i.e. missing).</summary>
    Number,
    /// <summary>Text (a null is missing).</summary>
    Text,
    /// <summary>Every value is null.</summary>
    Null,
    /// <summary>Values of different kinds (numbers, text, booleans) or nested values: never usable.</summary>
    Mixed,
}

/// <summary>One field of a request, for every row: numbers or text, as the caller sent it.</summary>
public sealed class InputColumn
{
    private static readonly InputColumn Nulls = new(InputKind.Null, null, null);

    // A one-row column of a number keeps it here and makes the array only when asked for it: most requests are one row
    // of numbers, and their one-number arrays were a sixth of the bytes a request allocated.
    private readonly double _one;
    private double[]? _numbers;

    private InputColumn(InputKind kind, double[]? numbers, string?[]? texts, double one = double.NaN, bool booleans = false)
    {
        Kind = kind;
        _numbers = numbers;
        _one = one;
        Texts = texts;
        IsBoolean = booleans;
    }

    /// <summary>What the column holds.</summary>
    public InputKind Kind { get; }

    /// <summary>
    /// True for numbers sent as booleans (JSON true and false, a BOOL tensor), held as 1 and 0: a model reads them as
    /// numbers, as training reads a bool column, but a feature service's field of another type refuses them, and its
    /// bool field takes only them.
    /// </summary>
    public bool IsBoolean { get; }

    /// <summary>The numbers (NaN = null), when <see cref="Kind"/> is <see cref="InputKind.Number"/>.</summary>
    public double[]? Numbers => _numbers ?? (Kind == InputKind.Number ? _numbers = [_one] : null);

    /// <summary>The text values, when <see cref="Kind"/> is <see cref="InputKind.Text"/>.</summary>
    public string?[]? Texts { get; }

    /// <summary>A column of numbers (NaN = missing).</summary>
    public static InputColumn OfNumbers(double[] numbers) => new(InputKind.Number, numbers, null);

    /// <summary>A column of booleans held as 1 and 0 (NaN = missing).</summary>
    public static InputColumn OfBooleans(double[] values) => new(InputKind.Number, values, null, booleans: true);

    /// <summary>A column of one row holding a number (NaN = missing).</summary>
    public static InputColumn OfNumber(double number) => new(InputKind.Number, null, null, number);

    /// <summary>A column of text (null = missing).</summary>
    public static InputColumn OfTexts(string?[] texts) => new(InputKind.Text, null, texts);

    /// <summary>A column with only missing values (it holds nothing, so one serves every request).</summary>
    public static InputColumn OfNulls() => Nulls;

    /// <summary>A column whose values cannot be used (mixed kinds, booleans, nested values).</summary>
    public static InputColumn OfMixed() => new(InputKind.Mixed, null, null);

    /// <summary>The number at a row (NaN = missing), when <see cref="Kind"/> is <see cref="InputKind.Number"/>; reads a one-row column without making its array.</summary>
    public double NumberAt(int row) => _numbers is { } numbers ? numbers[row] : row == 0 ? _one : throw new ArgumentOutOfRangeException(nameof(row));

    /// <summary>The number at a row, NaN when it is null or the column is not numbers.</summary>
    internal double NumberOrNaN(int row) => Kind == InputKind.Number ? NumberAt(row) : double.NaN;

    /// <summary>The text at a row, null when it is null or the column is not text.</summary>
    internal string? TextOrNull(int row) => Kind == InputKind.Text ? Texts![row] : null;

    /// <summary>The value at a row as text (for keys and logs).</summary>
    public string? TextAt(int row) => Kind switch
    {
        InputKind.Number => NumberAt(row) is var number && double.IsNaN(number) ? null : number.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        InputKind.Text => Texts![row],
        _ => null,
    };
}

/// <summary>
/// The rows of a request as named columns (the native API's rows and Open Inference Protocol tensors both arrive this
/// way), plus what the request asks for besides predictions. A one-row request may instead arrive as its values in a
/// <see cref="FieldLayout"/> (the names in the order sent): most requests are one row in the same layout as the last,
/// and a model remembers how it reads a layout, so the fields need not be looked up by name; the named columns are then
/// made only when something asks for them.
/// </summary>
public sealed class PredictionInput
{
    private readonly double[]? _numbers;
    private readonly string?[]? _texts;
    private Dictionary<string, InputColumn>? _fields;

    /// <summary>Creates an input of <paramref name="rows"/> rows.</summary>
    public PredictionInput(int rows, IReadOnlyDictionary<string, InputColumn> columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentNullException.ThrowIfNull(columns);
        Rows = rows;
        _fields = columns as Dictionary<string, InputColumn> is { Comparer: var comparer } own && comparer == StringComparer.Ordinal
            ? own
            : new Dictionary<string, InputColumn>(columns, StringComparer.Ordinal);
    }

    /// <summary>
    /// Creates a one-row input from its values in <paramref name="layout"/>'s order: field <c>i</c> is
    /// <paramref name="texts"/>[i] when that is not null, else the number <paramref name="numbers"/>[i] (NaN = null).
    /// The arrays are kept as given, not copied (the parser hands over arrays of their own).
    /// </summary>
    public PredictionInput(FieldLayout layout, double[] numbers, string?[]? texts)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(numbers);
        if (numbers.Length != layout.Count || (texts is not null && texts.Length != layout.Count))
        {
            throw new ArgumentException($"the layout has {layout.Count} fields; the values must be as many", nameof(numbers));
        }

        Rows = 1;
        Layout = layout;
        _numbers = numbers;
        _texts = texts;
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>The fields by name.</summary>
    public IReadOnlyDictionary<string, InputColumn> Columns => Fields;

    /// <summary>The layout of a one-row input made from its values (null for one made from columns).</summary>
    public FieldLayout? Layout { get; }

    /// <summary>The same fields as the concrete type: the request path reads them per field, without interface calls or a boxed enumerator.</summary>
    internal Dictionary<string, InputColumn> Fields
    {
        get
        {
            // NOTE: a request's input may be read on two threads (its own, and the shadow model's); both would make the
            // same columns, and the first kept is the one both use.
            return Volatile.Read(ref _fields) ?? Interlocked.CompareExchange(ref _fields, MakeFields(), null) ?? _fields!;
        }
    }

    /// <summary>What field <paramref name="field"/> of the <see cref="Layout"/> holds.</summary>
    internal InputKind KindAt(int field) =>
        _texts?[field] is not null ? InputKind.Text : double.IsNaN(_numbers![field]) ? InputKind.Null : InputKind.Number;

    /// <summary>The number of field <paramref name="field"/> of the <see cref="Layout"/> (NaN when it is null or text).</summary>
    internal double NumberAt(int field) => _numbers![field];

    /// <summary>The text of field <paramref name="field"/> of the <see cref="Layout"/> (null when it is not text).</summary>
    internal string? TextAt(int field) => _texts?[field];

    private Dictionary<string, InputColumn> MakeFields()
    {
        var layout = Layout!;
        var fields = new Dictionary<string, InputColumn>(layout.Count, StringComparer.Ordinal);
        for (var i = 0; i < layout.Count; i++)
        {
            fields.Add(layout.Names[i], KindAt(i) switch
            {
                InputKind.Text => InputColumn.OfTexts([_texts![i]]),
                InputKind.Number => InputColumn.OfNumber(_numbers![i]),
                _ => InputColumn.OfNulls(),
            });
        }

        return fields;
    }
}

/// <summary>
/// The names of a one-row request's fields, in the order sent, with no name twice. Requests that send the same names in
/// the same order share one layout (see <see cref="Of"/>), which is what lets a model remember how it reads them.
/// </summary>
public sealed class FieldLayout
{
    // The layouts made last, for the next request to find: a server's clients send a few layouts, one per endpoint and
    // client version, so a handful is enough; a layout that falls out is only made again.
    private const int Kept = 8;
    private static readonly FieldLayout?[] Recent = new FieldLayout?[Kept];
    private static int _next;

    private readonly string[] _names;

    private FieldLayout(string[] names) => _names = names;

    /// <summary>The field names, in order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Number of fields.</summary>
    public int Count => _names.Length;

    /// <summary>
    /// The layout of <paramref name="names"/>: one seen lately when it has the same names in the same order, else a new
    /// one. Null when a name is there twice (such a request gets the general parser's error).
    /// </summary>
    public static FieldLayout? Of(ReadOnlySpan<string> names)
    {
        foreach (var kept in Recent)
        {
            if (kept is not null && kept.Matches(names))
            {
                return kept;
            }
        }

        var seen = new HashSet<string>(names.Length, StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (!seen.Add(name))
            {
                return null;
            }
        }

        var layout = new FieldLayout(names.ToArray());
        Volatile.Write(ref Recent[(int)((uint)Interlocked.Increment(ref _next) % Kept)], layout);
        return layout;
    }

    // The request parser hands out the same string for a name it has seen, so each comparison is nearly always by reference.
    private bool Matches(ReadOnlySpan<string> names) => names.SequenceEqual(_names);
}

/// <summary>One request to an endpoint (a struct: it is made for every request and lives only as long as the call).</summary>
public readonly record struct PredictionRequest
{
    /// <summary>The endpoint.</summary>
    public required string Endpoint { get; init; }

    /// <summary>The rows.</summary>
    public required PredictionInput Input { get; init; }

    /// <summary>The request id (logged with the prediction).</summary>
    public required string RequestId { get; init; }

    /// <summary>The API key that sent it (rate limits are per key); null for local callers.</summary>
    public string? KeyId { get; init; }

    /// <summary>Top TreeSHAP contributions to return per row (0: none).</summary>
    public int Explain { get; init; }

    /// <summary>A version the caller asks for (Open Inference Protocol's <c>/versions/{v}</c>): served only when loaded.</summary>
    public int? Version { get; init; }

    /// <summary>
    /// How errors word what the request carries (<c>missing input tensor 'x'</c>, <c>input tensor 'x': element 1</c>);
    /// default (also when set to null): the native API's rows of fields (<c>missing field 'x'</c>, <c>field 'x' in rows[1]</c>).
    /// </summary>
    [AllowNull]
    public RequestNaming Naming
    {
        get => _naming ?? RequestNaming.Rows;
        init => _naming = value;
    }

    private readonly RequestNaming? _naming;

    /// <summary>
    /// The caller's trace context (a W3C <c>traceparent</c>), the parent of the request's <c>strata.predict</c> span;
    /// default: none, and the span's parent is the current Activity, if any.
    /// </summary>
    public System.Diagnostics.ActivityContext TraceParent { get; init; }
}
