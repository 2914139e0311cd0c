using System.Text.Json.Nodes;
using Strata.Data.Profiling;
using Strata.Testing;

namespace Strata.Tests.Data.Profiling;

public sealed class ProfileJsonTests
{
    private static readonly ProfileOptions Sliced = new() { SliceRows = 1024 };

    [Fact]
    public void Json_round_trip_gives_a_profile_that_merges_and_answers_the_same()
    {
        var table = ProfileTestData.Mixed(12_000, seed: 11, distinctStrings: 4_000);
        var original = Profiler.Profile(table.Slice(0, 8_000), Sliced);
        var more = Profiler.Profile(table.Slice(8_000, 4_000), Sliced);
        var json = original.ToJson();

        var loaded = TableProfile.FromJson(json);

        Assert.Equal(json, loaded.ToJson());
        Assert.Equal(original.SchemaFingerprint, loaded.SchemaFingerprint);
        Assert.Equal(original.Merge(more).ToJson(), loaded.Merge(more).ToJson());
        Assert.Equal(more.Merge(original).ToJson(), more.Merge(loaded).ToJson());
        var a = (NumericColumnProfile)original["f64"];
        var b = (NumericColumnProfile)loaded["f64"];
        for (var q = 0.0; q <= 1; q += 0.125)
        {
            Assert.Equal(a.Quantile(q), b.Quantile(q));
        }

        Assert.Equal(a.Histogram(7), b.Histogram(7));
        Assert.Equal(original["city"].DistinctEstimate, loaded["city"].DistinctEstimate);
        Assert.Equal(((StringColumnProfile)original["city"]).TopValues(5), ((StringColumnProfile)loaded["city"]).TopValues(5));
        ProfilerTests.AssertAgreesWithExactReference(loaded.Merge(more), table);
    }

    [Fact]
    public void Doubles_round_trip_exactly()
    {
        double[] values = [0.1, 1.0 / 3, double.Epsilon, -0.0, double.MaxValue, double.MinValue, Math.PI, 1e-300, 123456789.123456789, double.PositiveInfinity, double.NegativeInfinity];
        var table = Table.From(("x", Columns.Create<double>(DataType.Float64, values)), ("n", Columns.Int64(long.MinValue, long.MaxValue, (1L << 53) + 1, 0, 1, 2, 3, 4, 5, 6, 7)));
        var profile = Profiler.Profile(table);

        var loaded = TableProfile.FromJson(profile.ToJson(indented: true));

        var state = ((NumericColumnProfile)profile["x"]).Sketch!.ExportState();
        var reloaded = ((NumericColumnProfile)loaded["x"]).Sketch!.ExportState();
        Assert.Equal(state.Items.Select(BitConverter.DoubleToInt64Bits), reloaded.Items.Select(BitConverter.DoubleToInt64Bits));
        var m = ((NumericColumnProfile)profile["x"]).Moments!;
        var lm = ((NumericColumnProfile)loaded["x"]).Moments!;
        Assert.Equal(BitConverter.DoubleToInt64Bits(m.Mean), BitConverter.DoubleToInt64Bits(lm.Mean));
        Assert.Equal(BitConverter.DoubleToInt64Bits(m.M2), BitConverter.DoubleToInt64Bits(lm.M2));
        Assert.Equal((long.MinValue, long.MaxValue), (((NumericColumnProfile)loaded["n"]).IntegerMin, ((NumericColumnProfile)loaded["n"]).IntegerMax));
    }

    [Fact]
    public void Json_names_its_format_and_carries_a_readable_summary()
    {
        var profile = Profiler.Profile(ProfileTestData.Mixed(2_000, seed: 2));

        var json = JsonNode.Parse(profile.ToJson())!;

        Assert.Equal("strata.profile/1", (string?)json["format"]);
        Assert.Equal(2_000, (long?)json["row_count"]);
        var f64 = json["columns"]![3]!;
        Assert.Equal("f64", (string?)f64["name"]);
        Assert.NotNull(f64["summary"]!["quantiles"]!["p50"]);
        Assert.Equal(10, f64["summary"]!["histogram"]!.AsArray().Count);
        Assert.Equal("strata-hll/1", (string?)f64["distinct"]!["hash"]);
        Assert.NotNull(json["columns"]![6]!["summary"]!["top"]);
    }

    [Fact]
    public async Task Saved_profile_loads_through_a_durable_file()
    {
        using var folder = new TempFolder();
        var profile = Profiler.Profile(ProfileTestData.Mixed(3_000, seed: 4));
        var path = folder.File("profiles/flights.profile.json");

        await profile.SaveAsync(path);
        var loaded = await TableProfile.LoadAsync(path);

        Assert.Equal(profile.ToJson(), loaded.ToJson());
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public async Task Loading_a_missing_file_is_not_found()
    {
        using var folder = new TempFolder();

        var error = await Assert.ThrowsAsync<StrataException>(() => TableProfile.LoadAsync(folder.File("missing.json")));

        Assert.Equal(ErrorCodes.NotFound, error.Code);
    }

    public static TheoryData<string, string> Corruptions => new()
    {
        { "truncated", "the profile is not valid JSON" },
        { "not-an-object", "the profile must be an object" },
        { "format", "format" },
        { "string-count", "count" },
        { "negative-nulls", "nulls" },
        { "count-not-row-count", "count" },
        { "unknown-type", "type" },
        { "fingerprint", "schema_fingerprint" },
        { "kll-items-missing-one", "kll.items" },
        { "kll-levels-not-from-zero", "kll.levels" },
        { "kll-n", "kll.n" },
        { "kll-unsorted-level", "kll.items" },
        { "kll-item-outside-min-max", "kll.items" },
        { "kll-missing", "kll" },
        { "moments-counts", "moments.count" },
        { "registers-length", "distinct.registers" },
        { "registers-base64", "registers" },
        { "frequent-offset", "frequent.offset" },
        { "frequent-repeated-value", "frequent.items" },
        { "bool-counts", "bool.true" },
        { "pii-with-values", "numeric" },
        { "numeric-on-string", "numeric" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Malformed_json_is_a_data_malformed_error_naming_the_field(string corruption, string field)
    {
        var table = Table.From(
            ("x", Columns.Float64(Enumerable.Range(0, 1_000).Select(i => (double?)((i * 7919) % 1000)).ToArray())),
            ("s", Columns.String(Enumerable.Range(0, 1_000).Select(i => "v" + (i % 10)).ToArray())),
            ("b", Columns.Bool(Enumerable.Range(0, 1_000).Select(i => (bool?)(i % 2 == 0)).ToArray())));
        var json = JsonNode.Parse(Profiler.Profile(table).ToJson())!;
        var x = json["columns"]![0]!;
        var kll = x["numeric"]!["kll"]!;
        var text = json.ToJsonString();
        switch (corruption)
        {
            case "truncated": text = text[..(text.Length / 2)]; break;
            case "not-an-object": text = "[1, 2]"; break;
            case "format": json["format"] = "strata.profile/2"; break;
            case "string-count": x["count"] = "1000"; break;
            case "negative-nulls": x["nulls"] = -1; break;
            case "count-not-row-count": x["count"] = 999; break;
            case "unknown-type": x["type"] = "decimal"; break;
            case "fingerprint": json["schema_fingerprint"] = "sha256:00"; break;
            case "kll-items-missing-one": kll["items"]!.AsArray().RemoveAt(0); break;
            case "kll-levels-not-from-zero": kll["levels"]![0] = 1; break;
            case "kll-n": kll["n"] = (long)kll["n"]! + 1; break;
            case "kll-unsorted-level":
                var items = kll["items"]!.AsArray();
                var levels = kll["levels"]!.AsArray();
                var top = (int)levels[^2]!;
                (items[top], items[top + 1]) = ((double)items[top + 1]!, (double)items[top]!);
                break;
            case "kll-item-outside-min-max": kll["items"]![0] = 5000.0; break;
            case "kll-missing": x["numeric"]!.AsObject().Remove("kll"); break;
            case "moments-counts": x["numeric"]!["moments"]!["nan"] = 3; break;
            case "registers-length": x["distinct"]!["registers"] = Convert.ToBase64String(new byte[100]); break;
            case "registers-base64": x["distinct"]!["registers"] = "not base64!"; break;
            case "frequent-offset": json["columns"]![1]!["string"]!["frequent"]!["offset"] = 400; break;
            case "frequent-repeated-value": json["columns"]![1]!["string"]!["frequent"]!["items"]![1]!["value"] = "v0"; break;
            case "bool-counts": json["columns"]![2]!["bool"]!["true"] = 1; break;
            case "pii-with-values": x["pii"] = true; break;
            case "numeric-on-string": json["columns"]![1]!["numeric"] = new JsonObject(); break;
        }

        if (corruption is not ("truncated" or "not-an-object"))
        {
            text = json.ToJsonString();
        }

        var error = Assert.Throws<StrataException>(() => TableProfile.FromJson(text));

        Assert.Equal(ErrorCodes.DataMalformed, error.Code);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_json_is_a_limit_error()
    {
        var error = Assert.Throws<StrataException>(() => TableProfile.FromJson(new byte[TableProfile.MaxJsonBytes + 1]));

        Assert.Equal(ErrorCodes.DataLimit, error.Code);
    }
}
