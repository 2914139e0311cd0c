using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Strata.Learning;
using Strata.Serving;

namespace Strata.Server.Serving;

/// <summary>
/// The Open Inference Protocol (KServe V2) JSON: request tensors into named columns (one tensor per input of shape
/// [N] or [N, 1], or one [N, F] tensor holding every input in signature order) and the model's outputs back as
/// tensors. Datatypes and shapes are checked exactly as the protocol states them; every mismatch names the tensor.
/// </summary>
internal static class InferenceJson
{
    /// <summary>Deepest JSON accepted (nested tensor data included).</summary>
    public const int MaxDepth = 16;

    /// <summary>Most values in one request's tensors.</summary>
    public const long MaxElements = 10_000_000;

    private static readonly HashSet<string> NumericTypes = new(StringComparer.Ordinal)
    {
        "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64",
    };

    /// <summary>The request parsed: its id (echoed), the columns, and the outputs asked for (null: all).</summary>
    public sealed record InferRequest(string? Id, PredictionInput Input, IReadOnlyList<string>? Outputs);

    /// <summary>The protocol's datatype of a model input or output.</summary>
    public static string Datatype(DataType type, FeatureKind kind = FeatureKind.Numeric) => kind == FeatureKind.Categorical ? "BYTES" : type switch
    {
        DataType.Bool => "BOOL",
        DataType.Int32 => "INT32",
        DataType.Int64 or DataType.Timestamp => "INT64",
        DataType.Float32 => "FP32",
        DataType.Float64 => "FP64",
        _ => "BYTES",
    };

    /// <summary>Parses an inference request for a model with the given inputs.</summary>
    /// <exception cref="StrataException">Any departure from the protocol (naming the field or tensor).</exception>
    public static InferRequest Parse(JsonElement root, IReadOnlyList<ModelInput> inputs)
    {
        try
        {
            return ParseUnchecked(root, inputs);
        }
        catch (InvalidOperationException e)
        {
            throw PredictJson.NotUtf8(e);
        }
    }

    private static InferRequest ParseUnchecked(JsonElement root, IReadOnlyList<ModelInput> inputs)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("the body must be an inference request object with 'inputs'");
        }

        string? id = null;
        if (root.TryGetProperty("id", out var idElement))
        {
            id = idElement.ValueKind == JsonValueKind.String ? idElement.GetString() : throw Invalid("field 'id' must be a string");
        }

        if (root.TryGetProperty("parameters", out var parameters) && parameters.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("field 'parameters' must be an object");
        }

        if (!root.TryGetProperty("inputs", out var tensors) || tensors.ValueKind != JsonValueKind.Array || tensors.GetArrayLength() == 0)
        {
            throw Invalid("field 'inputs' must be a non-empty array of tensors");
        }

        List<string>? outputs = null;
        if (root.TryGetProperty("outputs", out var requested))
        {
            if (requested.ValueKind != JsonValueKind.Array)
            {
                throw Invalid("field 'outputs' must be an array of {\"name\": …}");
            }

            outputs = [];
            foreach (var output in requested.EnumerateArray())
            {
                outputs.Add(output.ValueKind == JsonValueKind.Object && output.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                    ? n.GetString()!
                    : throw Invalid("every entry of 'outputs' must be an object with a string 'name'"));
            }
        }

        var parsed = tensors.EnumerateArray().Select((t, i) => Tensor.Read(t, i)).ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in parsed)
        {
            if (!names.Add(tensor.Name))
            {
                throw Invalid($"input tensor '{tensor.Name}' is given twice");
            }
        }

        // One [N, F] tensor that is not itself an input: the rows of every input, in signature order.
        if (parsed.Count == 1 && parsed[0].Shape.Length == 2 && parsed[0].Shape[1] == inputs.Count && inputs.Count > 1
            && !inputs.Any(i => i.Name == parsed[0].Name))
        {
            var tensor = parsed[0];
            var rows = checked((int)tensor.Shape[0]);
            var builders = inputs.Select(_ => new PredictJson.ColumnBuilder(rows)).ToArray();
            for (var r = 0; r < rows; r++)
            {
                for (var f = 0; f < inputs.Count; f++)
                {
                    tensor.SetInto(builders[f], (r * inputs.Count) + f, r);
                }
            }

            return new InferRequest(id, new PredictionInput(rows, inputs.Select((m, f) => (m.Name, builders[f].Build())).ToDictionary(p => p.Name, p => p.Item2, StringComparer.Ordinal)), outputs);
        }

        var count = -1L;
        var columns = new Dictionary<string, InputColumn>(StringComparer.Ordinal);
        foreach (var tensor in parsed)
        {
            var n = tensor.Shape.Length switch
            {
                1 => tensor.Shape[0],
                2 when tensor.Shape[1] == 1 => tensor.Shape[0],
                _ => throw Invalid($"input tensor '{tensor.Name}' has shape [{string.Join(',', tensor.Shape)}]; each input must be [N] or [N,1] (or send one [N,{inputs.Count}] tensor of every input in order)"),
            };
            if (count >= 0 && n != count)
            {
                throw Invalid($"input tensor '{tensor.Name}' has {n} rows; the other inputs have {count}");
            }

            count = n;
            var builder = new PredictJson.ColumnBuilder((int)n);
            for (var r = 0; r < n; r++)
            {
                tensor.SetInto(builder, r, r);
            }

            columns[tensor.Name] = builder.Build();
        }

        return new InferRequest(id, new PredictionInput((int)count, columns), outputs);
    }

    /// <summary>Writes the inference response: model name and version, the request's id, and the output tensors.</summary>
    /// <exception cref="StrataException">An output asked for that the model does not have.</exception>
    public static void WriteResponse(IBufferWriter<byte> buffer, string modelName, string id, PredictionOutput output, IReadOnlyList<ModelOutput> signature, IReadOnlyList<string>? wanted)
    {
        if (wanted?.FirstOrDefault(w => !signature.Any(s => s.Name == w)) is { } unknown)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"the model has no output '{unknown}' (it has {string.Join(", ", signature.Select(s => s.Name))})");
        }

        using var json = new Utf8JsonWriter(buffer);
        json.WriteStartObject();
        json.WriteString("model_name", modelName);
        json.WriteString("model_version", output.Version.ToString(CultureInfo.InvariantCulture));
        json.WriteString("id", id);
        json.WriteStartArray("outputs");
        var classes = output.ClassLabels?.Count ?? 0;
        foreach (var o in signature.Where(s => wanted is null || wanted.Contains(s.Name)))
        {
            json.WriteStartObject();
            json.WriteString("name", o.Name);
            json.WriteStartArray("shape");
            json.WriteNumberValue(output.Rows);
            json.WriteEndArray();
            json.WriteString("datatype", Datatype(o.Type));
            json.WriteStartArray("data");
            for (var r = 0; r < output.Rows; r++)
            {
                if (o.Name == "label")
                {
                    json.WriteStringValue(output.Labels![r]);
                }
                else if (o.Name == "prediction")
                {
                    json.WriteNumberValue(output.Values![r]);
                }
                else if (o.Name == "probability")
                {
                    json.WriteNumberValue(output.Probabilities![(r * classes) + 1]);
                }
                else
                {
                    var c = output.ClassLabels!.ToList().IndexOf(o.Name["probability_".Length..]);
                    json.WriteNumberValue(output.Probabilities![(r * classes) + c]);
                }
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static StrataException Invalid(string message) => new(ErrorCodes.ArgumentInvalid, message);

    /// <summary>One request tensor: name, shape, datatype and its data flattened in row-major order.</summary>
    private sealed class Tensor
    {
        private Tensor(string name, long[] shape, string datatype, List<JsonElement> data)
        {
            Name = name;
            Shape = shape;
            Datatype = datatype;
            Data = data;
        }

        public string Name { get; }

        public long[] Shape { get; }

        public string Datatype { get; }

        public List<JsonElement> Data { get; }

        public static Tensor Read(JsonElement t, int index)
        {
            if (t.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"inputs[{index}] must be a tensor object (name, shape, datatype, data)");
            }

            var name = t.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() is { Length: > 0 } text
                ? text
                : throw Invalid($"inputs[{index}] needs a non-empty string 'name'");
            if (!t.TryGetProperty("shape", out var s) || s.ValueKind != JsonValueKind.Array || s.GetArrayLength() is 0 or > 8)
            {
                throw Invalid($"input tensor '{name}' needs 'shape', an array of 1 to 8 sizes");
            }

            var shape = new long[s.GetArrayLength()];
            var i = 0;
            var elements = 1L;
            foreach (var d in s.EnumerateArray())
            {
                if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var size) || size < 0 || size > MaxElements)
                {
                    throw Invalid($"input tensor '{name}': every size in 'shape' must be a whole number from 0 to {MaxElements}");
                }

                shape[i++] = size;
                elements *= size;
                if (elements > MaxElements)
                {
                    throw new StrataException(ErrorCodes.DataLimit, $"input tensor '{name}' holds more than {MaxElements} values");
                }
            }

            var datatype = t.TryGetProperty("datatype", out var dt) && dt.ValueKind == JsonValueKind.String ? dt.GetString()! : throw Invalid($"input tensor '{name}' needs a string 'datatype'");
            if (datatype != "BYTES" && datatype != "BOOL" && !NumericTypes.Contains(datatype))
            {
                throw Invalid($"input tensor '{name}': unknown datatype '{datatype}' (BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BYTES)");
            }

            if (!t.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                throw Invalid($"input tensor '{name}' needs 'data', an array (flat, row-major, or nested)");
            }

            var flat = new List<JsonElement>((int)Math.Min(elements, 1 << 16));
            Flatten(data, flat, name);
            if (flat.Count != elements)
            {
                throw Invalid($"input tensor '{name}' has shape [{string.Join(',', shape)}], which holds {elements} values, but its data holds {flat.Count}");
            }

            var tensor = new Tensor(name, shape, datatype, flat);
            tensor.CheckTypes();
            return tensor;
        }

        public void SetInto(PredictJson.ColumnBuilder builder, int element, int row)
        {
            var value = Data[element];
            switch (Datatype)
            {
                case "BYTES":
                    builder.SetText(row, value.GetString());
                    break;
                case "BOOL":
                    builder.SetNumber(row, value.ValueKind == JsonValueKind.True ? 1 : 0);
                    break;
                default:
                    builder.SetNumber(row, value.GetDouble());
                    break;
            }
        }

        private void CheckTypes()
        {
            for (var i = 0; i < Data.Count; i++)
            {
                var v = Data[i];
                var ok = Datatype switch
                {
                    "BYTES" => v.ValueKind == JsonValueKind.String,
                    "BOOL" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
                    // A float narrower than a double must hold the value, as an integer type must (FP16 up to ±65504).
                    "FP16" => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var h) && Half.IsFinite((Half)h),
                    "FP32" => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var f) && float.IsFinite((float)f),
                    "FP64" => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d),
                    _ => v.ValueKind == JsonValueKind.Number && IntegerFits(v),
                };
                if (!ok)
                {
                    throw Invalid($"input tensor '{Name}': data[{i}] is {PredictJson.Kind(v)}{(v.ValueKind == JsonValueKind.Number ? " out of range" : "")}, not a {Datatype} value");
                }
            }
        }

        private bool IntegerFits(JsonElement v)
        {
            if (Datatype.StartsWith('U'))
            {
                if (!v.TryGetUInt64(out var u))
                {
                    return false;
                }

                return Datatype switch { "UINT8" => u <= byte.MaxValue, "UINT16" => u <= ushort.MaxValue, "UINT32" => u <= uint.MaxValue, _ => true };
            }

            if (!v.TryGetInt64(out var l))
            {
                return false;
            }

            return Datatype switch
            {
                "INT8" => l is >= sbyte.MinValue and <= sbyte.MaxValue,
                "INT16" => l is >= short.MinValue and <= short.MaxValue,
                "INT32" => l is >= int.MinValue and <= int.MaxValue,
                _ => true,
            };
        }

        private static void Flatten(JsonElement data, List<JsonElement> into, string name)
        {
            foreach (var item in data.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Array)
                {
                    Flatten(item, into, name);
                }
                else
                {
                    into.Add(item);
                }

                if (into.Count > MaxElements)
                {
                    throw new StrataException(ErrorCodes.DataLimit, $"input tensor '{name}' holds more than {MaxElements} values");
                }
            }
        }
    }
}
