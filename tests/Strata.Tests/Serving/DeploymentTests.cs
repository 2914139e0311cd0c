using Strata.Serving;

namespace Strata.Tests.Serving;

public sealed class DeploymentTests
{
    [Fact]
    public void A_deployment_round_trips_through_its_stored_json()
    {
        var deployment = new Deployment
        {
            Name = "delays",
            Project = "flights",
            Model = "delay@champion",
            Challenger = "delay/7",
            ChallengerWeight = 0.25,
            Shadow = "delay@shadow",
            FeatureService = "flight_delay_v1",
            Pii = ["passenger"],
            Limits = new DeploymentLimits { MaxConcurrency = 4, MaxQueue = 8, RatePerSecond = 10, TimeoutMs = 100, MaxRows = 50 },
        };

        var json = deployment.ToJson();
        var back = Deployment.FromJson(json);

        Assert.Contains("\"challenger_weight\":0.25", json, StringComparison.Ordinal);
        Assert.Equal(deployment, back); // the PII list by its entries, not by reference
        Assert.Equal(deployment.GetHashCode(), back.GetHashCode());
        Assert.Equal(["passenger"], back.Pii);
        Assert.NotEqual(deployment, back with { Pii = ["passenger", "email"] });
        Assert.NotEqual(deployment, back with { Limits = back.Limits with { MaxRows = 51 } });
    }

    [Fact]
    public void Fields_missing_from_stored_json_keep_their_defaults()
    {
        var back = Deployment.FromJson("{\"name\":\"a\",\"project\":\"p\",\"model\":\"m@live\"}");

        Assert.Empty(back.Pii);
        Assert.Equal(1.0, back.LogSampleRate);
        Assert.Equal(new DeploymentLimits(), back.Limits);
    }

    [Fact]
    public void A_caller_s_unknown_field_is_refused_with_the_known_ones_and_a_stored_one_is_skipped()
    {
        const string Typo = "{\"name\":\"a\",\"project\":\"p\",\"model\":\"m@live\",\"challenger\":\"m@next\",\"chalenger_weight\":0.2}";

        var refused = Assert.Throws<StrataException>(() => Deployment.FromCallerJson(Typo));
        var nested = Assert.Throws<StrataException>(() => Deployment.FromCallerJson("{\"name\":\"a\",\"project\":\"p\",\"model\":\"m@live\",\"limits\":{\"max_qeue\":1}}"));
        var wrong = Assert.Throws<StrataException>(() => Deployment.FromCallerJson("{\"name\":\"a\",\"project\":\"p\",\"model\":\"m@live\",\"limits\":{\"max_queue\":\"many\"}}"));
        var missing = Assert.Throws<StrataException>(() => Deployment.FromCallerJson("{\"name\":\"a\",\"project\":\"p\"}"));

        Assert.Equal(ErrorCodes.ArgumentInvalid, refused.Code);
        Assert.Equal("unknown field 'chalenger_weight' (known: name, project, model, challenger, challenger_weight, shadow, feature_service, sticky_key, pii, log_sample_rate, limits, batching)", refused.Message);
        Assert.Equal("unknown field 'limits.max_qeue' (known: max_concurrency, max_queue, rate_per_second, burst, timeout_ms, max_rows)", nested.Message);
        Assert.Equal("field 'limits.max_queue' must be a whole number", wrong.Message);
        Assert.Equal("field 'model' is required", missing.Message);
        Assert.Equal(0, Deployment.FromJson(Typo).ChallengerWeight); // a newer replica's field, in the store
    }

    [Theory]
    [InlineData("1e12", "field 'limits.timeout_ms' must be between 1 and 600000")]
    [InlineData("-1e12", "field 'limits.timeout_ms' must be between 1 and 600000")]
    [InlineData("2.5", "field 'limits.timeout_ms' must be a whole number")]
    [InlineData("\"5\"", "field 'limits.timeout_ms' must be a whole number")]
    public void A_caller_s_whole_number_beyond_an_int_is_refused_for_its_range_as_strata_yaml_does(string value, string message)
    {
        var refused = Assert.Throws<StrataException>(() => Deployment.FromCallerJson($"{{\"name\":\"a\",\"project\":\"p\",\"model\":\"m@live\",\"limits\":{{\"timeout_ms\":{value}}}}}"));

        Assert.Equal(message, refused.Message);
        Assert.Equal(1000, Deployment.FromCallerJson("{\"name\":\"a\",\"project\":\"p\",\"model\":\"m@live\",\"limits\":{\"timeout_ms\":1e3}}").Limits.TimeoutMs);
    }

    [Theory]
    [InlineData("\"model\":null", "field 'model' is required")]
    [InlineData("\"model\":\"m@live\",\"pii\":null", "field 'pii' must be a list of field names, not null")]
    [InlineData("\"model\":\"m@live\",\"pii\":[null]", "field 'pii' is empty")]
    [InlineData("\"model\":\"m@live\",\"limits\":null", "field 'limits' must be an object, not null")]
    [InlineData("\"model\":\"m@live\",\"challenger\":null,\"batching\":null,\"shadow\":null", null)]
    public void A_field_given_as_null_is_refused_by_name_unless_it_is_optional(string fields, string? message)
    {
        var json = "{\"name\":\"a\",\"project\":\"p\"," + fields + "}";

        if (message is null)
        {
            Assert.Null(Deployment.FromCallerJson(json).Challenger);
            return;
        }

        var refused = Assert.Throws<StrataException>(() => Deployment.FromCallerJson(json));
        Assert.Equal(ErrorCodes.ArgumentInvalid, refused.Code);
        Assert.Equal(message, refused.Message);
    }

    [Fact]
    public void The_endpoints_section_of_strata_yaml_is_read_with_limits()
    {
        const string yaml = """
            project: flights
            endpoints:
              - name: delays
                project: flights
                model: delay@champion
                challenger: delay@challenger
                challenger_weight: 0.1
                sticky_key: origin
                limits: { max_concurrency: 8, rate_per_second: 50, burst: 100 }
                batching: { max_batch_size: 16, max_delay_ms: 1.5 }
            """;

        var deployments = DeploymentYaml.Parse("strata.yaml", yaml);

        var d = Assert.Single(deployments);
        Assert.Equal("delay@challenger", d.Challenger);
        Assert.Equal(0.1, d.ChallengerWeight);
        Assert.Equal(8, d.Limits.MaxConcurrency);
        Assert.Equal(50, d.Limits.RatePerSecond);
        Assert.Equal(1024, d.Limits.MaxQueue);
        Assert.Equal((16, 1.5), (d.Batching!.MaxBatchSize, d.Batching.MaxDelayMs));
        Assert.Equal(d, Deployment.FromJson(d.ToJson())); // the API's JSON carries it too
        Assert.Contains("\"batching\":{\"max_batch_size\":16,\"max_delay_ms\":1.5}", d.ToJson(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m@x\n    colour: red\n", 5, "unknown key 'colour'")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n", 2, "needs 'model'")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m\n", 2, "must name an alias")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m@x\n    challenger_weight: 0.5\n", 2, "no challenger")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m@x\n    limits: { max_queue: lots }\n", 5, "'max_queue' must be a whole number, not 'lots'")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m@x\n    limits: { max_rows: 2.5 }\n", 5, "'max_rows' must be a whole number, not '2.5'")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m@x\n    limits: { timeout_ms: 1e12 }\n", 2, "field 'limits.timeout_ms' must be between 1 and 600000")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m@x\n    limits: { max_concurrency: -3000000000 }\n", 2, "field 'limits.max_concurrency' must be between 1 and 100000")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m@x\n    batching: { max_batch_size: 0 }\n", 2, "batching.max_batch_size")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m@x\n    challenger: m@x\n", 2, "field 'challenger' names the champion itself ('m@x')")]
    [InlineData("endpoints:\n  - name: a\n    project: p\n    model: m/3\n    shadow: m/3\n", 2, "field 'shadow' names the champion itself ('m/3')")]
    [InlineData("endpoints: [\n", 2, "")]
    public void Mistakes_in_strata_yaml_name_the_file_and_line(string yaml, int line, string message)
    {
        var e = Assert.ThrowsAny<StrataException>(() => DeploymentYaml.Parse("strata.yaml", yaml));

        Assert.StartsWith($"strata.yaml:{line}", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("endpoints:\n  - { name: flights, project: bench, model: flights@live\n  - name: x\n")]
    [InlineData("endpoints: []\nendpoints: []\n")]
    public void Yaml_the_parser_refuses_without_a_line_is_still_an_error_naming_the_file(string yaml)
    {
        // YamlDotNet's scanner throws InvalidOperationException on the first, and its mapping ArgumentException on the second.
        var e = Assert.ThrowsAny<StrataException>(() => DeploymentYaml.Parse("strata.yaml", yaml));

        Assert.StartsWith("strata.yaml", e.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
    }
}
