using Strata.Features.Definitions;
using Strata.Testing;

namespace Strata.Tests.Features.Definitions;

public sealed class FeatureRepositoryYamlTests : IDisposable
{
    private const string Base = """
        entities:
          - name: origin
            join_keys:
              - { name: origin, type: string }
        sources:
          - name: hourly
            kind: file
            path: data/hourly.csv
            timestamp_field: ts
          - name: events
            kind: push
            timestamp_field: date
            schema:
              - { name: origin, type: string }
              - { name: date, type: timestamp }
              - { name: delay, type: int64 }
              - { name: dest, type: string }
        """;

    private readonly TempFolder _folder = new("feature-yaml");

    public void Dispose() => _folder.Dispose();

    private static FeatureRepository Parse(string yaml) => FeatureRepositoryYaml.Parse([("features.yaml", yaml)]);

    private static string Error(string yaml)
    {
        var e = Assert.ThrowsAny<StrataException>(() => Parse(yaml));
        Assert.True(e.IsCallerError, e.Code);
        return e.Message;
    }

    private static string View(string body) => Base + "\nfeature_views:\n" + body;

    [Fact]
    public void A_valid_repository_loads_with_every_kind_of_definition()
    {
        var repo = Parse(Base + """

            feature_views:
              - name: origin_hourly
                entities: [origin]
                source: hourly
                ttl: 3h
                online: false
                tags: { team: ml }
                features:
                  - { name: dep_count, type: int64, tags: [pii:email] }
                  - { name: mean_delay, type: float64 }
            aggregation_views:
              - name: windows
                entities: origin
                source: events
                aggregations:
                  - { name: n_1h, function: count, window: 1h }
                  - { name: mean_1d, function: mean, column: delay, window: 1d }
                  - { name: last_dest, function: last, column: dest, window: 90s }
            on_demand_views:
              - name: ratio
                request_fields: [{ name: distance, type: float64 }]
                inputs: [windows:mean_1d]
                features:
                  - { name: r, type: float64, expression: "windows__mean_1d / (distance + 1)" }
            feature_services:
              - name: svc
                features: [origin_hourly:*, windows:n_1h, ratio:r]
            """);

        var view = Assert.Single(repo.FeatureViews);
        Assert.Equal(TimeSpan.FromHours(3), view.Ttl);
        Assert.False(view.Online);
        Assert.Equal("ml", view.Tags["team"]);
        Assert.Equal(["pii:email"], view.Features[0].Tags);
        Assert.Equal(DataType.Int64, view.Features[0].Type);
        Assert.Equal(SourceKind.Push, repo.Source("events").Kind);
        Assert.Equal(TimeSpan.FromSeconds(90), repo.AggregationViews[0].Aggregations[2].Window);
        Assert.Equal(DataType.String, FeatureRepository.AggregateType(repo.AggregationViews[0].Aggregations[2], repo.Source("events")));
        Assert.Equal(
            ["origin_hourly:dep_count", "origin_hourly:mean_delay", "windows:n_1h", "ratio:r"],
            repo.Service("svc").Features.Select(f => f.ToString()));
    }

    [Fact]
    public void Invalid_yaml_names_the_file_and_line()
    {
        Assert.StartsWith("features.yaml:3: invalid YAML", Error("entities:\n  - name: a\n   bad: [\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_top_level_key_is_refused_with_its_line()
    {
        Assert.StartsWith("features.yaml:2: unknown key 'feature_veiws'", Error("entities: []\nfeature_veiws: []\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_in_a_definition_is_refused_with_its_line()
    {
        var message = Error(View("  - name: v\n    entities: [origin]\n    source: hourly\n    tll: 3h\n    features: [{ name: x, type: int64 }]\n"));
        Assert.StartsWith("features.yaml:22: feature view 'v': unknown key 'tll'", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_value_type_is_refused_with_its_line()
    {
        var message = Error(View("  - name: v\n    entities: [origin]\n    source: [hourly]\n    features: [{ name: x, type: int64 }]\n"));
        Assert.StartsWith("features.yaml:21: feature view 'v': `source` must be a single value", message, StringComparison.Ordinal);
        var online = Error(View("  - name: v\n    entities: [origin]\n    source: hourly\n    online: maybe\n    features: [{ name: x, type: int64 }]\n"));
        Assert.StartsWith("features.yaml:22: feature view 'v': `online` must be true or false", online, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3 hours")]
    [InlineData("-1h")]
    [InlineData("1w")]
    [InlineData("1.5h")]
    public void A_bad_duration_is_refused_with_its_line(string ttl)
    {
        var message = Error(View($"  - name: v\n    entities: [origin]\n    source: hourly\n    ttl: {ttl}\n    features: [{{ name: x, type: int64 }}]\n"));
        Assert.StartsWith("features.yaml:22: feature view 'v': `ttl` must be a duration such as 90s, 10m, 3h or 1d", message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_type_is_refused_with_its_line()
    {
        var message = Error(View("  - name: v\n    entities: [origin]\n    source: hourly\n    features:\n      - { name: x, type: int65 }\n"));
        Assert.StartsWith("features.yaml:23: feature view 'v': 'x' has unknown type 'int65'", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_view_naming_an_unknown_entity_points_at_the_entity()
    {
        var message = Error(View("  - name: origin_hourly\n    source: hourly\n    entities:\n      - orign\n    features: [{ name: x, type: int64 }]\n"));
        Assert.Equal("features.yaml:22: feature view 'origin_hourly' names unknown entity 'orign'", message);
    }

    [Fact]
    public void A_view_naming_an_unknown_source_points_at_the_source()
    {
        var message = Error(View("  - name: v\n    entities: [origin]\n    source: hourli\n    features: [{ name: x, type: int64 }]\n"));
        Assert.Equal("features.yaml:21: feature view 'v' names unknown source 'hourli'", message);
    }

    [Fact]
    public void A_service_naming_an_unknown_feature_or_view_points_at_the_reference()
    {
        var body = View("  - name: v\n    entities: [origin]\n    source: hourly\n    features: [{ name: x, type: int64 }]\n");
        var feature = Error(body + "feature_services:\n  - name: s\n    features:\n      - v:x\n      - v:y\n");
        Assert.StartsWith("features.yaml:27: feature service 's' names unknown feature 'v:y'", feature, StringComparison.Ordinal);
        var star = Error(body + "feature_services:\n  - name: s\n    features:\n      - w:*\n");
        Assert.StartsWith("features.yaml:26: feature service 's' names unknown view 'w'", star, StringComparison.Ordinal);
        var malformed = Error(body + "feature_services:\n  - name: s\n    features:\n      - just_a_name\n");
        Assert.StartsWith("features.yaml:26: feature service 's': feature reference 'just_a_name' is not of the form view:feature", malformed, StringComparison.Ordinal);
    }

    [Fact]
    public void A_service_whose_features_share_a_name_is_refused_naming_both()
    {
        var body = View("  - name: v_a\n    entities: [origin]\n    source: hourly\n    features: [{ name: x, type: int64 }, { name: y, type: int64 }]\n"
            + "  - name: v_b\n    entities: [origin]\n    source: hourly\n    features: [{ name: x, type: int64 }]\n");

        var pair = Error(body + "feature_services:\n  - name: s\n    features:\n      - v_a:x\n      - v_b:x\n");
        var star = Error(body + "feature_services:\n  - name: s\n    features: [v_b:x, v_a:*]\n");

        Assert.StartsWith("features.yaml:31: feature service 's': features 'v_a:x' and 'v_b:x' are both named 'x'", pair, StringComparison.Ordinal);
        Assert.StartsWith("features.yaml:29: feature service 's': features 'v_b:x' and 'v_a:x' are both named 'x'", star, StringComparison.Ordinal);
        Assert.Single(Parse(body + "feature_services:\n  - name: s\n    features: [v_a:y, v_b:x]\n").Services);
    }

    [Fact]
    public void Aggregations_need_declared_numeric_inputs_and_positive_windows()
    {
        var message = Error(Base + """

            aggregation_views:
              - name: w
                entities: [origin]
                source: events
                aggregations:
                  - { name: a, function: mean, column: dest, window: 1h }
                  - { name: b, function: sum, column: nope, window: 1h }
                  - { name: c, function: max, column: delay, window: 0 }
                  - { name: d, function: median, column: delay, window: 1h }
            """);
        Assert.StartsWith("features.yaml:26: aggregation view 'w': aggregation 'd' has unknown function 'median'", message, StringComparison.Ordinal);

        var problems = Error(Base + """

            aggregation_views:
              - name: w
                entities: [origin]
                source: events
                aggregations:
                  - { name: a, function: mean, column: dest, window: 1h }
                  - { name: b, function: sum, column: nope, window: 1h }
                  - { name: c, function: max, column: delay, window: 0 }
            """).Split('\n');
        Assert.Equal(3, problems.Length);
        Assert.StartsWith("features.yaml:23: aggregation view 'w': aggregation 'a' (mean) needs a numeric column; 'dest' is string", problems[0], StringComparison.Ordinal);
        Assert.StartsWith("features.yaml:24: aggregation view 'w': aggregation 'b' reads column 'nope'", problems[1], StringComparison.Ordinal);
        Assert.StartsWith("features.yaml:25: aggregation view 'w': window must be more than zero", problems[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Join_keys_must_be_integers_or_strings()
    {
        var message = Error("entities:\n  - name: e\n    join_keys:\n      - name: k\n        type: float64\n");
        Assert.Equal("features.yaml:5: entity 'e': join key 'k' is float64; join keys are int32, int64 or string", message);
    }

    [Fact]
    public void On_demand_inputs_must_exist()
    {
        var message = Error(Base + """

            on_demand_views:
              - name: o
                inputs: [nowhere:x]
                features: [{ name: r, type: float64, expression: "1" }]
            """);
        Assert.Equal("features.yaml:20: on-demand view 'o': input 'nowhere:x' names unknown view 'nowhere'", message);
    }

    [Fact]
    public void A_typo_in_an_on_demand_expression_fails_at_load_with_its_line()
    {
        var message = Error(View("  - name: v\n    entities: [origin]\n    source: hourly\n    features: [{ name: x, type: int64 }]\n") + """
            on_demand_views:
              - name: o
                request_fields: [{ name: distance, type: float64 }]
                inputs: [v:x]
                features: [{ name: r, type: float64, expression: "v__x / (distanse + 1)" }]
            """);
        Assert.StartsWith("features.yaml:", message, StringComparison.Ordinal);
        Assert.Contains("on-demand view 'o': feature 'r'", message, StringComparison.Ordinal);
        Assert.Contains("distanse", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_defined_twice_across_files_points_at_the_second()
    {
        var e = Assert.ThrowsAny<StrataException>(() => FeatureRepositoryYaml.Parse(
        [
            ("a.yaml", Base),
            ("b.yaml", "\nentities:\n  - name: origin\n    join_keys: [{ name: origin, type: string }]\n"),
        ]));
        Assert.Equal("b.yaml:3: entity 'origin' is already defined at a.yaml:2", e.Message);
    }

    [Fact]
    public void Views_of_different_kinds_share_one_name_space()
    {
        var message = Error(Base + """

            feature_views:
              - { name: v, entities: [origin], source: hourly, features: [{ name: x, type: int64 }] }
            aggregation_views:
              - { name: v, entities: [origin], source: events, aggregations: [{ name: n, function: count, window: 1h }] }
            """);
        Assert.StartsWith("features.yaml:21: aggregation view 'v' is already defined at features.yaml:19", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/etc/passwd")]
    [InlineData("../outside.csv")]
    [InlineData("data/../../outside.csv")]
    [InlineData("C:/data.csv")]
    [InlineData("\\\\server\\share\\x.csv")]
    public void A_file_source_path_may_not_leave_the_repository_folder(string path)
    {
        var yaml = $"sources:\n  - name: s\n    kind: file\n    timestamp_field: ts\n    path: '{path}'\n";
        var e = Assert.ThrowsAny<StrataException>(() => FeatureRepositoryYaml.Parse([("features.yaml", yaml)], _folder.Path));
        Assert.StartsWith("features.yaml:5: source 's': path", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_source_path_through_a_symbolic_link_is_refused()
    {
        var outside = Directory.CreateDirectory(_folder.File("outside")).FullName;
        var repo = Directory.CreateDirectory(_folder.File("repo")).FullName;
        Directory.CreateSymbolicLink(Path.Combine(repo, "data"), outside);
        File.WriteAllText(Path.Combine(repo, "features.yaml"), "sources:\n  - name: s\n    kind: file\n    timestamp_field: ts\n    path: data/x.csv\n");

        var e = Assert.ThrowsAny<StrataException>(() => FeatureRepositoryYaml.LoadFolderAsync(repo).GetAwaiter().GetResult());
        Assert.StartsWith("features.yaml:5: source 's': path 'data/x.csv' goes through a symbolic link", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_folder_loads_its_yaml_files_in_name_order_and_ignores_others()
    {
        var repo = Directory.CreateDirectory(_folder.File("repo")).FullName;
        await File.WriteAllTextAsync(Path.Combine(repo, "b.yml"), "feature_views:\n  - { name: v, entities: [origin], source: hourly, features: [{ name: x, type: int64 }] }\n");
        await File.WriteAllTextAsync(Path.Combine(repo, "a.yaml"), Base);
        await File.WriteAllTextAsync(Path.Combine(repo, "notes.txt"), "not: [yaml");
        Directory.CreateDirectory(Path.Combine(repo, "sub"));
        await File.WriteAllTextAsync(Path.Combine(repo, "sub", "c.yaml"), "broken: [");

        var loaded = await FeatureRepositoryYaml.LoadFolderAsync(repo);

        Assert.Equal("data/hourly.csv", loaded.Source("hourly").Path);
        Assert.Single(loaded.FeatureViews);
    }

    [Fact]
    public async Task A_file_over_the_size_limit_is_refused()
    {
        var repo = Directory.CreateDirectory(_folder.File("big")).FullName;
        await File.WriteAllTextAsync(Path.Combine(repo, "big.yaml"), "# " + new string('x', FeatureRepositoryYaml.MaxFileBytes));

        var e = await Assert.ThrowsAsync<DataFormatException>(() => FeatureRepositoryYaml.LoadFolderAsync(repo));
        Assert.Equal(ErrorCodes.DataLimit, e.Code);
        Assert.StartsWith("big.yaml: a definition file may hold at most", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_file_is_an_empty_repository()
    {
        Assert.Empty(Parse("").Entities);
        Assert.Empty(Parse("# nothing yet\n").FeatureViews);
    }
}
