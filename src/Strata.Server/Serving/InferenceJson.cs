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
/// Tensors may also travel as binary data after the JSON (the binary tensor data extension, in
/// <c>InferenceJson.Binary.cs</c>), which Triton's clients send by default.
/// </summary>
internal static partial class InferenceJson
{
    /// <summary>Deepest JSON accepted (nested tensor data included).</summary>
    public const int MaxDepth = 16;

    /// <summary>Most values in one request's tensors.</summary>
    public const long MaxElements = 10_000_000;

    /// <summary>A tensor's shape as errors show it: <c>[3,11]</c>.</summary>
    private static string ShapeText(long[] shape) => $"[{string.Join(',', shape)}]";

    /// <summary>
    /// The request parsed: its id (echoed), the columns, the outputs asked for (null: all), which outputs go back as
    /// binary data (an output's own <c>binary_data</c>, else the request's <c>binary_data_output</c>), and how the
    /// runtime's errors word what it carries: tensors, their elements and the batch, since the request has no rows.
    /// </summary>
    public sealed record InferRequest(
        string? Id, PredictionInput Input, IReadOnlyList<string>? Outputs, bool BinaryByDefault, IReadOnlyDictionary<string, bool> BinaryByOutput, RequestNaming Naming)
    {
        /// <summary>True when <paramref name="output"/> is to be answered as binary data.</summary>
        public bool Binary(string output) => BinaryByOutput.TryGetValue(output, out var binary) ? binary : BinaryByDefault;
    }

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

    /// <summary>
    /// Parses an inference request for <paramref name="model"/> (the endpoint, as the path names it) with the given inputs;
    /// <paramref name="binary"/> is the body after the JSON (see <see cref="Split"/>), which the tensors that declare
    /// <c>binary_data_size</c> take in order.
    /// </summary>
    /// <exception cref="StrataException">Any departure from the protocol (naming the field or tensor).</exception>
    public static InferRequest Parse(JsonElement root, string model, IReadOnlyList<ModelInput> inputs, ReadOnlySequence<byte> binary = default)
    {
        try
        {
            return ParseUnchecked(root, model, inputs, binary);
        }
        catch (InvalidOperationException e)
        {
            throw Http.RequestJson.NotUtf8(e);
        }
    }

    private static InferRequest ParseUnchecked(JsonElement root, string model, IReadOnlyList<ModelInput> inputs, ReadOnlySequence<byte> binary)
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

        var binaryByDefault = false;
        if (root.TryGetProperty("parameters", out var parameters))
        {
            binaryByDefault = BinaryParameter(parameters, "binary_data_output", "field 'parameters'") ?? false;
        }

        if (!root.TryGetProperty("inputs", out var tensors) || tensors.ValueKind != JsonValueKind.Array || tensors.GetArrayLength() == 0)
        {
            throw Invalid("field 'inputs' must be a non-empty array of tensors");
        }

        List<string>? outputs = null;
        var binaryByOutput = new Dictionary<string, bool>(StringComparer.Ordinal);
        if (root.TryGetProperty("outputs", out var requested))
        {
            if (requested.ValueKind != JsonValueKind.Array)
            {
                throw Invalid("field 'outputs' must be an array of {\"name\": …}");
            }

            // NOTE: an empty list asks for every output, as an absent one does (Triton answers both alike).
            outputs = requested.GetArrayLength() == 0 ? null : [];
            foreach (var output in requested.EnumerateArray())
            {
                var name = output.ValueKind == JsonValueKind.Object && output.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                    ? n.GetString()!
                    : throw Invalid("every entry of 'outputs' must be an object with a string 'name'");
                var own = output.TryGetProperty("parameters", out var given) ? BinaryParameter(given, "binary_data", $"output '{name}': field 'parameters'") : null;
                // Triton's top-k class names in place of the output: answering the plain output instead would mislead.
                if (given.ValueKind == JsonValueKind.Object && given.TryGetProperty("classification", out _))
                {
                    throw Invalid($"output '{name}': parameter 'classification' (top-k class names) is not supported; ask for the probability outputs");
                }

                if (!binaryByOutput.TryAdd(name, own ?? binaryByDefault))
                {
                    throw Invalid($"output '{name}' is asked for twice in 'outputs'");
                }

                outputs!.Add(name);
            }
        }

        var data = new BinaryData(binary);
        var parsed = tensors.EnumerateArray().Select((t, i) => Tensor.Read(t, i, data)).ToList();
        data.CheckAllTaken();
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

            return new InferRequest(
                id, new PredictionInput(rows, inputs.Select((m, f) => (m.Name, builders[f].Build())).ToDictionary(p => p.Name, p => p.Item2, StringComparer.Ordinal)),
                outputs, binaryByDefault, binaryByOutput, TensorNaming.OneOfAll(model, tensor, inputs));
        }

        var count = -1L;
        var columns = new Dictionary<string, InputColumn>(StringComparer.Ordinal);
        var first = parsed[0];
        foreach (var tensor in parsed)
        {
            var n = tensor.Shape.Length switch
            {
                1 => tensor.Shape[0],
                2 when tensor.Shape[1] == 1 => tensor.Shape[0],
                _ => throw Invalid($"input tensor '{tensor.Name}' has shape {ShapeText(tensor.Shape)}; each input must be [N] or [N,1] (or send one [N,{inputs.Count}] tensor of every input in order)"),
            };
            if (count >= 0 && n != count)
            {
                throw Invalid(
                    $"input tensor '{tensor.Name}' has shape {ShapeText(tensor.Shape)} and input tensor '{first.Name}' shape {ShapeText(first.Shape)}; "
                    + "the input tensors need the same batch size, their first dimension");
            }

            count = n;
            var builder = new PredictJson.ColumnBuilder((int)n);
            for (var r = 0; r < n; r++)
            {
                tensor.SetInto(builder, r, r);
            }

            columns[tensor.Name] = builder.Build();
        }

        return new InferRequest(id, new PredictionInput((int)count, columns), outputs, binaryByDefault, binaryByOutput, TensorNaming.OnePerInput(model, columns, first));
    }

    /// <summary>
    /// Writes the inference response: model name and version, the request's id, and the output tensors asked for, each
    /// as JSON data or, when the request asks for it, as binary data after the JSON. Returns the JSON's length when
    /// binary data follows it (the caller sends it as <see cref="HeaderLengthHeader"/>), else null.
    /// </summary>
    /// <exception cref="StrataException">An output asked for that the model does not have.</exception>
    public static int? WriteResponse(ArrayBufferWriter<byte> buffer, string modelName, string id, PredictionOutput output, IReadOnlyList<ModelOutput> signature, InferRequest request)
    {
        CheckOutputs(request, signature);
        var wanted = request.Outputs;
        var answered = signature.Where(s => wanted is null || wanted.Contains(s.Name)).ToList();
        var binary = answered.Where(o => request.Binary(o.Name)).ToList();
        ArrayBufferWriter<byte>? blobs = binary.Count > 0 ? new(256) : null;
        var sizes = blobs is null ? null : WriteBinaryOutputs(blobs, binary, output);
        var start = buffer.WrittenCount;
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model_name", modelName);
            json.WriteString("model_version", output.Version.ToString(CultureInfo.InvariantCulture));
            json.WriteString("id", id);
            json.WriteStartArray("outputs");
            foreach (var o in answered)
            {
                json.WriteStartObject();
                json.WriteString("name", o.Name);
                json.WriteStartArray("shape");
                json.WriteNumberValue(output.Rows);
                json.WriteEndArray();
                json.WriteString("datatype", Datatype(o.Type));
                if (sizes is not null && sizes.TryGetValue(o.Name, out var size))
                {
                    json.WriteStartObject("parameters");
                    json.WriteNumber("binary_data_size", size);
                    json.WriteEndObject();
                }
                else
                {
                    var values = new OutputValues(o, output);
                    json.WriteStartArray("data");
                    for (var r = 0; r < output.Rows; r++)
                    {
                        if (values.Text(r) is { } text)
                        {
                            json.WriteStringValue(text);
                        }
                        else
                        {
                            json.WriteNumberValue(values.Number(r));
                        }
                    }

                    json.WriteEndArray();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        if (blobs is null)
        {
            return null;
        }

        var length = buffer.WrittenCount - start;
        buffer.Write(blobs.WrittenSpan);
        return length;
    }

    /// <summary>
    /// Refuses an output asked for that the model does not have: before predicting (a refused request is then neither
    /// predicted nor logged), and again for the version that answered.
    /// </summary>
    /// <exception cref="StrataException">The first such output, with the ones the model has.</exception>
    public static void CheckOutputs(InferRequest request, IReadOnlyList<ModelOutput> signature)
    {
        if (request.Outputs?.FirstOrDefault(w => !signature.Any(s => s.Name == w)) is { } unknown)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, signature.Count == 0
                ? $"the model has no output '{unknown}' (its versions have no output in common)"
                : $"the model has no output '{unknown}' (it has {string.Join(", ", signature.Select(s => s.Name))})");
        }
    }

    private static StrataException Invalid(string message) => new(ErrorCodes.ArgumentInvalid, message);

    /// <summary>One output's value in each row: the label's text, or a number (prediction or a class's probability).</summary>
    private readonly struct OutputValues
    {
        private readonly PredictionOutput _output;
        private readonly bool _label;
        private readonly bool _prediction;
        private readonly int _classes;
        private readonly int _class;

        public OutputValues(ModelOutput o, PredictionOutput output)
        {
            _output = output;
            _label = o.Name == "label";
            _prediction = o.Name == "prediction";
            _classes = output.ClassLabels?.Count ?? 0;
            _class = o.Name == "probability" ? 1
                : o.Name.StartsWith("probability_", StringComparison.Ordinal) ? output.ClassLabels!.ToList().IndexOf(o.Name["probability_".Length..])
                : -1;
        }

        public string? Text(int row) => _label ? _output.Labels![row] : null;

        public double Number(int row) => _prediction ? _output.Values![row] : _output.Probabilities![(row * _classes) + _class];
    }

    /// <summary>
    /// One request tensor: name, shape, datatype and its data flattened in row-major order, as JSON values or, for a
    /// tensor sent as binary data, the values decoded from it.
    /// </summary>
    private sealed class Tensor
    {
        private Tensor(string name, long[] shape, string datatype, List<JsonElement> data, BinaryValues? binary = null)
        {
            Name = name;
            Shape = shape;
            Datatype = datatype;
            Data = data;
            Binary = binary;
        }

        public string Name { get; }

        public long[] Shape { get; }

        public string Datatype { get; }

        public List<JsonElement> Data { get; }

        private BinaryValues? Binary { get; }

        public static Tensor Read(JsonElement t, int index, BinaryData binary)
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
            if (datatype != "BYTES" && ElementSize(datatype) == 0) // the fixed-size datatypes are the ones with a size
            {
                throw Invalid($"input tensor '{name}': unknown datatype '{datatype}' (BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BYTES)");
            }

            if (BinaryDataSize(t, name) is { } byteCount)
            {
                return t.TryGetProperty("data", out _)
                    ? throw Invalid($"input tensor '{name}' has both 'data' and a 'binary_data_size'; its values must be in one of them")
                    : new Tensor(name, shape, datatype, [], BinaryValues.Read(name, datatype, elements, binary.Take(byteCount, name)));
            }

            if (!t.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            {
                throw Invalid($"input tensor '{name}' needs 'data', an array (flat, row-major, or nested)");
            }

            var flat = new List<JsonElement>((int)Math.Min(elements, 1 << 16));
            Flatten(data, flat, name, shape);
            if (flat.Count != elements)
            {
                throw Invalid($"input tensor '{name}' has shape {ShapeText(shape)}, which holds {elements} values, but its data holds {flat.Count}");
            }

            var tensor = new Tensor(name, shape, datatype, flat);
            tensor.CheckTypes();
            return tensor;
        }

        public void SetInto(PredictJson.ColumnBuilder builder, int element, int row)
        {
            if (Binary is not null)
            {
                Binary.SetInto(builder, element, row);
                return;
            }

            var value = Data[element];
            switch (Datatype)
            {
                case "BYTES":
                    builder.SetText(row, value.GetString());
                    break;
                case "BOOL":
                    builder.SetBoolean(row, value.ValueKind == JsonValueKind.True);
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
                    // A float narrower than a double must hold the value, as an integer type must.
                    "FP16" => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var h) && Math.Abs(h) <= (double)Half.MaxValue,
                    "FP32" => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var f) && float.IsFinite((float)f),
                    "FP64" => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d),
                    _ => v.ValueKind == JsonValueKind.Number && IntegerFits(v),
                };
                if (!ok)
                {
                    throw Invalid($"input tensor '{Name}': data[{i}] {Problem(v)}");
                }
            }
        }

        /// <summary>What is wrong with a value that does not fit the datatype, in the caller's terms.</summary>
        private string Problem(JsonElement v)
        {
            if (v.ValueKind != JsonValueKind.Number)
            {
                return $"is {PredictJson.Kind(v)}, not {(Datatype == "BYTES" ? "text" : Datatype == "BOOL" ? "true or false" : "a number")} ({Datatype})";
            }

            var text = v.GetRawText();
            text = text.Length > 32 ? text[..31] + "…" : text;
            var (min, max, _, _) = IntegerRange(); // read by the last case only: an integer datatype
            return Datatype switch
            {
                "BYTES" => $"is a number ({text}), not text (BYTES)",
                "BOOL" => $"is a number ({text}), not true or false (BOOL)",
                "FP16" => $"is {text}, beyond FP16's range (±65504)",
                "FP32" => $"is {text}, beyond FP32's range (±3.4E+38)",
                "FP64" => $"is {text}, beyond FP64's range",
                _ when !v.TryGetDouble(out var d) || d != Math.Floor(d) => $"is {text}, not a whole number ({Datatype})",
                _ => $"is {text}, beyond {Datatype}'s range ({min} to {max})",
            };
        }

        /// <summary>An integer datatype's bounds, as text (for messages) and as decimals (exact, where a double rounds 2^63 + 1 to 2^63).</summary>
        private (string Min, string Max, decimal Low, decimal High) IntegerRange() => Datatype switch
        {
            "INT8" => ("-128", "127", sbyte.MinValue, sbyte.MaxValue),
            "INT16" => ("-32768", "32767", short.MinValue, short.MaxValue),
            "INT32" => ("-2147483648", "2147483647", int.MinValue, int.MaxValue),
            "INT64" => ("-9223372036854775808", "9223372036854775807", long.MinValue, long.MaxValue),
            "UINT8" => ("0", "255", 0, byte.MaxValue),
            "UINT16" => ("0", "65535", 0, ushort.MaxValue),
            "UINT32" => ("0", "4294967295", 0, uint.MaxValue),
            _ => ("0", "18446744073709551615", 0, ulong.MaxValue),
        };

        private bool IntegerFits(JsonElement v)
        {
            // A whole number written as a float (1.0, 1e3: how many clients write every number) is that integer.
            if (!v.TryGetInt64(out _) && !v.TryGetUInt64(out _))
            {
                var (_, _, low, high) = IntegerRange();
                return v.TryGetDouble(out var d) && d == Math.Floor(d) && v.TryGetDecimal(out var exact) && exact >= low && exact <= high;
            }

            if (Datatype.StartsWith('U'))
            {
                if (!v.TryGetUInt64(out var u))
                {
                    return v.TryGetInt64(out var signed) && signed == 0; // -0, as -0.0 is
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

        /// <summary>
        /// The values of <c>data</c> in row-major order: flat, or nested exactly as the shape is (every array as long as
        /// its dimension, values only at the last one). Nested data that merely holds the right count would let one row
        /// lend values to the next, and answer for rows the caller never sent.
        /// </summary>
        private static void Flatten(JsonElement data, List<JsonElement> into, string name, long[] shape)
        {
            var nested = false;
            foreach (var item in data.EnumerateArray())
            {
                nested |= item.ValueKind == JsonValueKind.Array;
            }

            if (nested)
            {
                Nested(data, into, name, shape, new int[shape.Length], 0);
                return;
            }

            foreach (var item in data.EnumerateArray())
            {
                into.Add(item);
                if (into.Count > MaxElements)
                {
                    throw new StrataException(ErrorCodes.DataLimit, $"input tensor '{name}' holds more than {MaxElements} values");
                }
            }
        }

        private static void Nested(JsonElement array, List<JsonElement> into, string name, long[] shape, int[] index, int depth)
        {
            // The shape has already bounded the count (at most MaxElements), and every array here is checked against it.
            string At() => "data" + string.Concat(index.Take(depth).Select(i => $"[{i}]"));
            string Shape() => $"shape {ShapeText(shape)}";
            if (array.GetArrayLength() != shape[depth])
            {
                throw Invalid($"input tensor '{name}': {At()} holds {array.GetArrayLength()} items, but {Shape()} needs {shape[depth]} there");
            }

            index[depth] = 0;
            var last = depth == shape.Length - 1;
            foreach (var item in array.EnumerateArray())
            {
                if ((item.ValueKind == JsonValueKind.Array) == last)
                {
                    var at = At() + $"[{index[depth]}]";
                    throw Invalid(last
                        ? $"input tensor '{name}': {at} is an array, but {Shape()} has {shape.Length} dimensions"
                        : $"input tensor '{name}': {at} is {PredictJson.Kind(item)}, but {Shape()} needs an array of {shape[depth + 1]} there");
                }

                if (last)
                {
                    into.Add(item);
                }
                else
                {
                    Nested(item, into, name, shape, index, depth + 1);
                }

                index[depth]++;
            }
        }
    }
}
