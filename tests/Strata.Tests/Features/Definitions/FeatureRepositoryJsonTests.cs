using Strata.Data;
using Strata.Features.Definitions;

namespace Strata.Tests.Features.Definitions;

public sealed class FeatureRepositoryJsonTests
{
    internal static FeatureRepository Sample() => new(
        [new EntityDefinition("origin", [new Field("origin", DataType.String)]) { Description = "airport", Tags = new Dictionary<string, string> { ["z"] = "1", ["a"] = "2" } }],
        [
            new SourceDefinition("hourly", SourceKind.File, "ts") { Path = "data/hourly.csv", Format = DataFormat.Csv, CreatedTimestampField = "created" },
            new SourceDefinition("events", SourceKind.Push, "date")
            {
                Schema = new Schema(new Field("origin", DataType.String), new Field("date", DataType.Timestamp), new Field("delay", DataType.Int64, nullable: false)),
            },
            new SourceDefinition("pg", SourceKind.PostgresQuery, "ts") { Query = "SELECT * FROM \"x\" WHERE a < 'é'" },
        ],
        [
            new FeatureViewDefinition("origin_hourly", ["origin"], "hourly", [new Field("dep_count", DataType.Int64, tags: ["pii:email"]), new Field("mean_delay", DataType.Float64)])
            {
                Ttl = TimeSpan.FromHours(3), Online = false, Owner = "ml",
            },
        ],
        [
            new AggregationViewDefinition("windows", ["origin"], "events",
                [new AggregationDefinition("n", AggregationFunction.Count, null, TimeSpan.FromHours(1)), new AggregationDefinition("m", AggregationFunction.Mean, "delay", TimeSpan.FromSeconds(90))])
            {
                Ttl = TimeSpan.FromDays(1),
            },
        ],
        [new OnDemandViewDefinition("ratio", [new Field("distance", DataType.Float64)], [new FeatureReference("windows", "m")], [new OnDemandFeature(new Field("r", DataType.Float64), "windows__m / (distance + 1)")])],
        [new FeatureServiceDefinition("svc", [new FeatureReference("origin_hourly", "mean_delay"), new FeatureReference("windows", "n")]) { Description = "v1" }]);

    [Fact]
    public void Canonical_json_round_trips_exactly()
    {
        var repo = Sample().Validate();
        var json = repo.ToCanonicalJson();

        var back = FeatureRepository.FromJson(json);

        Assert.Equal(json, back.ToCanonicalJson());
        Assert.Equal(repo.ComputeDigest(), back.ComputeDigest());
        Assert.Equal(TimeSpan.FromSeconds(90), back.AggregationViews[0].Aggregations[1].Window);
        Assert.False(back.Source("events").Schema!["delay"].Nullable);
        Assert.Equal(DataFormat.Csv, back.Source("hourly").Format);
        Assert.Equal("SELECT * FROM \"x\" WHERE a < 'é'", back.Source("pg").Query);
        Assert.Equal(["pii:email"], back.FeatureViews[0].Features[0].Tags);
        Assert.False(back.FeatureViews[0].Online);
        Assert.StartsWith("{\"format\":\"strata.features/1\",\"entities\":[{\"name\":\"origin\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void The_digest_does_not_depend_on_definition_order_or_tag_order()
    {
        var repo = Sample();
        var shuffled = repo with
        {
            Sources = repo.Sources.Reverse().ToArray(),
            Entities = [repo.Entities[0] with { Tags = new Dictionary<string, string> { ["a"] = "2", ["z"] = "1" } }],
        };

        Assert.Equal(repo.ComputeDigest(), shuffled.ComputeDigest());
        Assert.Matches("^[0-9a-f]{64}$", repo.ComputeDigest());
    }

    [Fact]
    public void The_digest_changes_with_any_definition_change()
    {
        var repo = Sample();
        var longer = repo with { FeatureViews = [repo.FeatureViews[0] with { Ttl = TimeSpan.FromHours(4) }] };

        Assert.NotEqual(repo.ComputeDigest(), longer.ComputeDigest());
    }

    [Fact]
    public void The_digest_of_the_same_yaml_is_stable()
    {
        // Pinned so an accidental change of the canonical form (which would make every stored version look changed) shows.
        var yaml = "entities:\n  - name: e\n    join_keys: [{ name: k, type: int64 }]\n";
        var repo = FeatureRepositoryYaml.Parse([("a.yaml", yaml)]);

        Assert.Equal("{\"format\":\"strata.features/1\",\"entities\":[{\"name\":\"e\",\"join_keys\":[{\"name\":\"k\",\"type\":\"int64\"}]}],\"sources\":[],\"feature_views\":[],\"aggregation_views\":[],\"on_demand_views\":[],\"feature_services\":[]}", repo.ToCanonicalJson());
        Assert.Equal(FeatureRepository.DigestOf(repo.ToCanonicalJson()), repo.ComputeDigest());
    }

    [Fact]
    public void Json_that_is_not_canonical_feature_json_is_refused()
    {
        Assert.Equal(ErrorCodes.SchemaInvalid, Assert.Throws<StrataException>(() => FeatureRepository.FromJson("{\"format\":\"other\"}")).Code);
        Assert.Equal(ErrorCodes.SchemaInvalid, Assert.Throws<StrataException>(() => FeatureRepository.FromJson("not json")).Code);
        Assert.Equal(ErrorCodes.SchemaInvalid, Assert.Throws<StrataException>(() => FeatureRepository.FromJson("{\"format\":\"strata.features/1\",\"sources\":[{\"name\":\"s\",\"kind\":\"ftp\",\"timestamp_field\":\"t\"}]}")).Code);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("90s", 90)]
    [InlineData("10m", 600)]
    [InlineData("3h", 10800)]
    [InlineData("1d", 86400)]
    public void Durations_parse_and_format_canonically(string text, int seconds)
    {
        Assert.True(Durations.TryParse(text, out var span));
        Assert.Equal(TimeSpan.FromSeconds(seconds), span);
        Assert.Equal(text, Durations.Format(span));
        Assert.Equal("1h", Durations.Format(TimeSpan.FromMinutes(60)));
        Assert.Equal("2d", Durations.Format(TimeSpan.FromHours(48)));
    }
}
