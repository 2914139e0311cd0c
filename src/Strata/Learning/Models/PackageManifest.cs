using System.Globalization;
using System.Text.Json;

namespace Strata.Learning;

/// <summary>
/// The JSON manifest of a model package: written with a fixed key order (so the same model gives the same bytes) and
/// read strictly, checking every field's type and every array's place in the data section before anything is allocated.
/// Unknown keys are ignored, so a later minor revision can add fields that older readers skip.
/// </summary>
internal static class PackageManifest
{
    /// <summary>The value of the manifest's "format" key.</summary>
    public const string FormatName = "strata.model";

    private const int MaxDepth = 8;
    private const int MaxNameLength = 1024;
    private const int MaxArrays = 4096;

    /// <summary>What a manifest describes.</summary>
    public sealed record Content(string Kind, ModelHeader Header, IReadOnlyList<KeyValuePair<string, string>> Values, IReadOnlyList<PackageArray> Arrays);

    public static byte[] Write(ModelHeader header, ModelParameters parameters, IReadOnlyList<PackageArray> arrays)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("format", FormatName);
            json.WriteNumber("format_version", ModelPackage.FormatVersion);
            json.WriteString("kind", parameters.Kind);
            json.WriteString("learner", header.Learner);
            json.WriteString("task", header.Task.Name());
            json.WriteString("output_transform", header.Transform.Name());
            json.WritePropertyName("class_labels");
            WriteStrings(json, header.ClassLabels);
            json.WritePropertyName("signature");
            WriteSignature(json, header.Signature);
            json.WriteStartObject("settings");
            foreach (var (key, value) in header.Settings.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
            json.WriteStartObject("metrics");
            foreach (var (key, value) in header.Metrics.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (double.IsFinite(value))
                {
                    json.WriteNumber(key, value);
                }
                else
                {
                    // JSON has no NaN or infinity; they are written as the strings .NET parses back.
                    json.WriteString(key, value.ToString(CultureInfo.InvariantCulture));
                }
            }

            json.WriteEndObject();
            if (header.Label is { } label)
            {
                json.WriteString("label", label);
            }

            if (header.TrainingDataFingerprint is { } fingerprint)
            {
                json.WriteString("training_data_fingerprint", fingerprint);
            }
            else
            {
                json.WriteNull("training_data_fingerprint");
            }

            json.WriteStartObject("values");
            foreach (var (key, value) in parameters.Values.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                json.WriteString(key, value);
            }

            json.WriteEndObject();
            json.WriteStartArray("arrays");
            foreach (var array in arrays)
            {
                json.WriteStartObject();
                json.WriteString("name", array.Name);
                json.WriteString("type", array.Type.Name());
                json.WriteNumber("length", array.Length);
                json.WriteNumber("offset", array.Offset);
                json.WriteString("sha256", Convert.ToHexStringLower(array.Sha256));
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>A signature as the manifest holds it: named, typed inputs (with their kind and, optionally, categories) and outputs.</summary>
    internal static void WriteSignature(Utf8JsonWriter json, ModelSignature signature, bool categories = true)
    {
        json.WriteStartObject();
        json.WriteStartArray("inputs");
        foreach (var input in signature.Inputs)
        {
            json.WriteStartObject();
            json.WriteString("name", input.Name);
            json.WriteString("type", input.Type.Name());
            json.WriteString("kind", input.Kind == FeatureKind.Categorical ? "categorical" : "numeric");
            if (categories && input.Categories is not null)
            {
                json.WritePropertyName("categories");
                WriteStrings(json, input.Categories);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("outputs");
        foreach (var output in signature.Outputs)
        {
            json.WriteStartObject();
            json.WriteString("name", output.Name);
            json.WriteString("type", output.Type.Name());
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteStrings(Utf8JsonWriter json, IReadOnlyList<string>? values)
    {
        if (values is null)
        {
            json.WriteNullValue();
            return;
        }

        json.WriteStartArray();
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    /// <summary>Parses and checks a manifest.</summary>
    /// <exception cref="DataFormatException">Anything wrong, naming the key (<see cref="ErrorCodes.DataMalformed"/>).</exception>
    public static Content Read(ReadOnlyMemory<byte> manifest, string input)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(manifest, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw Fail(input, $"the manifest is not valid JSON: {e.Message}");
        }

        using (document)
        {
            try
            {
                return Read(document.RootElement, input);
            }
            catch (InvalidOperationException e)
            {
                // GetString refuses text it cannot transcode (a lone surrogate escape); that is malformed input too.
                throw Fail(input, $"the manifest holds invalid text: {e.Message}");
            }
        }
    }

    private static Content Read(JsonElement root, string input)
    {
        var reader = new Reader(input);
        reader.Require(root.ValueKind == JsonValueKind.Object, "the manifest is not a JSON object");
        reader.Require(reader.String(root, "format") == FormatName, $"'format' is not \"{FormatName}\"");
        var version = reader.Property(root, "format_version");
        reader.Require(version.ValueKind == JsonValueKind.Number && version.TryGetInt32(out var v) && v == ModelPackage.FormatVersion,
            $"'format_version' is not {ModelPackage.FormatVersion}");
        var kind = reader.Name(root, "kind");
        var learner = reader.Name(root, "learner");
        reader.Require(LearningNames.TryParseTask(reader.String(root, "task"), out var task), "'task' is not binary, multiclass or regression");
        reader.Require(LearningNames.TryParseTransform(reader.String(root, "output_transform"), out var transform),
            "'output_transform' is not identity, sigmoid, softmax or exp");
        var classLabels = reader.Strings(root, "class_labels", nullable: true, unique: true);
        reader.Require(task switch
        {
            LearningTask.BinaryClassification => classLabels is { Count: 2 },
            LearningTask.MulticlassClassification => classLabels is { Count: >= 2 },
            _ => classLabels is null,
        }, $"'class_labels' do not fit a {task.Name()} model (binary: 2 labels, multiclass: at least 2, regression: null)");

        var signature = reader.Object(root, "signature");
        var inputs = ReadInputs(reader, reader.Array(signature, "inputs"));
        var outputs = new List<ModelOutput>();
        foreach (var output in reader.Array(signature, "outputs").EnumerateArray())
        {
            reader.Require(output.ValueKind == JsonValueKind.Object, "'signature.outputs' holds a non-object");
            reader.Require(DataTypes.TryParse(reader.String(output, "type"), out var type), "an output has an unknown 'type'");
            outputs.Add(new ModelOutput(reader.Name(output, "name"), type));
        }

        reader.Require(outputs.Select(o => o.Name).Distinct(StringComparer.Ordinal).Count() == outputs.Count, "output names repeat");
        var settings = reader.StringMap(root, "settings");
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var metric in reader.Object(root, "metrics").EnumerateObject())
        {
            var value = double.NaN;
            var ok = metric.Value.ValueKind == JsonValueKind.Number
                ? metric.Value.TryGetDouble(out value)
                : metric.Value.ValueKind == JsonValueKind.String
                    && double.TryParse(metric.Value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);
            reader.Require(ok, $"metric '{metric.Name}' is not a number");

            reader.Require(metrics.TryAdd(metric.Name, value), $"metric '{metric.Name}' repeats");
        }

        var fingerprintElement = reader.Property(root, "training_data_fingerprint");
        reader.Require(fingerprintElement.ValueKind is JsonValueKind.String or JsonValueKind.Null, "'training_data_fingerprint' is neither text nor null");
        var fingerprint = fingerprintElement.ValueKind == JsonValueKind.String ? fingerprintElement.GetString() : null;
        string? label = null;
        if (root.TryGetProperty("label", out var labelElement))
        {
            reader.Require(labelElement.ValueKind == JsonValueKind.String, "'label' is not text");
            label = labelElement.GetString();
            reader.Require(label is { Length: > 0 and <= MaxNameLength }, "'label' is empty or too long");
        }

        var values = reader.StringMap(root, "values");
        var arrays = ReadArrays(reader, reader.Array(root, "arrays"));
        var header = new ModelHeader(learner, task, new ModelSignature(inputs, outputs), classLabels, transform, settings, metrics, fingerprint, label);
        return new Content(kind, header, [.. values], arrays);
    }

    private static List<ModelInput> ReadInputs(Reader reader, JsonElement array)
    {
        var inputs = new List<ModelInput>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var element in array.EnumerateArray())
        {
            reader.Require(element.ValueKind == JsonValueKind.Object, "'signature.inputs' holds a non-object");
            var name = reader.Name(element, "name");
            reader.Require(names.Add(name), $"input '{name}' repeats");
            reader.Require(DataTypes.TryParse(reader.String(element, "type"), out var type), $"input '{name}' has an unknown 'type'");
            var kindText = reader.String(element, "kind");
            reader.Require(kindText is "numeric" or "categorical", $"input '{name}' has 'kind' {kindText}, not numeric or categorical");
            var kind = kindText == "categorical" ? FeatureKind.Categorical : FeatureKind.Numeric;
            var categories = element.TryGetProperty("categories", out _) ? reader.Strings(element, "categories", nullable: true, unique: true) : null;
            reader.Require(kind == FeatureKind.Categorical ? categories is not null : categories is null,
                $"input '{name}': categorical inputs list their categories, numeric ones do not");
            inputs.Add(new ModelInput(name, type, kind, categories));
        }

        return inputs;
    }

    /// <summary>
    /// Arrays must sit in manifest order, each at the next 8-byte boundary after the previous one (the only layout a writer
    /// produces), so an edited offset or length is caught here, before any allocation.
    /// </summary>
    private static List<PackageArray> ReadArrays(Reader reader, JsonElement array)
    {
        reader.Require(array.GetArrayLength() <= MaxArrays, $"more than {MaxArrays} arrays");
        var arrays = new List<PackageArray>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        long expectedOffset = 0;
        foreach (var element in array.EnumerateArray())
        {
            reader.Require(element.ValueKind == JsonValueKind.Object, "'arrays' holds a non-object");
            var name = reader.Name(element, "name");
            reader.Require(names.Add(name), $"array '{name}' repeats");
            reader.Require(ElementTypes.TryParse(reader.String(element, "type"), out var type), $"array '{name}' has an unknown element type");
            var length = reader.Int64(element, "length", $"array '{name}'");
            var offset = reader.Int64(element, "offset", $"array '{name}'");
            reader.Require(length >= 0 && length <= Array.MaxLength / type.Size(), $"array '{name}' has length {length}, outside 0..{Array.MaxLength / type.Size()}");
            reader.Require(offset == expectedOffset, $"array '{name}' is at offset {offset}, expected {expectedOffset} (arrays follow each other on 8-byte boundaries)");
            var hex = reader.String(element, "sha256");
            reader.Require(hex is { Length: 64 } && hex.All(char.IsAsciiHexDigitLower), $"array '{name}' has no lower-case hex SHA-256");
            var entry = new PackageArray(name, type, length, offset, Convert.FromHexString(hex!));
            arrays.Add(entry);
            expectedOffset = ModelPackage.Align8(offset + entry.ByteLength);
        }

        return arrays;
    }

    private static DataFormatException Fail(string input, string detail) =>
        new(ErrorCodes.DataMalformed, "manifest: " + detail, new DataLocation(input, ByteOffset: ModelPackage.HeaderBytes));

    /// <summary>Typed access to manifest keys that fails with a message naming the key.</summary>
    private readonly struct Reader(string input)
    {
        public void Require(bool condition, string detail)
        {
            if (!condition)
            {
                throw Fail(input, detail);
            }
        }

        public JsonElement Property(JsonElement element, string key)
        {
            Require(element.TryGetProperty(key, out var value), $"'{key}' is missing");
            return value;
        }

        public string? String(JsonElement element, string key)
        {
            var value = Property(element, key);
            Require(value.ValueKind == JsonValueKind.String, $"'{key}' is not text");
            return value.GetString();
        }

        public string Name(JsonElement element, string key)
        {
            var value = String(element, key);
            Require(value is { Length: > 0 and <= MaxNameLength }, $"'{key}' is empty or longer than {MaxNameLength} characters");
            return value!;
        }

        public long Int64(JsonElement element, string key, string owner)
        {
            var value = Property(element, key);
            Require(value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _), $"{owner}: '{key}' is not an integer");
            return value.GetInt64();
        }

        public JsonElement Object(JsonElement element, string key)
        {
            var value = Property(element, key);
            Require(value.ValueKind == JsonValueKind.Object, $"'{key}' is not an object");
            return value;
        }

        public JsonElement Array(JsonElement element, string key)
        {
            var value = Property(element, key);
            Require(value.ValueKind == JsonValueKind.Array, $"'{key}' is not an array");
            return value;
        }

        public List<string>? Strings(JsonElement element, string key, bool nullable, bool unique)
        {
            var value = Property(element, key);
            if (nullable && value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            Require(value.ValueKind == JsonValueKind.Array, $"'{key}' is not an array");
            var result = new List<string>(value.GetArrayLength());
            foreach (var item in value.EnumerateArray())
            {
                Require(item.ValueKind == JsonValueKind.String, $"'{key}' holds a non-string");
                result.Add(item.GetString()!);
            }

            Require(!unique || result.Distinct(StringComparer.Ordinal).Count() == result.Count, $"'{key}' holds repeated values");
            return result;
        }

        public Dictionary<string, string> StringMap(JsonElement element, string key)
        {
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in Object(element, key).EnumerateObject())
            {
                Require(property.Value.ValueKind == JsonValueKind.String, $"'{key}.{property.Name}' is not text");
                Require(map.TryAdd(property.Name, property.Value.GetString()!), $"'{key}.{property.Name}' repeats");
            }

            return map;
        }
    }
}
