namespace Strata.Monitoring.Drift;

/// <summary>
/// Builds a <see cref="DriftProfile"/> from tables that arrive in batches (a reference data set, or served records), in
/// memory bounded by the layout. Features are counted in parallel; counts are exact, so the result does not depend on
/// the thread count or on how the rows were cut into batches.
/// </summary>
public sealed class DriftProfileBuilder
{
    private readonly DriftProfile _profile;

    /// <summary>Creates a builder for <paramref name="layout"/>.</summary>
    public DriftProfileBuilder(DriftLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        _profile = DriftProfile.Empty(layout);
    }

    /// <summary>Threads to use (default: every core).</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>Rows added so far.</summary>
    public long RowCount => _profile.RowCount;

    /// <summary>Adds a batch; it must hold every feature of the layout (other columns are ignored).</summary>
    /// <exception cref="StrataException">A feature is missing (<see cref="ErrorCodes.NotFound"/>) or has a type its kind
    /// cannot read (<see cref="ErrorCodes.SchemaInvalid"/>).</exception>
    public void Add(Table batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var features = _profile.Layout.Features;
        var columns = new Column[features.Count];
        for (var f = 0; f < features.Count; f++)
        {
            var index = batch.Schema.TryIndexOf(features[f].Name);
            if (index < 0)
            {
                throw new StrataException(
                    ErrorCodes.NotFound, $"monitored feature '{features[f].Name}' is not in the data (columns: {string.Join(", ", batch.Schema.Names)})");
            }

            columns[f] = batch[index];
            var numeric = columns[f].Type is DataType.Int32 or DataType.Int64 or DataType.Float32 or DataType.Float64 or DataType.Timestamp;
            var categorical = columns[f].Type is DataType.String or DataType.Bool;
            if ((features[f].Kind == DriftFeatureKind.Numeric && !numeric) || (features[f].Kind == DriftFeatureKind.Categorical && !categorical))
            {
                throw new StrataException(
                    ErrorCodes.SchemaInvalid,
                    $"feature '{features[f].Name}' is {features[f].Kind.ToString().ToLowerInvariant()} in the reference but {columns[f].Type.Name()} in the data");
            }
        }

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism };
        Parallel.For(0, columns.Length, parallel, f => AddColumn(_profile.Distributions[f], columns[f]));
        _profile.AddRows(batch.RowCount);
    }

    /// <summary>Adds every batch of a stream.</summary>
    public async Task AddAsync(IAsyncEnumerable<Table> batches, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batches);
        await foreach (var batch in batches.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            Add(batch);
        }
    }

    /// <summary>A profile of the rows added so far (a copy; the builder can go on).</summary>
    public DriftProfile Build() => _profile.Clone();

    /// <summary>Profiles a whole table on <paramref name="layout"/>.</summary>
    public static DriftProfile Profile(DriftLayout layout, Table table)
    {
        var builder = new DriftProfileBuilder(layout);
        builder.Add(table);
        return builder.Build();
    }

    private static void AddColumn(FeatureDistribution distribution, Column column)
    {
        distribution.NullCount += column.NullCount;
        switch (distribution, column)
        {
            case (NumericDistribution d, Column<double> c):
                AddNumeric(d, c.Values, c);
                break;
            case (NumericDistribution d, Column<float> c):
                AddConverted(d, c.Values, c);
                break;
            case (NumericDistribution d, Column<int> c):
                AddConverted(d, c.Values, c);
                break;
            case (NumericDistribution d, Column<long> c):
                AddConverted(d, c.Values, c);
                break;
            case (CategoricalDistribution d, StringColumn c):
                AddStrings(d, c);
                break;
            case (CategoricalDistribution d, Column<bool> c):
                long trues = 0, falses = 0;
                for (var i = 0; i < c.Length; i++)
                {
                    if (!c.IsNull(i))
                    {
                        _ = c[i] ? trues++ : falses++;
                    }
                }

                if (trues > 0)
                {
                    d.Add("true", trues);
                }

                if (falses > 0)
                {
                    d.Add("false", falses);
                }

                break;
            default:
                throw new StrataException(ErrorCodes.SchemaInvalid, $"feature '{distribution.Name}' cannot read a {column.Type.Name()} column");
        }
    }

    private static void AddNumeric(NumericDistribution d, ReadOnlySpan<double> values, Column column)
    {
        if (!column.HasNulls)
        {
            d.Histogram.Add(values);
            d.MomentsState.Add(values);
            return;
        }

        for (var i = 0; i < values.Length; i++)
        {
            if (!column.IsNull(i))
            {
                d.Histogram.Add(values[i]);
                d.MomentsState.Add(values[i]);
            }
        }
    }

    private static void AddConverted<T>(NumericDistribution d, ReadOnlySpan<T> values, Column column)
        where T : unmanaged, System.Numerics.INumberBase<T>
    {
        const int Chunk = 4096;
        Span<double> buffer = stackalloc double[Chunk];
        for (var start = 0; start < values.Length; start += Chunk)
        {
            var n = 0;
            var end = Math.Min(values.Length, start + Chunk);
            for (var i = start; i < end; i++)
            {
                if (!column.IsNull(i))
                {
                    buffer[n++] = double.CreateTruncating(values[i]);
                }
            }

            d.Histogram.Add(buffer[..n]);
            d.MomentsState.Add(buffer[..n]);
        }
    }

    private static void AddStrings(CategoricalDistribution d, StringColumn column)
    {
        var codes = column.Codes;
        var counts = new long[column.Dictionary.Count];
        for (var i = 0; i < codes.Length; i++)
        {
            if (!column.IsNull(i))
            {
                counts[codes[i]]++;
            }
        }

        for (var code = 0; code < counts.Length; code++)
        {
            if (counts[code] > 0)
            {
                d.Add(column.Dictionary.GetString(code), counts[code]);
            }
        }
    }
}
