using Strata.Data.Profiling;

namespace Strata.Monitoring.Drift;

/// <summary>
/// Finds a drift layout's bin edges in one pass over the reference, keeping only a KLL quantile sketch per numeric
/// feature (a full data profile would also hash every value for distinct counts, which drift does not need).
/// </summary>
public sealed class DriftLayoutBuilder
{
    private readonly IReadOnlyList<string>? _requested;
    private readonly int _k;
    private DriftFeature[]? _features;
    private KllSketch?[]? _sketches;

    /// <summary>Creates a builder for <paramref name="features"/> (null: every column of the first batch that is not PII).</summary>
    public DriftLayoutBuilder(IReadOnlyList<string>? features = null, int k = KllSketch.DefaultK)
    {
        _requested = features;
        _k = k;
    }

    /// <summary>Threads to use (default: every core).</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>Rows added.</summary>
    public long RowCount { get; private set; }

    /// <summary>Adds a batch.</summary>
    /// <exception cref="StrataException">A requested feature is missing (<see cref="ErrorCodes.NotFound"/>), is PII or of an
    /// unsupported type (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public void Add(Table batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_features is null)
        {
            Initialize(batch.Schema);
        }

        var columns = new Column[_features!.Length];
        for (var f = 0; f < columns.Length; f++)
        {
            var index = batch.Schema.TryIndexOf(_features[f].Name);
            columns[f] = index >= 0
                ? batch[index]
                : throw new StrataException(ErrorCodes.NotFound, $"feature '{_features[f].Name}' is not in the reference batch (columns: {string.Join(", ", batch.Schema.Names)})");
        }

        Parallel.For(0, columns.Length, new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism }, f =>
        {
            if (_sketches![f] is { } sketch)
            {
                AddValues(sketch, columns[f]);
            }
        });
        RowCount += batch.RowCount;
    }

    /// <summary>The layout: numeric edges at the quantiles i/<paramref name="fineBins"/>.</summary>
    public DriftLayout Build(int fineBins = DriftLayout.DefaultFineBins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fineBins, 1);
        if (_features is null)
        {
            throw new StrataException(ErrorCodes.DataEmpty, "the reference has no rows");
        }

        return new DriftLayout([.. _features.Select((f, i) => _sketches![i] is { } s ? f with { Edges = DriftLayout.QuantileEdges(s, fineBins) } : f)]);
    }

    private void Initialize(Schema schema)
    {
        var names = _requested ?? [.. schema.Where(f => !f.IsPii).Select(f => f.Name)];
        _features = new DriftFeature[names.Count];
        _sketches = new KllSketch?[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            var index = schema.TryIndexOf(names[i]);
            if (index < 0)
            {
                throw new StrataException(ErrorCodes.NotFound, $"feature '{names[i]}' is not in the reference (columns: {string.Join(", ", schema.Names)})");
            }

            var field = schema[index];
            if (field.IsPii)
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature '{names[i]}' is PII: its values cannot be kept for drift monitoring");
            }

            var numeric = field.Type is DataType.Int32 or DataType.Int64 or DataType.Float32 or DataType.Float64 or DataType.Timestamp;
            _features[i] = new DriftFeature(names[i], numeric ? DriftFeatureKind.Numeric : DriftFeatureKind.Categorical, []);
            _sketches[i] = numeric ? new KllSketch(_k) : null;
        }
    }

    private static void AddValues(KllSketch sketch, Column column)
    {
        if (column is Column<double> d && !d.HasNulls)
        {
            sketch.Update(d.Values);
            return;
        }

        var values = new double[column.Length];
        var n = 0;
        for (var i = 0; i < column.Length; i++)
        {
            if (!column.IsNull(i))
            {
                values[n++] = column switch
                {
                    Column<double> c => c[i],
                    Column<float> c => c[i],
                    Column<int> c => c[i],
                    Column<long> c => c[i],
                    _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"cannot sketch a {column.Type.Name()} column"),
                };
            }
        }

        sketch.Update(values.AsSpan(0, n));
    }
}
