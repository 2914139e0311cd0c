using Strata.Pipelines;

namespace Strata.Tests.Pipelines;

public sealed class PipelineSpecTests
{
    private static PipelineSpecException Invalid(string yaml)
    {
        var spec = PipelineYaml.Parse(yaml, "p.yaml");
        return Assert.Throws<PipelineSpecException>(() => PipelineValidator.Validate(spec, StepCatalog.Builtin()));
    }

    [Fact]
    public void An_unknown_step_type_is_named_with_file_line_step_and_field()
    {
        var e = Invalid("""
            pipeline: p
            steps:
              - name: ingest
                type: ingest
                parameters: { path: data.csv }
              - name: magic
                type: train-harder
            """);

        var error = Assert.Single(e.Errors);
        Assert.Equal(("p.yaml", 7, "magic", "type"), (error.File, error.Line, error.Step, error.Field));
        Assert.StartsWith("p.yaml:7: step 'magic': field 'type': unknown step type 'train-harder'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cycle_is_refused_before_anything_runs_and_shows_its_path()
    {
        var e = Invalid("""
            pipeline: p
            steps:
              - name: a
                type: profile
                inputs: { data: c.test }
              - name: b
                type: split
                inputs: { data: a.profile }
              - name: c
                type: split
                inputs: { data: b.train }
            """);

        // a.profile → split.data is also a type mismatch; fix it and the cycle remains.
        Assert.Contains(e.Errors, x => x.Message.Contains("type mismatch", StringComparison.Ordinal));
        var cycle = Assert.Throws<PipelineSpecException>(() => PipelineValidator.Validate(PipelineYaml.Parse("""
            pipeline: p
            steps:
              - name: a
                type: split
                inputs: { data: c.test }
              - name: b
                type: split
                inputs: { data: a.train }
              - name: c
                type: split
                inputs: { data: b.train }
            """, "p.yaml"), StepCatalog.Builtin()));
        Assert.Contains("cycle: a → c → b → a", cycle.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_output_feeding_an_input_of_another_type_is_a_type_mismatch_naming_both()
    {
        var e = Invalid("""
            pipeline: p
            steps:
              - name: ingest
                type: ingest
                parameters: { path: data.csv }
              - name: evaluate
                type: evaluate
                inputs:
                  model: ingest.table
                  data: ingest.table
                parameters: { label: y }
            """);

        var error = Assert.Single(e.Errors);
        Assert.Equal(("evaluate", "inputs.model", 9), (error.Step, error.Field, error.Line));
        Assert.Contains("type mismatch: 'ingest.table' is a table, but input 'model' of a evaluate step takes a model", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_and_unknown_parameters_and_inputs_are_each_reported()
    {
        var e = Invalid("""
            pipeline: p
            steps:
              - name: ingest
                type: ingest
                parameters: { path: data.csv, colour: blue }
              - name: train
                type: train
                inputs: { train: ingest.table }
              - name: evaluate
                type: evaluate
                inputs: { data: nowhere.table }
                parameters: { label: y }
            """);

        Assert.Contains(e.Errors, x => x is { Step: "train", Field: "parameters.label" } && x.Message == "missing parameter 'label'");
        Assert.Contains(e.Errors, x => x is { Step: "ingest", Field: "parameters.colour", Line: 5 });
        Assert.Contains(e.Errors, x => x is { Step: "evaluate", Field: "inputs.model" } && x.Message.StartsWith("missing input 'model'", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x is { Step: "evaluate", Field: "inputs.data" } && x.Message == "no step 'nowhere'");
    }

    [Fact]
    public void Malformed_yaml_and_bad_fields_name_the_line()
    {
        var yaml = Assert.Throws<PipelineSpecException>(() => PipelineYaml.Parse("pipeline: p\nsteps:\n  - name: [unclosed\n", "bad.yaml"));
        Assert.StartsWith("bad.yaml:", yaml.Message, StringComparison.Ordinal);

        var field = Assert.Throws<PipelineSpecException>(() => PipelineYaml.Parse("pipeline: p\nsteps:\n  - name: a\n    type: split\n    time_limit: soon\n", "bad.yaml"));
        Assert.Equal("bad.yaml:5: step 'a': field 'time_limit': 'soon' is not a duration (like 500ms, 30s, 10m, 2h)", field.Message);
    }

    [Fact]
    public void The_builder_and_the_yaml_give_the_same_pipeline()
    {
        var fromYaml = PipelineYaml.Parse("""
            pipeline: p
            steps:
              - name: ingest
                type: ingest
                parameters: { path: data.csv }
              - name: split
                type: split
                inputs: { data: ingest.table }
                parameters: { seed: 7, method: random }
                time_limit: 30s
            """);
        var built = new PipelineBuilder("p")
            .Step("ingest", "ingest", s => s.Set("path", "data.csv"))
            .Step("split", "split", s => s.Input("data", "ingest.table").Set("method", "random").Set("seed", 7).TimeLimit(TimeSpan.FromSeconds(30)))
            .Build();

        Assert.Equal(PipelineYaml.Write(fromYaml), PipelineYaml.Write(built));
        Assert.Equal(PipelineYaml.Write(built), PipelineYaml.Write(PipelineYaml.Parse(PipelineYaml.Write(built))));
    }
}
