using Strata.Features.Definitions;

namespace Strata.Tests.Features.Definitions;

public sealed class FeaturePlanTests
{
    private static readonly FeatureRepository Before = FeatureRepositoryJsonTests.Sample().Validate();

    private static FeatureViewDefinition Hourly => Before.FeatureViews[0];

    private static FeatureRepository WithHourly(FeatureViewDefinition view) => Before with { FeatureViews = [view] };

    [Fact]
    public void Identical_definitions_have_no_changes()
    {
        Assert.Empty(FeaturePlan.Diff(Before, FeatureRepository.FromJson(Before.ToCanonicalJson())));
    }

    [Fact]
    public void A_new_repository_is_all_additions_by_kind_then_name()
    {
        var changes = FeaturePlan.Diff(FeatureRepository.Empty, Before);

        Assert.All(changes, c => Assert.Equal((ChangeAction.Add, false), (c.Action, c.Breaking)));
        Assert.Equal(
            ["entity origin", "source events", "source hourly", "source pg", "feature view origin_hourly", "aggregation view windows", "on-demand view ratio", "feature service svc"],
            changes.Select(c => $"{FeatureRepository.Describe(c.Kind)} {c.Name}"));
    }

    [Fact]
    public void Field_level_changes_of_a_view_are_listed()
    {
        var after = WithHourly(Hourly with
        {
            Ttl = TimeSpan.FromHours(1),
            Features = [Hourly.Features[1], new Field("max_delay", DataType.Int64)],
            Description = "now documented",
        });

        var changes = FeaturePlan.Diff(Before, after).Select(c => c.Detail).ToArray();

        Assert.Equal(
            ["feature 'dep_count' removed", "feature 'max_delay' added (int64)", "ttl 3h → 1h", "description (none) → 'now documented'"],
            changes);
    }

    [Fact]
    public void Retyping_a_feature_a_service_uses_is_breaking()
    {
        var after = WithHourly(Hourly with { Features = [Hourly.Features[0], new Field("mean_delay", DataType.Float32)] });

        var change = Assert.Single(FeaturePlan.Diff(Before, after));

        Assert.True(change.Breaking);
        Assert.Equal("feature 'mean_delay' type float64 → float32", change.Detail);
    }

    [Fact]
    public void Retyping_an_unused_feature_breaks_only_when_the_view_is_online()
    {
        // dep_count is in no service; the view is offline only.
        var offline = WithHourly(Hourly with { Features = [Hourly.Features[0].WithType(DataType.Float64), Hourly.Features[1]] });
        Assert.False(Assert.Single(FeaturePlan.Diff(Before, offline)).Breaking);

        var onlineBefore = WithHourly(Hourly with { Online = true });
        var onlineAfter = WithHourly(Hourly with { Online = true, Features = [Hourly.Features[0].WithType(DataType.Float64), Hourly.Features[1]] });
        Assert.True(Assert.Single(FeaturePlan.Diff(onlineBefore, onlineAfter)).Breaking);
    }

    [Fact]
    public void Removing_a_feature_or_a_view_a_service_uses_is_breaking()
    {
        var withoutFeature = WithHourly(Hourly with { Features = [Hourly.Features[0]] }) with { Services = [] };
        Assert.Contains(FeaturePlan.Diff(Before, withoutFeature), c => c is { Breaking: true, Detail: "feature 'mean_delay' removed" });

        var withoutView = Before with { FeatureViews = [], Services = [] };
        var removed = FeaturePlan.Diff(Before, withoutView).Single(c => c.Kind == DefinitionKind.FeatureView);
        Assert.Equal((ChangeAction.Remove, true, "services use origin_hourly:mean_delay"), (removed.Action, removed.Breaking, removed.Detail));

        // A service dropping a feature is not itself breaking (it is listed).
        var serviceOnly = Before with { Services = [Before.Services[0] with { Features = [Before.Services[0].Features[0]] }] };
        Assert.False(Assert.Single(FeaturePlan.Diff(Before, serviceOnly)).Breaking);
    }

    [Fact]
    public void Changing_a_stored_views_join_keys_is_breaking()
    {
        var retyped = Before with { Entities = [Before.Entities[0] with { JoinKeys = [new Field("origin", DataType.Int64)] }] };

        var changes = FeaturePlan.Diff(Before, retyped);

        Assert.Contains(changes, c => c is { Kind: DefinitionKind.Entity, Breaking: false, Detail: "join key 'origin' type string → int64" });
        Assert.Contains(changes, c => c is { Kind: DefinitionKind.FeatureView, Name: "origin_hourly", Breaking: true, Detail: "join keys (origin string) → (origin int64)" });
        Assert.Contains(changes, c => c is { Kind: DefinitionKind.AggregationView, Name: "windows", Breaking: true });
    }

    [Fact]
    public void Changing_an_aggregates_function_shows_the_type_change()
    {
        var windows = Before.AggregationViews[0];
        var after = Before with { AggregationViews = [windows with { Aggregations = [windows.Aggregations[0] with { Function = AggregationFunction.Last, Column = "delay" }, windows.Aggregations[1]] }] };

        var change = Assert.Single(FeaturePlan.Diff(Before, after));

        Assert.Equal("aggregation 'n' count over 1h → last(delay) over 1h", change.Detail);
        Assert.False(change.Breaking); // int64 → int64
    }
}
