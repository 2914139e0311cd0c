using System.Runtime.InteropServices;

namespace Strata.Learning;

/// <summary>
/// A table's columns as a model reads them, column by column: numeric inputs as float32 (NaN = missing; a float32
/// column without nulls is shared, not copied) and categorical inputs as int codes into the input's category list
/// (-1 = missing or a category the model never saw). Learners and predictors read only this, never the table.
/// </summary>
public sealed class FeatureMatrix
{
    private readonly ReadOnlyMemory<float>[] _numeric;
    private readonly int[]?[] _codes;

    private FeatureMatrix(IReadOnlyList<ModelInput> inputs, int rows, ReadOnlyMemory<float>[] numeric, int[]?[] codes)
    {
        Inputs = inputs;
        Rows = rows;
        _numeric = numeric;
        _codes = codes;
    }

    /// <summary>The inputs, in the order features are numbered.</summary>
    public IReadOnlyList<ModelInput> Inputs { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of features.</summary>
    public int Count => Inputs.Count;

    /// <summary>Values of a numeric feature (NaN = missing).</summary>
    public ReadOnlySpan<float> Numeric(int feature) =>
        Inputs[feature].Kind == FeatureKind.Numeric ? _numeric[feature].Span : throw new InvalidOperationException($"feature '{Inputs[feature].Name}' is categorical");

    /// <summary>Codes of a categorical feature (-1 = missing or unseen).</summary>
    public ReadOnlySpan<int> Codes(int feature) =>
        _codes[feature] ?? throw new InvalidOperationException($"feature '{Inputs[feature].Name}' is numeric");

    /// <summary>
    /// The value of a feature at a row as a float: the number, or the category code (-1 → NaN, so "missing" reads the
    /// same way for both kinds).
    /// </summary>
    public float Value(int feature, int row)
    {
        if (_codes[feature] is { } codes)
        {
            var code = codes[row];
            return code < 0 ? float.NaN : code;
        }

        return _numeric[feature].Span[row];
    }

    /// <summary>
    /// Reads the inputs from a table by name. Every input must be present with a usable type; a categorical input of a
    /// model (its categories fixed) maps unseen values to -1.
    /// </summary>
    /// <exception cref="StrataException">A column is missing or has a type the input cannot read (naming each one).</exception>
    public static FeatureMatrix FromTable(Table table, IReadOnlyList<ModelInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(inputs);
        var problems = new List<string>();
        foreach (var input in inputs)
        {
            if (!table.Schema.Contains(input.Name))
            {
                problems.Add($"missing column '{input.Name}' ({input.Type.Name()})");
            }
            else if (!CanRead(table[input.Name].Type, input))
            {
                problems.Add($"column '{input.Name}' is {table[input.Name].Type.Name()}, the model needs {(input.Kind == FeatureKind.Categorical ? "text categories" : "numbers")} ({input.Type.Name()})");
            }
        }

        if (problems.Count > 0)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, "the input does not match the model: " + string.Join("; ", problems));
        }

        var numeric = new ReadOnlyMemory<float>[inputs.Count];
        var codes = new int[]?[inputs.Count];
        for (var f = 0; f < inputs.Count; f++)
        {
            var column = table[inputs[f].Name];
            if (inputs[f].Kind == FeatureKind.Categorical)
            {
                codes[f] = Encode(column, inputs[f].Categories ?? []);
            }
            else
            {
                numeric[f] = ToFloats(column, inputs[f].Name);
            }
        }

        return new FeatureMatrix(inputs, table.RowCount, numeric, codes);
    }

    /// <summary>
    /// The model inputs a table's columns imply: string columns become categorical (categories sorted, so the codes do not
    /// depend on row order), the rest numeric; <paramref name="categorical"/> forces integer or bool columns to categorical.
    /// </summary>
    public static IReadOnlyList<ModelInput> InferInputs(Table table, IEnumerable<string> features, IEnumerable<string>? categorical = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        var forced = new HashSet<string>(categorical ?? [], StringComparer.Ordinal);
        var inputs = new List<ModelInput>();
        foreach (var name in features)
        {
            var column = table[name];
            var kind = column.Type == DataType.String || forced.Contains(name) ? FeatureKind.Categorical : FeatureKind.Numeric;
            if (kind == FeatureKind.Categorical && column.Type is DataType.Float32 or DataType.Float64 or DataType.Timestamp)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"column '{name}' is {column.Type.Name()}: only text, integer or bool columns can be categorical");
            }

            inputs.Add(new ModelInput(name, column.Type, kind, kind == FeatureKind.Categorical ? Categories(column) : null));
        }

        return inputs;
    }

    private static bool CanRead(DataType type, ModelInput input) => input.Kind == FeatureKind.Categorical
        ? type is DataType.String or DataType.Int32 or DataType.Int64 or DataType.Bool
        : type is not DataType.String;

    private static List<string> Categories(Column column)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < column.Length; i++)
        {
            if (!column.IsNull(i))
            {
                values.Add(CategoryText(column, i));
            }
        }

        return values.Order(StringComparer.Ordinal).ToList();
    }

    private static string CategoryText(Column column, int row) => column switch
    {
        StringColumn s => s[row]!,
        Column<bool> b => b[row] ? "true" : "false",
        _ => Convert.ToString(column.GetValue(row), System.Globalization.CultureInfo.InvariantCulture)!,
    };

    private static int[] Encode(Column column, IReadOnlyList<string> categories)
    {
        var lookup = new Dictionary<string, int>(categories.Count, StringComparer.Ordinal);
        for (var i = 0; i < categories.Count; i++)
        {
            lookup[categories[i]] = i;
        }

        var codes = new int[column.Length];
        if (column is StringColumn strings)
        {
            // Translate each dictionary entry once, then every row by its code.
            var map = new int[Math.Max(1, strings.Dictionary.Count)];
            for (var c = 0; c < strings.Dictionary.Count; c++)
            {
                map[c] = lookup.GetValueOrDefault(strings.Dictionary.GetString(c), -1);
            }

            var source = strings.Codes;
            for (var i = 0; i < codes.Length; i++)
            {
                codes[i] = strings.IsNull(i) ? -1 : map[source[i]];
            }

            return codes;
        }

        for (var i = 0; i < codes.Length; i++)
        {
            codes[i] = column.IsNull(i) ? -1 : lookup.GetValueOrDefault(CategoryText(column, i), -1);
        }

        return codes;
    }

    private static ReadOnlyMemory<float> ToFloats(Column column, string name)
    {
        if (column is Column<float> floats && !floats.HasNulls)
        {
            return floats.Buffer.AsMemory(floats.BufferOffset, floats.Length);
        }

        var result = new float[column.Length];
        switch (column)
        {
            case Column<float> f:
                f.Values.CopyTo(result);
                break;
            case Column<double> d:
                System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<double, float>(d.Values, result);
                RefuseOverflow(d, name);
                break;
            case Column<int> i:
                System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<int, float>(i.Values, result);
                break;
            case Column<long> l when column.Type == DataType.Timestamp:
                // Timestamps as seconds since 1970 (float32 keeps about two minutes of resolution for recent dates).
                for (var r = 0; r < result.Length; r++)
                {
                    result[r] = (float)(l[r] / (double)Timestamp.MicrosPerSecond);
                }

                break;
            case Column<long> l:
                System.Numerics.Tensors.TensorPrimitives.ConvertTruncating<long, float>(l.Values, result);
                break;
            case Column<bool> b:
                var bytes = MemoryMarshal.AsBytes(b.Values);
                for (var r = 0; r < result.Length; r++)
                {
                    result[r] = bytes[r];
                }

                break;
            default:
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"a {column.Type.Name()} column is not numeric");
        }

        if (column.HasNulls)
        {
            for (var r = 0; r < result.Length; r++)
            {
                if (column.IsNull(r))
                {
                    result[r] = float.NaN;
                }
            }
        }

        return result;
    }

    /// <summary>How a refusal of a number beyond float32 ends, in training, batch prediction and serving alike.</summary>
    internal static readonly string BeyondFloat32Text = BeyondFloat32Why("float32");

    /// <summary>
    /// The same ending, with float32 named <paramref name="type"/>: serving tells it in the words of the request's API
    /// (Open Inference Protocol's FP32).
    /// </summary>
    internal static string BeyondFloat32Why(string type) =>
        $"beyond the model's features ({type}, at most ±{float.MaxValue.ToString("R", System.Globalization.CultureInfo.InvariantCulture)})";

    /// <summary>True for a finite number that float32 cannot hold: read as a feature, it would become an infinity.</summary>
    internal static bool BeyondFloat32(double value) => double.IsFinite(value) && float.IsInfinity((float)value);

    /// <summary>
    /// Refuses a finite number beyond float32 (1e300), which the conversion made an infinity: the model would read a
    /// value the data never held, so it is named, as XGBoost and scikit-learn refuse it and serving does. An infinity
    /// in the data stays one (trees read it as the largest or smallest value).
    /// </summary>
    private static void RefuseOverflow(Column<double> source, string name)
    {
        var values = source.Values;
        for (var r = 0; r < values.Length; r++)
        {
            if (BeyondFloat32(values[r]) && !source.IsNull(r))
            {
                throw new StrataException(ErrorCodes.DataOutOfRange, $"feature '{name}' is {values[r].ToString("R", System.Globalization.CultureInfo.InvariantCulture)} at row {r + 1}, {BeyondFloat32Text}");
            }
        }
    }
}
