using System.Globalization;
using Strata.Features;

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

    // 2: the cache key holds the feature store's state (FingerprintAsync).
    public override string Version => "2";

    /// <summary>
    /// The applied definitions (version and digest) and the offline fingerprint of every view the service reads, so rows
    /// appended or definitions applied since a cached training set make it stale.
    /// </summary>
    /// <remarks>
    /// Taken before the join reads anything, so a change landing in between is at worst in the result but not in the key:
    /// the next run's key differs and the step executes again, it never reuses a result older than its key.
    /// </remarks>
    public override async Task<string?> FingerprintAsync(StepContext context, CancellationToken cancellationToken)
    {
        var store = await StoreAsync(context, cancellationToken).ConfigureAwait(false);
        return await store.GetTrainingFingerprintAsync(store.Resolve(null, context.RequiredString("service")), cancellationToken).ConfigureAwait(false);
    }

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var entities = await context.TableAsync("entities", cancellationToken).ConfigureAwait(false);
        var store = await StoreAsync(context, cancellationToken).ConfigureAwait(false);
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

    private static async Task<FeatureStore> StoreAsync(StepContext context, CancellationToken cancellationToken)
    {
        var features = context.Services.Features ?? throw context.Bad("type", "this host has no feature store");
        return await features.GetCurrentAsync(context.Project, cancellationToken).ConfigureAwait(false);
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
