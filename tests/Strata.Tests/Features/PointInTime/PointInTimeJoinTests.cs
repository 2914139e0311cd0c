using Strata.Features.PointInTime;
using Strata.Testing;

namespace Strata.Tests.Features.PointInTime;

public sealed class PointInTimeJoinTests
{
    private static readonly DateTime Day = new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static DateTime? At(double hours) => Day.AddHours(hours);

    private static FeatureViewSource DriverStats(Table rows, TimeSpan? ttl = null) =>
        new("driver_stats", rows, ["driver_id"], "event_ts", ["rate"]) { Ttl = ttl };

    [Fact]
    public void Each_entity_row_takes_the_latest_row_at_or_before_its_timestamp()
    {
        var entities = Table.From(
            ("driver_id", Columns.Int64(1, 2, 1, 3)),
            ("ts", Columns.Timestamp(At(5), At(5), At(2.5), At(5))),
            ("label", Columns.Bool(true, false, true, null)));
        var rows = Table.From(
            ("driver_id", Columns.Int64(1, 1, 2, 1)),
            ("event_ts", Columns.Timestamp(At(1), At(3), At(6), At(2))),
            ("rate", Columns.Float32(0.1f, 0.3f, 0.6f, 0.2f)));

        var result = PointInTimeJoin.Join(entities, "ts", [DriverStats(rows)]);

        TableAssert.Equal(
            Table.From(
                ("driver_id", Columns.Int64(1, 2, 1, 3)),
                ("ts", Columns.Timestamp(At(5), At(5), At(2.5), At(5))),
                ("label", Columns.Bool(true, false, true, null)),
                ("rate", Columns.Float32(0.3f, null, 0.2f, null))),
            result);
        Assert.Same(entities["label"], result["label"]);
    }

    [Fact]
    public void Ttl_boundary_is_inclusive_at_exactly_entity_time_minus_ttl()
    {
        var entities = Table.From(
            ("driver_id", Columns.Int64(1, 2)),
            ("ts", Columns.Timestamp(Timestamp.FromDateTime(Day) + 3_600_000_000, Timestamp.FromDateTime(Day) + 3_600_000_001)));
        var rows = Table.From(
            ("driver_id", Columns.Int64(1, 2)),
            ("event_ts", Columns.Timestamp(Timestamp.FromDateTime(Day), Timestamp.FromDateTime(Day))),
            ("rate", Columns.Float32(1f, 2f)));

        var result = PointInTimeJoin.Join(entities, "ts", [DriverStats(rows, TimeSpan.FromHours(1))]);

        Assert.Equal(1f, result["rate"].GetValue(0));
        Assert.Null(result["rate"].GetValue(1));
    }

    [Fact]
    public void A_row_at_exactly_the_entity_timestamp_is_taken_and_one_a_microsecond_later_is_not()
    {
        var t = Timestamp.FromDateTime(Day);
        var entities = Table.From(("driver_id", Columns.Int64(1, 2)), ("ts", Columns.Timestamp(t, t)));
        var rows = Table.From(
            ("driver_id", Columns.Int64(1, 2, 2)),
            ("event_ts", Columns.Timestamp(t, t + 1, t - 1)),
            ("rate", Columns.Float32(1f, 99f, 2f)));

        var result = PointInTimeJoin.Join(entities, "ts", [DriverStats(rows)]);

        Assert.Equal(new float[] { 1f, 2f }, result.GetColumn<float>("rate").Values.ToArray());
    }

    [Fact]
    public void Event_time_ties_go_to_the_larger_created_time_then_to_the_later_input_row()
    {
        var entities = Table.From(("driver_id", Columns.Int64(1, 2, 3)), ("ts", Columns.Timestamp(At(9), At(9), At(9))));
        var rows = Table.From(
            ("driver_id", Columns.Int64(1, 1, 2, 2, 3, 3)),
            ("event_ts", Columns.Timestamp(At(1), At(1), At(1), At(1), At(1), At(1))),
            ("created_ts", Columns.Timestamp(At(8), At(7), At(7), At(7), At(2), null)),
            ("rate", Columns.Float32(1f, 2f, 3f, 4f, 5f, 6f)));
        var view = DriverStats(rows) with { CreatedTimestamp = "created_ts" };

        var result = PointInTimeJoin.Join(entities, "ts", [view]);

        Assert.Equal(new float[] { 1f, 4f, 5f }, result.GetColumn<float>("rate").Values.ToArray());
    }

    [Fact]
    public void Null_keys_and_null_timestamps_never_match()
    {
        var entities = Table.From(
            ("driver_id", Columns.Int64(null, 1, 1)),
            ("ts", Columns.Timestamp(At(5), null, At(5))));
        var rows = Table.From(
            ("driver_id", Columns.Int64(null, 1, 1)),
            ("event_ts", Columns.Timestamp(At(4), At(3), null)),
            ("rate", Columns.Float32(9f, 1f, 8f)));

        var result = PointInTimeJoin.Join(entities, "ts", [DriverStats(rows)]);

        Assert.Equal(new object?[] { null, null, 1f }, Enumerable.Range(0, 3).Select(result["rate"].GetValue));
    }

    [Fact]
    public void String_and_multi_column_keys_match_across_different_dictionaries_and_names()
    {
        var entities = Table.From(
            ("city", Columns.String("paris", "oslo", "rome", "oslo")),
            ("shop", Columns.Int32(1, 1, 1, 2)),
            ("ts", Columns.Timestamp(At(5), At(5), At(5), At(5))));
        var rows = Table.From(
            ("store_city", Columns.String("oslo", "oslo", "paris", "lima")),
            ("store_id", Columns.Int32(2, 1, 1, 1)),
            ("event_ts", Columns.Timestamp(At(1), At(1), At(1), At(1))),
            ("sales", Columns.String("o2", "o1", "p1", "l1")));
        var view = new FeatureViewSource("stores", rows, ["store_city", "store_id"], "event_ts", ["sales"]) { EntityKeys = ["city", "shop"] };

        var result = PointInTimeJoin.Join(entities, "ts", [view], new PointInTimeJoinOptions { FullFeatureNames = true });

        Assert.Equal(new[] { "p1", "o1", null, "o2" }, Enumerable.Range(0, 4).Select(i => result.GetStringColumn("stores__sales")[i]));
    }

    [Fact]
    public void Output_keeps_entity_row_order_and_appends_views_in_order()
    {
        var entities = Table.From(
            ("driver_id", Columns.Int64(3, 1, 2, 1)),
            ("ts", Columns.Timestamp(At(9), At(1), At(9), At(9))),
            ("label", Columns.Int32(30, 10, 20, 11)));
        var first = Table.From(("driver_id", Columns.Int64(1, 2, 3)), ("event_ts", Columns.Timestamp(At(0), At(0), At(0))), ("rate", Columns.Float32(1f, 2f, 3f)));
        var second = Table.From(("driver_id", Columns.Int64(1)), ("event_ts", Columns.Timestamp(At(2))), ("trips", Columns.Int64(7)));
        var empty = Table.Empty(first.Schema);

        var result = PointInTimeJoin.Join(
            entities,
            "ts",
            [DriverStats(first), new FeatureViewSource("trips", second, ["driver_id"], "event_ts", ["trips"]), new FeatureViewSource("none", empty, ["driver_id"], "event_ts", ["rate"])],
            new PointInTimeJoinOptions { FullFeatureNames = true });

        Assert.Equal(new[] { "driver_id", "ts", "label", "driver_stats__rate", "trips__trips", "none__rate" }, result.Schema.Names);
        Assert.Equal(new[] { 30, 10, 20, 11 }, result.GetColumn<int>("label").Values.ToArray());
        Assert.Equal(new object?[] { 3f, 1f, 2f, 1f }, Enumerable.Range(0, 4).Select(result["driver_stats__rate"].GetValue));
        Assert.Equal(new object?[] { null, null, null, 7L }, Enumerable.Range(0, 4).Select(result["trips__trips"].GetValue));
        Assert.Equal(4, result["none__rate"].NullCount);
    }

    [Fact]
    public void A_missing_entity_timestamp_column_is_a_clear_error()
    {
        var entities = Table.From(("driver_id", Columns.Int64(1)), ("when", Columns.Timestamp(At(1))));
        var rows = Table.From(("driver_id", Columns.Int64(1)), ("event_ts", Columns.Timestamp(At(0))), ("rate", Columns.Float32(1f)));

        var error = Assert.Throws<StrataException>(() => PointInTimeJoin.Join(entities, "ts", [DriverStats(rows)]));

        Assert.Equal(ErrorCodes.NotFound, error.Code);
        Assert.Contains("timestamp column 'ts'", error.Message, StringComparison.Ordinal);
        Assert.Contains("when", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_entity_timestamp_column_of_another_type_is_a_clear_error()
    {
        var entities = Table.From(("driver_id", Columns.Int64(1)), ("ts", Columns.Int64(5)));
        var rows = Table.From(("driver_id", Columns.Int64(1)), ("event_ts", Columns.Timestamp(At(0))), ("rate", Columns.Float32(1f)));

        var error = Assert.Throws<StrataException>(() => PointInTimeJoin.Join(entities, "ts", [DriverStats(rows)]));

        Assert.Equal(ErrorCodes.DataType, error.Code);
        Assert.Contains("'ts'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_type_mismatch_between_entity_and_view_is_a_clear_error()
    {
        var entities = Table.From(("driver_id", Columns.String("1")), ("ts", Columns.Timestamp(At(1))));
        var rows = Table.From(("driver_id", Columns.Int64(1)), ("event_ts", Columns.Timestamp(At(0))), ("rate", Columns.Float32(1f)));

        var error = Assert.Throws<StrataException>(() => PointInTimeJoin.Join(entities, "ts", [DriverStats(rows)]));

        Assert.Equal(ErrorCodes.DataType, error.Code);
        Assert.Contains("join key 'driver_id' of feature view 'driver_stats' is int64 but entity column 'driver_id' is string", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_feature_named_like_an_entity_column_is_a_clear_error_naming_it()
    {
        var entities = Table.From(("driver_id", Columns.Int64(1)), ("ts", Columns.Timestamp(At(1))), ("rate", Columns.Float32(0f)));
        var rows = Table.From(("driver_id", Columns.Int64(1)), ("event_ts", Columns.Timestamp(At(0))), ("rate", Columns.Float32(1f)));

        var error = Assert.Throws<StrataException>(() => PointInTimeJoin.Join(entities, "ts", [DriverStats(rows)]));

        Assert.Equal(ErrorCodes.SchemaInvalid, error.Code);
        Assert.Contains("'rate'", error.Message, StringComparison.Ordinal);
        Assert.Contains("entity column", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_views_with_the_same_feature_name_collide_unless_full_feature_names_are_used()
    {
        var entities = Table.From(("driver_id", Columns.Int64(1)), ("ts", Columns.Timestamp(At(1))));
        var rows = Table.From(("driver_id", Columns.Int64(1)), ("event_ts", Columns.Timestamp(At(0))), ("rate", Columns.Float32(1f)));
        FeatureViewSource[] views = [DriverStats(rows), DriverStats(rows) with { Name = "other" }];

        var error = Assert.Throws<StrataException>(() => PointInTimeJoin.Join(entities, "ts", views));
        var result = PointInTimeJoin.Join(entities, "ts", views, new PointInTimeJoinOptions { FullFeatureNames = true });

        Assert.Contains("output column 'rate' of feature view 'other'", error.Message, StringComparison.Ordinal);
        Assert.Contains("feature 'rate' of feature view 'driver_stats'", error.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { "driver_id", "ts", "driver_stats__rate", "other__rate" }, result.Schema.Names);
    }

    [Fact]
    public void A_missing_feature_or_key_column_is_a_clear_error()
    {
        var entities = Table.From(("driver_id", Columns.Int64(1)), ("ts", Columns.Timestamp(At(1))));
        var rows = Table.From(("driver_id", Columns.Int64(1)), ("event_ts", Columns.Timestamp(At(0))), ("rate", Columns.Float32(1f)));

        var feature = Assert.Throws<StrataException>(() => PointInTimeJoin.Join(entities, "ts", [DriverStats(rows) with { Features = ["speed"] }]));
        var key = Assert.Throws<StrataException>(() => PointInTimeJoin.Join(entities, "ts", [DriverStats(rows) with { EntityKeys = ["car_id"] }]));

        Assert.Contains("feature view 'driver_stats' has no column 'speed'", feature.Message, StringComparison.Ordinal);
        Assert.Contains("entity table has no column 'car_id'", key.Message, StringComparison.Ordinal);
    }
}
