using System.Globalization;
using System.Text.Json;

namespace Strata.Learning;

/// <summary>
/// Reads a tree model that XGBoost saved as JSON (<c>booster.save_model("model.json")</c>, format of XGBoost 1.0 and
/// later) into a <see cref="TreeEnsembleModel"/> with learner "xgboost" that predicts what XGBoost predicts.
/// </summary>
/// <remarks>
/// <para>Objectives: <c>binary:logistic</c>, <c>reg:squarederror</c> (and its old name <c>reg:linear</c>),
/// <c>multi:softprob</c> and <c>multi:softmax</c> (both give class probabilities and the label). Boosters: <c>gbtree</c>
/// only; <c>gblinear</c> and <c>dart</c> are refused.</para>
/// <para>Inputs are float32 numbers named after the model's feature names (f0, f1… when it has none). A feature XGBoost
/// treats as categorical (type "c") takes the category's code as a number. Splits keep XGBoost's semantics exactly:
/// numeric ones go left when value &lt; condition, missing values follow default_left, and a categorical split sends
/// the codes in its list right and every other code left (also codes never seen in training). Two inputs differ from
/// XGBoost 1.7 by Strata's convention that they mean "missing": negative codes (XGBoost: left) and fractional codes
/// (XGBoost truncates them).</para>
/// <para>The file is untrusted input: its size and JSON depth are limited, and every array length, child pointer,
/// feature index and category is checked; each tree must be a tree (every node reached once from the root).</para>
/// </remarks>
public static class XGBoostImporter
{
    /// <summary>The learner name of imported models.</summary>
    public const string LearnerName = "xgboost";

    /// <summary>Reads a model from a JSON file.</summary>
    /// <exception cref="StrataException">The file is missing, malformed (<see cref="ErrorCodes.DataMalformed"/>), beyond a limit, or uses an unsupported objective or booster (<see cref="ErrorCodes.DataUnsupported"/>).</exception>
    public static TreeEnsembleModel Load(string path, XGBoostImportLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        FileStream stream;
        try
        {
            stream = File.OpenRead(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StrataException(ErrorCodes.NotFound, $"no XGBoost model at '{path}'", e);
        }

        using (stream)
        {
            return Load(stream, limits ?? XGBoostImportLimits.Default, Path.GetFileName(path));
        }
    }

    /// <summary>Reads a model from a stream holding the JSON (from its position to its end).</summary>
    /// <exception cref="StrataException">Malformed (<see cref="ErrorCodes.DataMalformed"/>), beyond a limit, or an unsupported objective or booster (<see cref="ErrorCodes.DataUnsupported"/>).</exception>
    public static TreeEnsembleModel Load(Stream stream, XGBoostImportLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return Load(stream, limits ?? XGBoostImportLimits.Default, "XGBoost model");
    }

    private static TreeEnsembleModel Load(Stream stream, XGBoostImportLimits limits, string input)
    {
        var bytes = NonFiniteToNull(ReadAll(stream, limits.MaxBytes, input));
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = limits.MaxJsonDepth });
        }
        catch (JsonException e)
        {
            throw new DataFormatException(ErrorCodes.DataMalformed, $"not valid JSON: {e.Message}", new DataLocation(input), e);
        }

        using (document)
        {
            try
            {
                return new Importer(input, limits).Read(document.RootElement);
            }
            catch (InvalidOperationException e)
            {
                // GetString refuses text it cannot transcode (a lone surrogate escape): malformed input, not a bug.
                throw new DataFormatException(ErrorCodes.DataMalformed, e.Message, new DataLocation(input), e);
            }
        }
    }

    private static byte[] ReadAll(Stream stream, long limit, string input)
    {
        if (stream.CanSeek && stream.Length - stream.Position > limit)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"{input}: {stream.Length - stream.Position} bytes is beyond the {limit}-byte limit for XGBoost models");
        }

        using var copy = new MemoryStream();
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            if (copy.Length + n > limit)
            {
                throw new StrataException(ErrorCodes.DataLimit, $"{input}: more than the {limit}-byte limit for XGBoost models");
            }

            copy.Write(buffer, 0, n);
        }

        return copy.ToArray();
    }

    /// <summary>
    /// XGBoost writes NaN (the unused condition of a categorical split) and infinities as bare words, which JSON does
    /// not have; outside strings they become null, which the reader takes as "not a finite number".
    /// </summary>
    private static byte[] NonFiniteToNull(byte[] json)
    {
        if (!json.AsSpan().ContainsAny("NI"u8))
        {
            return json;
        }

        var output = new MemoryStream(json.Length + (json.Length / 16));
        var inString = false;
        var copied = 0;
        for (var i = 0; i < json.Length; i++)
        {
            var b = json[i];
            if (inString)
            {
                if (b == (byte)'\\')
                {
                    i++;
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }

                continue;
            }

            if (b == (byte)'"')
            {
                inString = true;
                continue;
            }

            var word = Word(json, i);
            if (word > 0)
            {
                output.Write(json, copied, i - copied);
                output.Write("null"u8);
                i += word - 1;
                copied = i + 1;
            }
        }

        output.Write(json, copied, json.Length - copied);
        return output.ToArray();
    }

    /// <summary>Length of a NaN or infinity word at a position, or 0.</summary>
    private static int Word(byte[] json, int at)
    {
        var rest = json.AsSpan(at);
        return rest.StartsWith("NaN"u8) ? 3 : rest.StartsWith("Infinity"u8) ? 8 : rest.StartsWith("-Infinity"u8) ? 9 : 0;
    }

    /// <summary>One import: reads the JSON tree by tree into ensemble arrays, failing with the path of what is wrong.</summary>
    private sealed class Importer(string input, XGBoostImportLimits limits)
    {
        private readonly List<int> _feature = [];
        private readonly List<float> _threshold = [];
        private readonly List<int> _left = [];
        private readonly List<int> _right = [];
        private readonly List<byte> _flags = [];
        private readonly List<double> _value = [];
        private readonly List<double> _cover = [];
        private readonly List<double> _gain = [];
        private readonly List<int> _categoryStart = [];
        private readonly List<int> _categoryLength = [];
        private readonly List<uint> _bits = [];

        public TreeEnsembleModel Read(JsonElement root)
        {
            Require(root.ValueKind == JsonValueKind.Object, "the document is not a JSON object");
            var version = "unknown";
            if (root.TryGetProperty("version", out var v))
            {
                var parts = Ints(v, "version");
                Require(parts.Length >= 1 && parts[0] is >= 1 and <= 3, $"XGBoost JSON version {string.Join('.', parts)} is not 1.x to 3.x");
                version = string.Join('.', parts);
            }

            var learner = Object(root, "learner", "");
            var objective = String(Object(learner, "objective", "learner"), "name", "learner.objective");
            var booster = Object(learner, "gradient_booster", "learner");
            var boosterName = String(booster, "name", "learner.gradient_booster");
            if (boosterName != "gbtree")
            {
                throw Unsupported(boosterName switch
                {
                    "gblinear" => "linear boosters (gblinear) are not supported; only tree models (gbtree) are",
                    "dart" => "DART boosters are not supported (their trees are weighted at prediction); only gbtree models are",
                    _ => $"booster '{boosterName}' is not supported; only gbtree models are",
                });
            }

            var (task, transform) = objective switch
            {
                "binary:logistic" => (LearningTask.BinaryClassification, OutputTransform.Sigmoid),
                "reg:squarederror" or "reg:linear" => (LearningTask.Regression, OutputTransform.Identity),
                "multi:softprob" or "multi:softmax" => (LearningTask.MulticlassClassification, OutputTransform.Softmax),
                _ => throw Unsupported($"objective '{objective}' is not supported (binary:logistic, reg:squarederror, multi:softprob, multi:softmax are)"),
            };

            var param = Object(learner, "learner_model_param", "learner");
            var featureCount = IntText(param, "num_feature", "learner.learner_model_param", 0, limits.MaxFeatures);
            var classes = IntText(param, "num_class", "learner.learner_model_param", 0, limits.MaxClasses);
            if (param.TryGetProperty("num_target", out _))
            {
                Require(IntText(param, "num_target", "learner.learner_model_param", 1, int.MaxValue) == 1, "multi-target models (num_target > 1) are not supported");
            }

            var baseScore = BaseScore(param);
            var outputs = task == LearningTask.MulticlassClassification ? classes : 1;
            Require(task != LearningTask.MulticlassClassification || classes >= 2, $"{objective} needs num_class ≥ 2, the model has {classes}");
            var baseMargin = task switch
            {
                // XGBoost turns base_score into a margin in float32: -log(1/p - 1) for logistic, as is otherwise.
                LearningTask.BinaryClassification when baseScore is > 0 and < 1 => -MathF.Log((1f / baseScore) - 1f),
                LearningTask.BinaryClassification => throw Malformed($"base_score {baseScore} is not a probability in (0, 1)"),
                _ => baseScore,
            };

            var names = FeatureNames(learner, featureCount, out var categoricalNames);
            var model = Object(booster, "model", "learner.gradient_booster");
            var trees = Array(model, "trees", "learner.gradient_booster.model");
            var treeCount = trees.GetArrayLength();
            Require(treeCount <= limits.MaxTrees, $"{treeCount} trees is beyond the limit of {limits.MaxTrees}");
            var treeInfo = Ints(Array(model, "tree_info", "learner.gradient_booster.model"), "learner.gradient_booster.model.tree_info");
            Require(treeInfo.Length == treeCount, $"tree_info has {treeInfo.Length} entries for {treeCount} trees");
            if (model.TryGetProperty("gbtree_model_param", out var gbtreeParam) && gbtreeParam.TryGetProperty("num_trees", out _))
            {
                Require(IntText(gbtreeParam, "num_trees", "gbtree_model_param", 0, int.MaxValue) == treeCount, "gbtree_model_param.num_trees differs from the number of trees");
            }

            var treeStarts = new int[treeCount + 1];
            var t = 0;
            foreach (var tree in trees.EnumerateArray())
            {
                Require((uint)treeInfo[t] < (uint)outputs, $"tree {t} belongs to output {treeInfo[t]}, beyond {outputs}");
                ReadTree(tree, t, featureCount);
                treeStarts[++t] = _feature.Count;
            }

            var ensemble = new TreeEnsemble(
                featureCount, [.. Enumerable.Repeat((double)baseMargin, outputs)], treeStarts, treeInfo,
                [.. _feature], [.. _threshold], [.. _left], [.. _right], [.. _flags], [.. _value], [.. _cover], [.. _gain],
                [.. _categoryStart], [.. _categoryLength], [.. _bits]);
            // XGBoost keeps no class names: classes are 0..K-1 (0 and 1 for binary).
            var labels = task == LearningTask.Regression ? null
                : Enumerable.Range(0, Math.Max(2, outputs)).Select(k => k.ToString(CultureInfo.InvariantCulture)).ToList();
            var inputs = names.Select(n => new ModelInput(n, DataType.Float32, FeatureKind.Numeric)).ToList();
            var settings = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["objective"] = objective,
                ["booster"] = boosterName,
                ["base_score"] = baseScore.ToString("R", CultureInfo.InvariantCulture),
                ["xgboost_version"] = version,
            };
            if (task == LearningTask.MulticlassClassification)
            {
                settings["num_class"] = classes.ToString(CultureInfo.InvariantCulture);
            }

            if (categoricalNames.Count > 0)
            {
                settings["categorical_features"] = string.Join(",", categoricalNames);
            }

            if (learner.TryGetProperty("attributes", out var attributes) && attributes.ValueKind == JsonValueKind.Object)
            {
                foreach (var a in attributes.EnumerateObject().Where(a => a.Value.ValueKind == JsonValueKind.String))
                {
                    settings["attribute." + a.Name] = a.Value.GetString()!;
                }
            }

            return new TreeEnsembleModel(LearnerName, task, new ModelSignature(inputs, ModelSignature.OutputsFor(task, labels)), labels, transform, settings, ensemble);
        }

        private float BaseScore(JsonElement param)
        {
            var text = String(param, "base_score", "learner.learner_model_param").Trim();
            if (text.StartsWith('[') && text.EndsWith(']'))
            {
                // XGBoost 2.1+ writes a vector; a single value is the same as before.
                text = text[1..^1].Trim();
            }

            Require(float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && float.IsFinite(value),
                $"base_score '{text}' is not a finite number");
            return value;
        }

        private List<string> FeatureNames(JsonElement learner, int featureCount, out List<string> categorical)
        {
            var names = learner.TryGetProperty("feature_names", out var n) ? Strings(n, "learner.feature_names") : [];
            var types = learner.TryGetProperty("feature_types", out var ty) ? Strings(ty, "learner.feature_types") : [];
            if (names.Count == 0)
            {
                names = [.. Enumerable.Range(0, featureCount).Select(f => "f" + f.ToString(CultureInfo.InvariantCulture))];
            }

            Require(names.Count == featureCount, $"{names.Count} feature names for num_feature {featureCount}");
            Require(types.Count == 0 || types.Count == featureCount, $"{types.Count} feature types for num_feature {featureCount}");
            Require(names.All(x => x.Length > 0) && names.Distinct(StringComparer.Ordinal).Count() == names.Count, "feature names are empty or repeat");
            Require(types.All(x => x is "float" or "int" or "i" or "q" or "c"), "a feature type is not one of float, int, i, q, c");
            categorical = [.. names.Where((_, f) => types.Count > 0 && types[f] == "c")];
            return names;
        }

        private void ReadTree(JsonElement tree, int t, int featureCount)
        {
            var at = $"tree {t}";
            Require(tree.ValueKind == JsonValueKind.Object, $"{at} is not an object");
            var param = Object(tree, "tree_param", at);
            var nodes = IntText(param, "num_nodes", at + ".tree_param", 1, limits.MaxNodesPerTree);
            if (param.TryGetProperty("size_leaf_vector", out _))
            {
                Require(IntText(param, "size_leaf_vector", at + ".tree_param", 0, int.MaxValue) <= 1, $"{at}: vector leaves (multi-target trees) are not supported");
            }

            var left = IntArray(tree, "left_children", at, nodes);
            var right = IntArray(tree, "right_children", at, nodes);
            var split = IntArray(tree, "split_indices", at, nodes);
            var condition = FloatArray(tree, "split_conditions", at, nodes);
            var hessian = FloatArray(tree, "sum_hessian", at, nodes);
            var loss = FloatArray(tree, "loss_changes", at, nodes);
            var weight = tree.TryGetProperty("base_weights", out _) ? FloatArray(tree, "base_weights", at, nodes) : new float[nodes];
            var defaultLeft = Flags(tree, "default_left", at, nodes);
            var splitType = tree.TryGetProperty("split_type", out _) ? IntArray(tree, "split_type", at, nodes) : new int[nodes];
            var categories = Categories(tree, at, nodes, splitType);

            // Preorder from the root: every node is reached once (a tree, not a graph) and children follow their parent.
            var order = new List<int>();
            var position = new int[nodes];
            System.Array.Fill(position, -1);
            var stack = new Stack<int>();
            stack.Push(0);
            while (stack.Count > 0)
            {
                var n = stack.Pop();
                Require(position[n] < 0, $"{at}: node {n} is reached twice");
                position[n] = order.Count;
                order.Add(n);
                if (left[n] == -1 && right[n] == -1)
                {
                    continue;
                }

                Require((uint)left[n] < (uint)nodes && (uint)right[n] < (uint)nodes, $"{at}: node {n} has children {left[n]} and {right[n]}, outside 0..{nodes - 1}");
                Require((uint)split[n] < (uint)featureCount, $"{at}: node {n} splits on feature {split[n]}, beyond {featureCount}");
                stack.Push(right[n]);
                stack.Push(left[n]);
            }

            var first = _feature.Count;
            foreach (var n in order)
            {
                var leaf = left[n] == -1;
                Require(float.IsFinite(condition[n]) || (!leaf && splitType[n] == 1), $"{at}: node {n} has a split condition or leaf value that is not finite");
                _feature.Add(leaf ? -1 : split[n]);
                _value.Add(leaf ? condition[n] : weight[n]);
                _cover.Add(hessian[n]);
                _gain.Add(leaf ? 0 : loss[n]);
                if (leaf)
                {
                    AddNode(0, -1, -1, 0, -1, 0);
                }
                else if (splitType[n] == 1)
                {
                    AddCategorical(n, first + position[left[n]], first + position[right[n]], defaultLeft[n], categories, at);
                }
                else
                {
                    Require(splitType[n] == 0, $"{at}: node {n} has split type {splitType[n]}");
                    AddNode(condition[n], first + position[left[n]], first + position[right[n]], defaultLeft[n] ? TreeEnsemble.MissingLeft : (byte)0, -1, 0);
                }
            }
        }

        /// <summary>
        /// XGBoost (1.7) sends the codes its list names right and every other code left, missing values the default
        /// way. Strata sends the codes of its set left and other codes right, so the children swap, the set is the list,
        /// and the missing flag points at XGBoost's default child.
        /// </summary>
        private void AddCategorical(int n, int xgbLeft, int xgbRight, bool defaultLeft, Dictionary<int, int[]> categories, string at)
        {
            Require(categories.TryGetValue(n, out var listed), $"{at}: categorical node {n} has no category list");
            var words = listed!.Length == 0 ? 0 : (listed.Max() >> 5) + 1;
            Require(_bits.Count + (long)words <= limits.MaxCategoryWords, $"category sets beyond the limit of {limits.MaxCategoryWords} words");
            var start = _bits.Count;
            _bits.AddRange(new uint[words]);
            foreach (var code in listed)
            {
                _bits[start + (code >> 5)] |= 1u << (code & 31);
            }

            AddNode(0, xgbRight, xgbLeft, (byte)(TreeEnsemble.Categorical | (defaultLeft ? 0 : TreeEnsemble.MissingLeft)), start, words);
        }

        private void AddNode(float threshold, int left, int right, byte flags, int categoryStart, int categoryLength)
        {
            _threshold.Add(threshold);
            _left.Add(left);
            _right.Add(right);
            _flags.Add(flags);
            _categoryStart.Add(categoryStart);
            _categoryLength.Add(categoryLength);
        }

        private Dictionary<int, int[]> Categories(JsonElement tree, string at, int nodes, int[] splitType)
        {
            var result = new Dictionary<int, int[]>();
            if (!splitType.Contains(1))
            {
                return result;
            }

            var nodeIds = Ints(Array(tree, "categories_nodes", at), at + ".categories_nodes");
            var segments = Ints(Array(tree, "categories_segments", at), at + ".categories_segments");
            var sizes = Ints(Array(tree, "categories_sizes", at), at + ".categories_sizes");
            var values = Ints(Array(tree, "categories", at), at + ".categories");
            Require(segments.Length == nodeIds.Length && sizes.Length == nodeIds.Length, $"{at}: categories_nodes, _segments and _sizes differ in length");
            for (var i = 0; i < nodeIds.Length; i++)
            {
                var node = nodeIds[i];
                Require((uint)node < (uint)nodes && splitType[node] == 1, $"{at}: categories_nodes names node {node}, which is not a categorical split");
                Require(segments[i] >= 0 && sizes[i] >= 0 && (long)segments[i] + sizes[i] <= values.Length, $"{at}: the category list of node {node} is out of range");
                var listed = values.AsSpan(segments[i], sizes[i]).ToArray();
                Require(listed.All(c => c >= 0 && c < limits.MaxCategory), $"{at}: node {node} lists a category outside 0..{limits.MaxCategory - 1}");
                Require(result.TryAdd(node, listed), $"{at}: node {node} has two category lists");
            }

            return result;
        }

        private int[] IntArray(JsonElement tree, string key, string at, int nodes)
        {
            var array = Array(tree, key, at);
            Require(array.GetArrayLength() == nodes, $"{at}.{key} has {array.GetArrayLength()} entries for {nodes} nodes");
            return Ints(array, $"{at}.{key}");
        }

        private float[] FloatArray(JsonElement tree, string key, string at, int nodes)
        {
            var array = Array(tree, key, at);
            Require(array.GetArrayLength() == nodes, $"{at}.{key} has {array.GetArrayLength()} entries for {nodes} nodes");
            var result = new float[nodes];
            var i = 0;
            foreach (var item in array.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Null)
                {
                    result[i] = float.NaN;
                }
                else
                {
                    Require(item.ValueKind == JsonValueKind.Number && item.TryGetSingle(out result[i]), $"{at}.{key}[{i}] is not a float32 number");
                }

                i++;
            }

            return result;
        }

        private bool[] Flags(JsonElement tree, string key, string at, int nodes)
        {
            var array = Array(tree, key, at);
            Require(array.GetArrayLength() == nodes, $"{at}.{key} has {array.GetArrayLength()} entries for {nodes} nodes");
            var result = new bool[nodes];
            var i = 0;
            foreach (var item in array.EnumerateArray())
            {
                // XGBoost 1.6+ writes 0/1; earlier versions wrote booleans.
                result[i] = item.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    JsonValueKind.Number when item.TryGetInt32(out var b) && b is 0 or 1 => b == 1,
                    _ => throw Malformed($"{at}.{key}[{i}] is not 0, 1, true or false"),
                };
                i++;
            }

            return result;
        }

        private int[] Ints(JsonElement array, string at)
        {
            Require(array.ValueKind == JsonValueKind.Array, $"{at} is not an array");
            var result = new int[array.GetArrayLength()];
            var i = 0;
            foreach (var item in array.EnumerateArray())
            {
                Require(item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out result[i]), $"{at}[{i}] is not a 32-bit integer");
                i++;
            }

            return result;
        }

        private List<string> Strings(JsonElement array, string at)
        {
            Require(array.ValueKind == JsonValueKind.Array, $"{at} is not an array");
            var result = new List<string>();
            foreach (var item in array.EnumerateArray())
            {
                Require(item.ValueKind == JsonValueKind.String, $"{at} holds a non-string");
                result.Add(item.GetString()!);
            }

            return result;
        }

        private int IntText(JsonElement element, string key, string at, int min, int max)
        {
            // learner_model_param and tree_param hold numbers as strings.
            var text = String(element, key, at);
            Require(int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max,
                $"{at}.{key} '{text}' is not an integer in {min}..{max}");
            return value;
        }

        private string String(JsonElement element, string key, string at)
        {
            Require(element.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String, $"{Join(at, key)} is missing or not text");
            return value.GetString()!;
        }

        private JsonElement Object(JsonElement element, string key, string at)
        {
            Require(element.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Object, $"{Join(at, key)} is missing or not an object");
            return value;
        }

        private JsonElement Array(JsonElement element, string key, string at)
        {
            Require(element.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.Array, $"{Join(at, key)} is missing or not an array");
            return value;
        }

        private static string Join(string at, string key) => at.Length == 0 ? key : at + "." + key;

        private void Require(bool condition, string detail)
        {
            if (!condition)
            {
                throw Malformed(detail);
            }
        }

        private DataFormatException Malformed(string detail) => new(ErrorCodes.DataMalformed, detail, new DataLocation(input));

        private DataFormatException Unsupported(string detail) => new(ErrorCodes.DataUnsupported, detail, new DataLocation(input));
    }
}

/// <summary>Limits the XGBoost importer enforces: a model file is input and may be hostile.</summary>
public sealed record XGBoostImportLimits
{
    /// <summary>The defaults.</summary>
    public static XGBoostImportLimits Default { get; } = new();

    /// <summary>Largest file, in bytes (default 512 MiB).</summary>
    public long MaxBytes { get; init; } = 512L << 20;

    /// <summary>Deepest JSON nesting (XGBoost's own files need about 8).</summary>
    public int MaxJsonDepth { get; init; } = 32;

    /// <summary>Most trees.</summary>
    public int MaxTrees { get; init; } = 1_000_000;

    /// <summary>Most nodes in one tree.</summary>
    public int MaxNodesPerTree { get; init; } = 1 << 24;

    /// <summary>Most features.</summary>
    public int MaxFeatures { get; init; } = 1 << 20;

    /// <summary>Most classes.</summary>
    public int MaxClasses { get; init; } = 1 << 16;

    /// <summary>Largest category code a categorical split may list, plus one.</summary>
    public int MaxCategory { get; init; } = 1 << 24;

    /// <summary>Most 32-bit words in all categorical splits' sets together.</summary>
    public long MaxCategoryWords { get; init; } = 1L << 24;
}
