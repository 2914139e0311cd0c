using Strata.Data;
using Strata.Data.Yaml;
using Strata.Features.Definitions;
using Strata.Pipelines;
using YamlDotNet.RepresentationModel;

namespace Strata.Tests.Data.Yaml;

public sealed class YamlFileReaderTests
{
    [Fact]
    public void Invalid_yaml_is_an_error_with_file_and_line()
    {
        var reader = new YamlFileReader("a.yaml");

        var error = Assert.Throws<DataFormatException>(() => reader.Load("x: 1\ny: [\n"));

        Assert.Equal(ErrorCodes.SchemaInvalid, error.Code);
        Assert.StartsWith("a.yaml:3: invalid YAML", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_repeated_key_is_a_yaml_error_naming_the_file_in_every_format()
    {
        const string Twice = "format: strata.schema/1\nformat: strata.schema/1\nfields: []\n";

        var schema = Assert.Throws<DataFormatException>(() => SchemaFile.Parse(Twice, "s.yaml"));
        var pipeline = Assert.Throws<PipelineSpecException>(() => PipelineYaml.Parse("pipeline: p\npipeline: q\nsteps: []\n", "p.yaml"));

        Assert.StartsWith("s.yaml:2: invalid YAML", schema.Message, StringComparison.Ordinal);
        Assert.StartsWith("p.yaml:2: ", pipeline.Message, StringComparison.Ordinal);
        Assert.Contains("invalid YAML", pipeline.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Messages_start_with_the_definition_being_read_and_carry_the_line()
    {
        var reader = new ViewReader("v.yaml");
        var root = (YamlMappingNode)reader.Load("name: a\nttl: soon\nonline: yes\ncolour: red\n")[0];

        var unknown = Assert.Throws<DataFormatException>(() => reader.OnlyKeys(root, "name", "ttl", "online"));
        var duration = Assert.Throws<DataFormatException>(() => reader.Duration(root, "ttl", Durations.TryParse, "10m or 1h"));
        var strict = Assert.Throws<DataFormatException>(() => reader.Bool(root, "online"));
        var missing = Assert.Throws<DataFormatException>(() => reader.String(root, "source", required: true));

        Assert.Equal("v.yaml:4: view 'a': unknown key 'colour' (expected name, ttl, online)", unknown.Message);
        Assert.Equal("v.yaml:2: view 'a': `ttl` must be a duration such as 10m or 1h, not 'soon'", duration.Message);
        Assert.Equal("v.yaml:3: view 'a': `online` must be true or false, not 'yes'", strict.Message);
        Assert.Equal("v.yaml:1: view 'a': missing `source`", missing.Message);
        Assert.True(reader.Bool(root, "online", yesNo: true));
    }

    [Fact]
    public void Lists_must_be_lists_of_single_values()
    {
        var reader = new YamlFileReader("l.yaml");
        var root = (YamlMappingNode)reader.Load("tags: [a, b]\nname: [x]\nbad: {k: v}\nnested: [[1]]\n")[0];

        Assert.Equal(["a", "b"], reader.List(root, "tags"));
        Assert.Null(reader.List(root, "absent"));
        Assert.Equal("l.yaml:3: `bad` must be a list", Assert.Throws<DataFormatException>(() => reader.List(root, "bad")).Message);
        Assert.Equal("l.yaml:4: `nested` must be a single value", Assert.Throws<DataFormatException>(() => reader.List(root, "nested")).Message);
        Assert.Equal("l.yaml:2: `name` must be a single value", Assert.Throws<DataFormatException>(() => reader.String(root, "name", required: false)).Message);
    }

    private sealed class ViewReader(string file) : YamlFileReader(file)
    {
        protected override string Context => "view 'a': ";
    }
}
