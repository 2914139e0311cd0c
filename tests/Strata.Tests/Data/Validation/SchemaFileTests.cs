using Strata.Data;

namespace Strata.Tests.Data.Validation;

public sealed class SchemaFileTests
{
    [Fact]
    public void Yaml_round_trip_keeps_types_roles_tags_and_constraints()
    {
        var schema = new Schema(
            new Field("when", DataType.Timestamp, nullable: false, FieldRole.EventTime,
                constraints: new FieldConstraints { Min = Timestamp.FromDateTime(new DateTime(2001, 1, 1)), Max = Timestamp.FromDateTime(new DateTime(2002, 1, 1)) }),
            new Field("email \"quoted\"", DataType.String, tags: ["pii:email"]),
            new Field("origin", DataType.String, role: FieldRole.EntityKey,
                constraints: new FieldConstraints { Categories = ["ATL", "BOS", "é\n"], MaxUnknownFraction = 0.01, Skew = new SkewCheck(SkewMethod.LInfinity, 0.05) }),
            new Field("delay", DataType.Float64, constraints: new FieldConstraints { MaxNullFraction = 0.25, Min = -60.5, Max = 1e4, Skew = new SkewCheck(SkewMethod.JensenShannon, 0.1) }),
            new Field("n", DataType.Int32, nullable: false, FieldRole.Label),
            new Field("flag", DataType.Bool, role: FieldRole.Ignore),
            new Field("f", DataType.Float32, role: FieldRole.Id));

        var yaml = SchemaFile.ToYaml(schema, "a comment");
        var back = SchemaFile.Parse(yaml);

        Assert.Equal(schema, back);
    }

    [Theory]
    [InlineData("fields:\n  - name: a\n    type: int65\n", 3, "unknown type 'int65'")]
    [InlineData("fields:\n  - name: a\n    type: int64\n    role: boss\n", 4, "unknown role 'boss'")]
    [InlineData("fields:\n  - name: a\n    type: int64\n    colour: red\n", 4, "unknown key 'colour'")]
    [InlineData("fields:\n  - name: a\n    type: int64\n  - name: a\n    type: string\n", 4, "duplicate field name 'a'")]
    [InlineData("fields:\n  - name: a\n    type: int64\n    constraints:\n      max_null_fraction: 2\n", 5, "between 0 and 1")]
    [InlineData("fields:\n  - name: a\n    type: int64\n    constraints:\n      categories: [x]\n", 5, "string columns only")]
    [InlineData("fields:\n  - name: a\n    type: timestamp\n    constraints:\n      min: yesterday\n", 5, "ISO 8601")]
    [InlineData("fields:\n  - name: a\n    type: int64\n    nullable: perhaps\n", 4, "true or false")]
    [InlineData("format: strata.schema/9\nfields: []\n", 1, "format")]
    [InlineData("fields: [\n", 2, "invalid YAML")]
    [InlineData("- a\n- b\n", 1, "one YAML mapping")]
    public void Mistakes_are_reported_with_their_line(string yaml, int line, string message)
    {
        var e = Assert.Throws<DataFormatException>(() => SchemaFile.Parse(yaml, "s.yaml"));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Equal(line, e.Location.Line);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }
}
