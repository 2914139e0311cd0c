using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Strata.Learning;

namespace Strata.Tests.Learning.Models;

/// <summary>
/// Mutated model packages either load as a valid model (which then predicts and explains without error) or fail with a
/// <see cref="StrataException"/>; nothing else may escape, and nothing may hang. Besides blind byte flips and cuts
/// (which the digests catch), most mutations rebuild a consistent header and digests around an edited manifest or data
/// section, so they reach the JSON, layout and tree validation behind the digests. A reduced count runs by default;
/// STRATA_FUZZ_ITERATIONS sets the full count.
/// </summary>
public sealed class ModelPackageFuzzTests
{
    private static readonly int Iterations =
        Environment.GetEnvironmentVariable("STRATA_FUZZ_ITERATIONS") is { Length: > 0 } text ? int.Parse(text, CultureInfo.InvariantCulture) : 400;

    private static readonly JsonNode?[] Hostile =
    [
        null, -1, 0, 1, 3, 7, 8, 2147483647, -2147483648, 9007199254740993, 1e300, -0.5, "", "x", "float64", "int32", "uint8",
        "binary", "multiclass", "sigmoid", true, new JsonArray(), new JsonObject(), new JsonArray("a", "a"), new JsonArray("a", "b"),
    ];

    [Fact]
    public async Task Mutated_packages_load_as_valid_models_or_fail_with_a_strata_error()
    {
        var seed = 20261122;
        var random = new Random(seed);
        var originals = new[]
        {
            await PackageFile.BytesOf(RandomTrees.Model(1, new RandomTrees.Shape(Features: 4, Trees: 4, MaxDepth: 3, CategoricalShare: 0.5), LearningTask.BinaryClassification)),
            await PackageFile.BytesOf(RandomTrees.Model(2, new RandomTrees.Shape(Features: 3, Trees: 6, MaxDepth: 10, Outputs: 3, CategoricalShare: 0.3), LearningTask.MulticlassClassification)),
        };
        var loaded = 0;
        for (var i = 0; i < Iterations; i++)
        {
            var original = originals[i % originals.Length];
            var (kind, bytes) = Mutate(original, random);
            try
            {
                var model = await ModelPackage.LoadAsync(new MemoryStream(bytes)).WaitAsync(TimeSpan.FromSeconds(30));
                Exercise(Assert.IsType<TreeEnsembleModel>(model), random);
                loaded++;
            }
            catch (StrataException)
            {
                // Expected for a damaged package: refused with a stable code.
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"seed {seed}, iteration {i} ({kind}): {e.GetType().Name} escaped: {e.Message}", e);
            }
        }

        Assert.True(loaded > 0, "no mutation produced a loadable package; the fuzzer is not reaching the model checks");
    }

    private static void Exercise(TreeEnsembleModel model, Random random)
    {
        var margins = new double[model.OutputCount];
        for (var r = 0; r < 20; r++)
        {
            var row = RandomTrees.Row(random, model.Ensemble.FeatureCount);
            model.PredictMargins(row, margins);
            var reference = new double[model.OutputCount];
            model.Ensemble.PredictRow(row, reference);
            Assert.Equal(reference, margins);
            _ = TreeShap.Contributions(model, row);
        }

        _ = FeatureImportance.Of(model);
    }

    private static (string Kind, byte[] Bytes) Mutate(byte[] original, Random random)
    {
        var file = PackageFile.Parse(original);
        switch (random.Next(8))
        {
            case 0:
            {
                var bytes = (byte[])original.Clone();
                for (var e = random.Next(1, 8); e > 0; e--)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                }

                return ("byte flips", bytes);
            }

            case 1:
                return ("truncation", original[..random.Next(original.Length)]);
            case 2:
            {
                var bytes = (byte[])original.Clone();
                var at = random.Next(2) == 0 ? 16 : 24;
                var value = random.Next(4) switch
                {
                    0 => random.NextInt64(),
                    1 => -random.NextInt64(1, 1000),
                    2 => BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at)) + random.Next(-16, 17),
                    _ => long.MaxValue - random.Next(100),
                };
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), value);
                return ("header length", bytes);
            }

            case 3:
            {
                // One manifest value replaced by a hostile one, header and digests made consistent.
                var json = file.ManifestJson();
                var values = Leaves(json).ToList();
                var (parent, key) = values[random.Next(values.Count)];
                var replacement = Hostile[random.Next(Hostile.Length)]?.DeepClone();
                if (parent is JsonObject o)
                {
                    if (random.Next(6) == 0)
                    {
                        o.Remove((string)key);
                    }
                    else
                    {
                        o[(string)key] = replacement;
                    }
                }
                else
                {
                    ((JsonArray)parent)[(int)key] = replacement;
                }

                file.Manifest = json.ToJsonString();
                return ("manifest value", file.Build());
            }

            case 4:
            {
                // Array lengths and offsets rewritten, digests recomputed where the range exists.
                var json = file.ManifestJson();
                var arrays = json["arrays"]!.AsArray();
                var entry = arrays[random.Next(arrays.Count)]!;
                var field = random.Next(2) == 0 ? "length" : "offset";
                var old = (long)entry[field]!;
                entry[field] = random.Next(3) switch { 0 => old + random.Next(-3, 4), 1 => random.NextInt64(0, 1L << 40), _ => -old };
                file.Manifest = json.ToJsonString();
                file.FixDigests();
                return ("array layout", file.Build());
            }

            case 5:
            {
                // Data bytes changed with digests recomputed: only the model's own validation stands in the way.
                for (var e = random.Next(1, 4); e > 0; e--)
                {
                    var at = random.Next(file.Data.Length);
                    file.Data[at] = random.Next(3) switch { 0 => (byte)random.Next(256), 1 => 0xFF, _ => (byte)(file.Data[at] ^ (1 << random.Next(8))) };
                }

                file.FixDigests();
                return ("data with digests", file.Build());
            }

            case 6:
            {
                // Raw text edits of the manifest (broken JSON, odd escapes), header made consistent.
                var text = new StringBuilder(file.Manifest);
                for (var e = random.Next(1, 4); e > 0 && text.Length > 0; e--)
                {
                    var at = random.Next(text.Length);
                    var edit = random.Next(4);
                    if (edit == 0)
                    {
                        text.Remove(at, 1);
                    }
                    else
                    {
                        var piece = random.Next(6) switch { 0 => "\"", 1 => "{", 2 => "]", 3 => "\\ud800", 4 => "9999999999", _ => "," };
                        text.Insert(at, piece);
                    }
                }

                file.Manifest = text.ToString();
                return ("manifest text", file.Build());
            }

            default:
            {
                // An int32 array element set to a boundary value, digests recomputed.
                var json = file.ManifestJson();
                var ints = json["arrays"]!.AsArray().Where(a => (string)a!["type"]! == "int32" && (long)a["length"]! > 0).ToList();
                var name = (string)ints[random.Next(ints.Count)]!["name"]!;
                var span = file.Array(name, out _);
                var index = random.Next(span.Length / 4);
                BinaryPrimitives.WriteInt32LittleEndian(span[(index * 4)..], random.Next(6) switch
                {
                    0 => -1,
                    1 => int.MaxValue,
                    2 => int.MinValue,
                    3 => BinaryPrimitives.ReadInt32LittleEndian(span[(index * 4)..]) + 1,
                    4 => BinaryPrimitives.ReadInt32LittleEndian(span[(index * 4)..]) - 1,
                    _ => random.Next(0, 64),
                });
                file.FixDigests();
                return ("int element", file.Build());
            }
        }
    }

    /// <summary>Every (container, key) that holds a value, anywhere in the manifest.</summary>
    private static IEnumerable<(JsonNode Parent, object Key)> Leaves(JsonNode node)
    {
        if (node is JsonObject o)
        {
            foreach (var (key, value) in o.ToList())
            {
                yield return (o, key);
                if (value is not null)
                {
                    foreach (var inner in Leaves(value))
                    {
                        yield return inner;
                    }
                }
            }
        }
        else if (node is JsonArray a)
        {
            for (var i = 0; i < a.Count; i++)
            {
                yield return (a, i);
                if (a[i] is { } value)
                {
                    foreach (var inner in Leaves(value))
                    {
                        yield return inner;
                    }
                }
            }
        }
    }
}
