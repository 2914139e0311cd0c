using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Strata.Learning;
using Strata.Testing;

namespace Strata.Tests.Learning.Models;

public sealed class ModelPackageTests : IDisposable
{
    private readonly TempFolder _folder = new("package");

    public void Dispose() => _folder.Dispose();

    public static TheoryData<LearningTask, int> Tasks => new()
    {
        { LearningTask.Regression, 1 },
        { LearningTask.BinaryClassification, 1 },
        { LearningTask.MulticlassClassification, 3 },
    };

    [Theory]
    [MemberData(nameof(Tasks))]
    public async Task Tree_model_round_trips_with_identical_predictions_bit_for_bit(LearningTask task, int outputs)
    {
        var shape = new RandomTrees.Shape(Features: 6, Trees: 25, MaxDepth: 7, Outputs: outputs, CategoricalShare: 0.4);
        var original = RandomTrees.Model(17, shape, task);
        var model = new TreeEnsembleModel(original.Learner, original.Task, original.Signature, original.ClassLabels, original.Transform,
            new Dictionary<string, string> { ["rounds"] = "25", ["eta"] = "0.1", ["note"] = "ünïcödé \"quoted\"" }, original.Ensemble)
        {
            Metrics = new Dictionary<string, double> { ["auc"] = 0.8125, ["logloss"] = 1.0 / 3, ["undefined"] = double.NaN, ["worst"] = double.PositiveInfinity },
            TrainingDataFingerprint = "sha256:" + new string('a', 64),
        };
        var path = _folder.File("model.smp");

        await ModelPackage.SaveAsync(model, path);
        var loaded = Assert.IsType<TreeEnsembleModel>(await ModelPackage.LoadAsync(path));

        Assert.Equal(model.Learner, loaded.Learner);
        Assert.Equal(model.Task, loaded.Task);
        Assert.Equal(model.Signature, loaded.Signature);
        Assert.Equal(model.ClassLabels, loaded.ClassLabels);
        Assert.Equal(model.Transform, loaded.Transform);
        Assert.Equal(model.Settings.OrderBy(p => p.Key), loaded.Settings.OrderBy(p => p.Key));
        Assert.Equal(model.Metrics.OrderBy(p => p.Key), loaded.Metrics.OrderBy(p => p.Key));
        Assert.Equal(model.TrainingDataFingerprint, loaded.TrainingDataFingerprint);
        foreach (var (name, array) in model.ToParameters().Arrays)
        {
            Assert.Equal(array, loaded.ToParameters().Arrays[name]);
        }

        var table = RandomTrees.Table(5, shape, RandomTrees.CategoricalFeatures(17, shape), rows: 500);
        var expected = model.PredictMargins(table);
        var actual = loaded.PredictMargins(table);
        Assert.Equal(expected.Select(BitConverter.DoubleToInt64Bits), actual.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(RandomTrees.Reference(model.Ensemble, FeatureMatrix.FromTable(table, model.Signature.Inputs)), actual);
    }

    [Fact]
    public async Task The_same_model_always_gives_the_same_bytes()
    {
        var first = await PackageFile.BytesOf(RandomTrees.Model(3, new RandomTrees.Shape()));
        var second = await PackageFile.BytesOf(RandomTrees.Model(3, new RandomTrees.Shape()));
        Assert.Equal(first, second);
        Assert.Equal(0, first.Length % 8);
    }

    [Fact]
    public async Task Arrays_are_little_endian_on_8_byte_boundaries_after_the_manifest()
    {
        var model = RandomTrees.Model(4, new RandomTrees.Shape(Trees: 3));
        var file = PackageFile.Parse(await PackageFile.BytesOf(model));
        var arrays = file.ManifestJson()["arrays"]!.AsArray();
        Assert.All(arrays, a => Assert.Equal(0, (long)a!["offset"]! % 8));
        var starts = file.Array("tree_starts", out var size).ToArray();
        Assert.Equal(4, size);
        Assert.Equal(model.Ensemble.TreeStarts, Enumerable.Range(0, starts.Length / 4).Select(i => BinaryPrimitives.ReadInt32LittleEndian(starts.AsSpan(i * 4))).ToArray());
        Assert.Equal("strata.model", (string)file.ManifestJson()["format"]!);
        Assert.Equal("tree_ensemble", (string)file.ManifestJson()["kind"]!);
    }

    [Fact]
    public async Task A_package_loads_from_a_stream_that_cannot_seek()
    {
        var model = RandomTrees.Model(5, new RandomTrees.Shape());
        var bytes = await PackageFile.BytesOf(model);
        await using var stream = new ForwardOnlyStream(bytes);
        var loaded = Assert.IsType<TreeEnsembleModel>(await ModelPackage.LoadAsync(stream));
        Assert.Equal(model.Ensemble.LeafValue, loaded.Ensemble.LeafValue);
    }

    [Fact]
    public async Task A_missing_file_is_not_found()
    {
        var e = await Assert.ThrowsAsync<StrataException>(() => ModelPackage.LoadAsync(_folder.File("nothing.smp")));
        Assert.Equal(ErrorCodes.NotFound, e.Code);
    }

    [Fact]
    public async Task Truncated_packages_are_malformed_at_every_length()
    {
        var bytes = await PackageFile.BytesOf(RandomTrees.Model(6, new RandomTrees.Shape(Trees: 2)));
        for (var length = 0; length < bytes.Length; length += Math.Max(1, length / 7))
        {
            var e = await Assert.ThrowsAsync<DataFormatException>(() => ModelPackage.LoadAsync(new MemoryStream(bytes[..length])));
            Assert.Equal(ErrorCodes.DataMalformed, e.Code);
        }
    }

    [Fact]
    public async Task Bad_magic_a_newer_version_and_nonzero_flags_are_refused()
    {
        var bytes = await PackageFile.BytesOf(RandomTrees.Model(7, new RandomTrees.Shape(Trees: 2)));
        var magic = (byte[])bytes.Clone();
        magic[1] = (byte)'X';
        Assert.Contains("magic", (await Refused(magic)).Message, StringComparison.Ordinal);

        var newer = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(newer.AsSpan(8), 2);
        var e = await Assert.ThrowsAsync<DataFormatException>(() => ModelPackage.LoadAsync(new MemoryStream(newer)));
        Assert.Equal(ErrorCodes.DataUnsupported, e.Code);
        Assert.Contains("format version 2", e.Message, StringComparison.Ordinal);

        var flags = (byte[])bytes.Clone();
        flags[12] = 1;
        Assert.Contains("flags", (await Refused(flags)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_manifest_length_beyond_the_limit_is_refused_before_reading_it()
    {
        var bytes = await PackageFile.BytesOf(RandomTrees.Model(8, new RandomTrees.Shape(Trees: 2)));
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), 1L << 40);
        var e = await Assert.ThrowsAsync<DataFormatException>(() => ModelPackage.LoadAsync(new MemoryStream(bytes)));
        Assert.Equal(ErrorCodes.DataLimit, e.Code);

        var small = new ModelPackageLimits { MaxManifestBytes = 100 };
        var normal = await PackageFile.BytesOf(RandomTrees.Model(8, new RandomTrees.Shape(Trees: 2)));
        Assert.Equal(ErrorCodes.DataLimit, (await Assert.ThrowsAsync<DataFormatException>(() => ModelPackage.LoadAsync(new MemoryStream(normal), small))).Code);
    }

    [Fact]
    public async Task An_edited_manifest_fails_its_digest()
    {
        var bytes = await PackageFile.BytesOf(RandomTrees.Model(9, new RandomTrees.Shape(Trees: 2)));
        bytes[ModelPackage.HeaderBytes + 20] ^= 0x01;
        Assert.Contains("SHA-256", (await Refused(bytes)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_edited_array_fails_its_digest_and_names_the_array()
    {
        var file = PackageFile.Parse(await PackageFile.BytesOf(RandomTrees.Model(10, new RandomTrees.Shape(Trees: 2))));
        file.Array("leaf_value", out _)[3] ^= 0x40;
        var e = await Refused(file.Build());
        Assert.Contains("'leaf_value'", e.Message, StringComparison.Ordinal);
        Assert.Contains("SHA-256", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lying_array_length_is_refused_before_allocating()
    {
        var file = PackageFile.Parse(await PackageFile.BytesOf(RandomTrees.Model(11, new RandomTrees.Shape(Trees: 2))));
        var json = file.ManifestJson();
        json["arrays"]!.AsArray()[^1]!["length"] = 200_000_000;
        file.Manifest = json.ToJsonString();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = await Refused(file.Build());
        Assert.Contains("data section", e.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10_000_000, "the loader allocated for the declared length");
    }

    [Fact]
    public async Task A_child_pointer_that_goes_backwards_is_refused_by_validation()
    {
        var model = RandomTrees.Model(12, new RandomTrees.Shape(Trees: 2, SplitChance: 1, MaxDepth: 3));
        var file = PackageFile.Parse(await PackageFile.BytesOf(model));
        BinaryPrimitives.WriteInt32LittleEndian(file.Array("left_child", out _)[4..], 0);
        file.FixDigests();
        var e = await Refused(file.Build());
        Assert.Contains("children must follow their parent", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Manifest_shape_errors_name_the_key()
    {
        var bytes = await PackageFile.BytesOf(RandomTrees.Model(13, new RandomTrees.Shape(Trees: 2), LearningTask.BinaryClassification));
        await AssertManifestRefused(bytes, j => j.Remove("task"), "'task' is missing");
        await AssertManifestRefused(bytes, j => j["task"] = "ranking", "'task'");
        await AssertManifestRefused(bytes, j => j["class_labels"] = new JsonArray("only"), "'class_labels'");
        await AssertManifestRefused(bytes, j => j["format_version"] = 1.5, "'format_version'");
        await AssertManifestRefused(bytes, j => j["signature"]!["inputs"]![0]!["kind"] = "ordinal", "'kind'");
        await AssertManifestRefused(bytes, j => j["arrays"]![1]!["offset"] = 4, "expected");
        await AssertManifestRefused(bytes, j => j["arrays"]![0]!["type"] = "int64", "element type");
        await AssertManifestRefused(bytes, j => j["arrays"]![0]!["sha256"] = "00", "SHA-256");
        await AssertManifestRefused(bytes, j => j["metrics"] = new JsonObject { ["auc"] = "high" }, "metric 'auc'");
    }

    [Fact]
    public async Task An_unknown_model_kind_is_unsupported()
    {
        var file = PackageFile.Parse(await PackageFile.BytesOf(RandomTrees.Model(14, new RandomTrees.Shape(Trees: 2))));
        var json = file.ManifestJson();
        json["kind"] = "neural_net";
        file.Manifest = json.ToJsonString();
        var e = await Assert.ThrowsAsync<StrataException>(() => ModelPackage.LoadAsync(new MemoryStream(file.Build())));
        Assert.Equal(ErrorCodes.DataUnsupported, e.Code);
        Assert.Contains("neural_net", e.Message, StringComparison.Ordinal);
    }

    private static async Task AssertManifestRefused(byte[] package, Action<JsonObject> edit, string expected)
    {
        var file = PackageFile.Parse(package);
        var json = file.ManifestJson();
        edit(json);
        file.Manifest = json.ToJsonString();
        var e = await Refused(file.Build());
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    private static async Task<DataFormatException> Refused(byte[] bytes)
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() => ModelPackage.LoadAsync(new MemoryStream(bytes)));
        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
        return e;
    }

    /// <summary>A stream that only reads forward, in small pieces, like a network body.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, 1000), bytes.Length - _position);
            bytes.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
