using Strata.Features;
using Strata.Features.Definitions;
using Strata.Learning;
using Strata.Registry;
using Strata.Security;
using Strata.Storage;
using Strata.Stores;

namespace Strata.Testing;

/// <summary>
/// The shop feature project the request-field enrichment tests share (the runtime's and the server's): entities of
/// every key type (user string, item int64, shop int32), on-demand views over a nullable float64 request field and over
/// request fields of the other types, the services reading them, and one model per service. Item 1 costs 10 (listed
/// 2024-01-01), shop 2 is rated 4.5 and shop 3 rated 1, user "u1" has tier 2.
/// </summary>
public static class ShopSeed
{
    /// <summary>When item 1 was listed: 2024-01-01T00:00:00Z, in microseconds.</summary>
    public const long Listed = 1_704_067_200_000_000;

    public const string Definitions = """
        entities:
          - name: user
            join_keys:
              - { name: user_id, type: string }
          - name: item
            join_keys:
              - { name: item_id, type: int64 }
          - name: shop
            join_keys:
              - { name: shop_id, type: int32 }
        sources:
          - name: items
            kind: push
            timestamp_field: ts
            schema:
              - { name: item_id, type: int64 }
              - { name: ts, type: timestamp }
              - { name: price, type: float64 }
              - { name: listed, type: timestamp }
          - name: shops
            kind: push
            timestamp_field: ts
            schema:
              - { name: shop_id, type: int32 }
              - { name: ts, type: timestamp }
              - { name: rating, type: float64 }
          - name: users
            kind: push
            timestamp_field: ts
            schema:
              - { name: user_id, type: string }
              - { name: ts, type: timestamp }
              - { name: tier, type: float64 }
        feature_views:
          - name: item_stats
            entities: [item]
            source: items
            features:
              - { name: price, type: float64 }
              - { name: listed, type: timestamp }
          - name: shop_stats
            entities: [shop]
            source: shops
            features:
              - { name: rating, type: float64 }
          - name: user_stats
            entities: [user]
            source: users
            features:
              - { name: tier, type: float64 }
        on_demand_views:
          - name: basket
            request_fields:
              - { name: amount, type: float64 }
            inputs:
              - item_stats:price
            features:
              - { name: ratio, type: float64, expression: "amount / item_stats__price" }
              - { name: filled, type: float64, expression: "coalesce(amount, -1)" }
              - { name: isn, type: int64, expression: "if(is_null(amount), 1, 0)" }
          - name: typed
            request_fields:
              - { name: flag, type: bool }
              - { name: when, type: timestamp }
            features:
              - { name: flagged, type: int64, expression: "if(flag, 1, 0)" }
              - { name: when_us, type: float64, expression: "when" }
          - name: sized
            request_fields:
              - { name: weight, type: float32 }
              - { name: qty, type: int32 }
            features:
              - { name: heavy, type: float64, expression: "weight * 2" }
              - { name: qty2, type: int64, expression: "qty * 2" }
        feature_services:
          - name: s
            features: [item_stats:price, shop_stats:rating, basket:ratio, basket:filled, basket:isn]
          - name: typed_s
            features: [typed:flagged, typed:when_us]
          - name: sized_s
            features: [sized:heavy, sized:qty2]
          - name: ratio_s
            features: [basket:ratio, basket:filled]
          - name: users_s
            features: [user_stats:tier, item_stats:listed]
        """;

    /// <summary>
    /// Creates project "shop", applies the definitions, pushes the rows online and registers a regression model per
    /// service: "basket" (service s), "typed" (typed_s, reading the bool and timestamp request fields itself too),
    /// "sized" (sized_s), "ratio" (ratio_s) and "users" (users_s).
    /// </summary>
    public static async Task SeedAsync(StrataHome home, FeatureStores features)
    {
        ArgumentNullException.ThrowIfNull(home);
        ArgumentNullException.ThrowIfNull(features);
        var registry = new RegistryService(home.Metadata, home.Artifacts);
        await registry.CreateProjectAsync(Caller.Local, "shop", null);
        await new FeatureRegistry(home.Metadata).ApplyAsync("shop", FeatureRepositoryYaml.Parse([("shop.yaml", Definitions)]), force: false, Actor.Local);
        var store = await features.GetAsync("shop");
        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) - 1_000_000;
        await store.PushAsync("items", Table.From(
            ("item_id", Columns.Int64(1)), ("ts", Columns.Timestamp(now)), ("price", Columns.Float64(10)), ("listed", Columns.Timestamp(Listed))), PushTarget.Online);
        await store.PushAsync("shops", Table.From(
            ("shop_id", Columns.Int32(2, 3)), ("ts", Columns.Timestamp(now, now)), ("rating", Columns.Float64(4.5, 1))), PushTarget.Online);
        await store.PushAsync("users", Table.From(
            ("user_id", Columns.String("u1")), ("ts", Columns.Timestamp(now)), ("tier", Columns.Float64(2))), PushTarget.Online);

        var random = new Random(11);
        var rows = 200;
        Column Numbers(double scale) => Columns.Create<double>(DataType.Float64, [.. Enumerable.Range(0, rows).Select(_ => random.NextDouble() * scale)]);
        await RegisterAsync(home, "basket", Table.From(
            ("price", Numbers(20)), ("rating", Numbers(5)), ("ratio", Numbers(3)), ("filled", Numbers(30)), ("isn", Numbers(1)), ("y", Numbers(100))));
        await RegisterAsync(home, "typed", Table.From(
            ("flag", Columns.Create<bool>(DataType.Bool, [.. Enumerable.Range(0, rows).Select(i => i % 2 == 0)])),
            ("when", Columns.Create<long>(DataType.Timestamp, [.. Enumerable.Range(0, rows).Select(i => Listed + (i * 3_600_000_000L))])),
            ("flagged", Numbers(1)), ("when_us", Numbers(1e15)), ("y", Numbers(100))));
        await RegisterAsync(home, "sized", Table.From(("heavy", Numbers(10)), ("qty2", Numbers(10)), ("y", Numbers(100))));
        await RegisterAsync(home, "ratio", Table.From(("ratio", Numbers(3)), ("y", Numbers(100))));
        await RegisterAsync(home, "users", Table.From(("tier", Numbers(3)), ("listed", Numbers(1e9)), ("y", Numbers(100))));
    }

    private static async Task RegisterAsync(StrataHome home, string name, Table table)
    {
        var model = await new Strata.Learning.Gbdt.GbdtLearner(new Strata.Learning.Gbdt.GbdtOptions { NumBoostRound = 5 })
            .FitAsync(TrainingData.FromTable(table, new TrainingSpec { Label = "y", Task = LearningTask.Regression }));
        await TestModels.RegisterAsync(home, "shop", name, model);
    }
}
