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
    /// <summary>Values of different kinds (numbers and text), or booleans: never usable.</summary>
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

    private InputColumn(InputKind kind, double[]? numbers, string?[]? texts, double one = double.NaN)
    {
        Kind = kind;
        _numbers = numbers;
        _one = one;
        Texts = texts;
    }

    /// <summary>What the column holds.</summary>
    public InputKind Kind { get; }

    /// <summary>The numbers (NaN = null), when <see cref="Kind"/> is <see cref="InputKind.Number"/>.</summary>
    public double[]? Numbers => _numbers ?? (Kind == InputKind.Number ? _numbers = [_one] : null);

    /// <summary>The text values, when <see cref="Kind"/> is <see cref="InputKind.Text"/>.</summary>
    public string?[]? Texts { get; }

    /// <summary>A column of numbers (NaN = missing).</summary>
    public static InputColumn OfNumbers(double[] numbers) => new(InputKind.Number, numbers, null);

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
/// way), plus what the request asks for besides predictions.
/// </summary>
public sealed class PredictionInput
{
    /// <summary>Creates an input of <paramref name="rows"/> rows.</summary>
    public PredictionInput(int rows, IReadOnlyDictionary<string, InputColumn> columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentNullException.ThrowIfNull(columns);
        Rows = rows;
        Fields = columns as Dictionary<string, InputColumn> is { Comparer: var comparer } own && comparer == StringComparer.Ordinal
            ? own
            : new Dictionary<string, InputColumn>(columns, StringComparer.Ordinal);
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>The fields by name.</summary>
    public IReadOnlyDictionary<string, InputColumn> Columns => Fields;

    /// <summary>The same fields as the concrete type: the request path reads them per field, without interface calls or a boxed enumerator.</summary>
    internal Dictionary<string, InputColumn> Fields { get; }
}

/// <summary>One request to an endpoint.</summary>
public sealed record PredictionRequest
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
}
