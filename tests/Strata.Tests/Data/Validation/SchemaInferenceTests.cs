using Strata.Data.Profiling;
using Strata.Data.Validation;

namespace Strata.Tests.Data.Validation;

public sealed class SchemaInferenceTests
{
    private static Table Sample(int rows = 400)
    {
        var random = new Random(5);
        var ids = new StringColumnBuilder();
        var cities = new StringColumnBuilder();
        var emails = new StringColumnBuilder();
        var amount = new PrimitiveColumnBuilder<double>(DataType.Float64);
        var at = new PrimitiveColumnBuilder<long>(DataType.Timestamp);
        var flag = new PrimitiveColumnBuilder<bool>(DataType.Bool);
        for (var i = 0; i < rows; i++)
        {
            ids.Append($"row-{i}");
            cities.Append(new[] { "Paris", "Oslo", "Lima" }[random.Next(3)]);
            emails.Append($"user{random.Next(1000)}@example.com");
            if (i % 10 == 0)
            {
                amount.AppendNull();
            }
            else
            {
                amount.Append(random.NextDouble() * 100);
            }

            at.Append(Timestamp.FromDateTime(new DateTime(2020, 1, 1).AddMinutes(i)));
            flag.Append(random.Next(2) == 0);
        }

        return Table.From(("id", ids.Build()), ("city", cities.Build()), ("email", emails.Build()), ("amount", amount.Build()), ("at", at.Build()), ("flag", flag.Build()));
    }

    [Fact]
    public void Infers_nullability_roles_categories_pii_and_skew_checks()
    {
        var table = Sample();
        var schema = SchemaInference.Infer(table.Schema, Profiler.Profile(table));

        Assert.Equal(FieldRole.Id, schema["id"].Role);
        Assert.Null(schema["id"].Constraints);
        Assert.Equal(new[] { "Lima", "Oslo", "Paris" }, schema["city"].Constraints!.Categories);
        Assert.Equal(SkewMethod.LInfinity, schema["city"].Constraints!.Skew!.Method);
        Assert.Contains("pii:email", schema["email"].Tags);
        Assert.Null(schema["email"].Constraints);
        Assert.True(schema["amount"].Nullable);
        Assert.False(schema["city"].Nullable);
        Assert.Equal(SkewMethod.JensenShannon, schema["amount"].Constraints!.Skew!.Method);
        Assert.Null(schema["amount"].Constraints!.Min);
        Assert.Equal(FieldRole.EventTime, schema["at"].Role);
        Assert.Equal(SkewMethod.LInfinity, schema["flag"].Constraints!.Skew!.Method);
    }

    [Fact]
    public void Ranges_are_recorded_only_when_asked()
    {
        var table = Sample();
        var schema = SchemaInference.Infer(table.Schema, Profiler.Profile(table), new SchemaInferenceOptions { InferRanges = true });

        var amounts = table.GetColumn<double>("amount");
        var observed = Enumerable.Range(0, amounts.Length).Where(i => !amounts.IsNull(i)).Select(i => amounts[i]).ToArray();
        Assert.Equal(observed.Min(), schema["amount"].Constraints!.Min);
        Assert.Equal(observed.Max(), schema["amount"].Constraints!.Max);
        Assert.Equal(Timestamp.FromDateTime(new DateTime(2020, 1, 1)), schema["at"].Constraints!.Min);
    }

    [Fact]
    public void Declared_pii_columns_never_get_category_values()
    {
        var table = Sample();
        var tagged = table.WithSchema(new Schema(table.Schema.Select(f => f.Name == "city" ? f.WithTags(["pii:location"]) : f)));
        var schema = SchemaInference.Infer(tagged.Schema, Profiler.Profile(tagged));

        Assert.Null(schema["city"].Constraints);
        Assert.Contains("pii:location", schema["city"].Tags);
    }
}
