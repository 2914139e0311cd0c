using System.Globalization;

namespace Strata.Pipelines.Steps;

/// <summary>
/// <c>training-set</c>: entity rows (keys, a timestamp, labels) → the same rows with a feature service's features as
/// known at each row's timestamp (point in time). Optionally derives a binary label: <c>label: {name, column, above}</c>.
/// </summary>
internal sealed class TrainingSetStep : StepBase
{
    public override string Type => "training-set";

    public override IReadOnlyList<Port> Inputs => [new("entities", ArtifactKind.Table)];

    public override IReadOnlyList<Port> Outputs => [new("table", ArtifactKind.Table)];

    public override IReadOnlyList<string> Required => ["service", "timestamp"];

    public override IReadOnlyList<string> Optional => ["label", "full_feature_names"];

    public override StepTraits Traits => StepTraits.External;

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var features = context.Services.Features ?? throw context.Bad("type", "this host has no feature store");
        var entities = await context.TableAsync("entities", cancellationToken).ConfigureAwait(false);
        var store = await features.GetAsync(context.Project, cancellationToken).ConfigureAwait(false);
        var asked = store.Resolve(null, context.RequiredString("service"));
        var joined = await store.GetHistoricalFeaturesAsync(entities, context.RequiredString("timestamp"), asked, context.Bool("full_feature_names", false), cancellationToken)
            .ConfigureAwait(false);
        if (context.Parameter("label") is not null)
        {
            joined = WithLabel(context, joined);
        }

        context.Log($"{joined.RowCount:N0} rows, {asked.Count} features (point in time, feature definitions v{store.Version})");
        await context.WriteTableAsync("table", joined, cancellationToken).ConfigureAwait(false);
    }

    private static Table WithLabel(StepContext context, Table table)
    {
        var label = context.Map("label");
        var name = label.GetValueOrDefault("name") ?? throw context.Bad("parameters.label", "needs 'name', 'column' and 'above'");
        var column = label.GetValueOrDefault("column") ?? throw context.Bad("parameters.label", "needs 'column'");
        if (!table.Schema.Contains(column))
        {
            throw context.Bad("parameters.label", $"the training set has no column '{column}'");
        }

        if (!double.TryParse(label.GetValueOrDefault("above"), NumberStyles.Float, CultureInfo.InvariantCulture, out var above))
        {
            throw context.Bad("parameters.label", "'above' must be a number");
        }

        var source = table[column];
        var values = new bool?[table.RowCount];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = source.IsNull(i) ? null : SplitStep.SortKey(source, i) > above;
        }

        var columns = table.Schema.Select((f, i) => (f.Name, table[i])).Where(c => c.Name != name).Append((name, (Column)Columns.Bool(values))).ToArray();
        return Table.From(columns);
    }
}
