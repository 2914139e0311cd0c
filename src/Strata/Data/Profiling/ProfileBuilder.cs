namespace Strata.Data.Profiling;

/// <summary>
/// Profiles a table that arrives in batches, in memory bounded by the sketches (not by the rows): call
/// <see cref="Add(Table)"/> for each batch, then <see cref="Build"/>.
/// </summary>
/// <remarks>
/// Each batch is cut into slices of <see cref="ProfileOptions.SliceRows"/> rows. Numeric and bool columns are profiled
/// per slice and string columns per batch (their per-value counts are exact, so slicing would change nothing), in
/// parallel, and the partial states are merged in a fixed order: column by column, slice by slice. The profile is
/// therefore bit-identical whatever the thread count, for the same sequence of batches and options.
/// </remarks>
public sealed class ProfileBuilder
{
    // NOTE: merging a wave at a time bounds the partial states held at once, whatever the size of a batch.
    private const int SlicesPerWave = 64;

    private readonly Schema _schema;
    private readonly ProfileOptions _options;
    private readonly ColumnState[] _states;
    private readonly bool[] _pii;
    private long _rowCount;
    private long _slices;

    /// <summary>
    /// Creates a builder for tables of <paramref name="schema"/>. PII columns are the fields with <see cref="Field.IsPii"/>
    /// here or in any batch added later (from then on the column's profile drops its raw values).
    /// </summary>
    public ProfileBuilder(Schema schema, ProfileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        _schema = schema;
        _options = options ?? ProfileOptions.Default;
        _options.Validate();
        _states = new ColumnState[schema.Count];
        _pii = new bool[schema.Count];
        for (var c = 0; c < _states.Length; c++)
        {
            _pii[c] = schema[c].IsPii;
            _states[c] = ColumnState.Create(schema[c].Type, _pii[c], _options, _options.Seed);
        }
    }

    /// <summary>The schema of the batches.</summary>
    public Schema Schema => _schema;

    /// <summary>Rows added so far.</summary>
    public long RowCount => _rowCount;

    /// <summary>Adds a batch; its columns must have the builder's names and types, in order.</summary>
    /// <exception cref="StrataException">The batch has another layout (<see cref="ErrorCodes.SchemaInvalid"/>).</exception>
    public void Add(Table batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!batch.Schema.HasSameLayout(_schema))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"cannot profile a batch of {batch.Schema} with a builder for {_schema}");
        }

        for (var c = 0; c < _pii.Length; c++)
        {
            if (batch.Schema[c].IsPii && !_pii[c])
            {
                _pii[c] = true;
                _states[c].DropValues();
            }
        }

        var rows = batch.RowCount;
        if (rows == 0)
        {
            return;
        }

        var sliceRows = _options.SliceRows;
        var slices = (int)(((long)rows + sliceRows - 1) / sliceRows);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = _options.EffectiveParallelism };
        var work = new List<(int Column, int Slice)>();
        for (var firstSlice = 0; firstSlice < slices; firstSlice += SlicesPerWave)
        {
            var lastSlice = Math.Min(slices, firstSlice + SlicesPerWave);
            work.Clear();

            // String columns first: each is one long task, so the slices fill in around them.
            if (firstSlice == 0)
            {
                for (var c = 0; c < _states.Length; c++)
                {
                    if (_schema[c].Type == DataType.String)
                    {
                        work.Add((c, -1));
                    }
                }
            }

            for (var s = firstSlice; s < lastSlice; s++)
            {
                for (var c = 0; c < _states.Length; c++)
                {
                    if (_schema[c].Type != DataType.String)
                    {
                        work.Add((c, s));
                    }
                }
            }

            var results = new ColumnState[work.Count];
            Parallel.For(0, work.Count, parallel, i => results[i] = Profile(batch, work[i].Column, work[i].Slice, sliceRows));

            // Columns are independent, so they merge in parallel; within a column the fixed slice order is what makes
            // the result independent of the thread count.
            var byColumn = work.Select((item, i) => (item.Column, item.Slice, Index: i)).GroupBy(w => w.Column).ToArray();
            Parallel.ForEach(byColumn, parallel, group =>
            {
                foreach (var item in group.OrderBy(w => w.Slice))
                {
                    _states[item.Column].Merge(results[item.Index], _schema[item.Column].Name);
                }
            });
        }

        _rowCount += rows;
        _slices += slices;
    }

    /// <summary>A profile of the rows added so far; the builder can go on adding.</summary>
    public TableProfile Build()
    {
        var columns = new ColumnProfile[_states.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            var field = _schema[c];
            columns[c] = ColumnProfile.Create(field.Name, field.Type, _pii[c], _states[c].Clone());
        }

        return new TableProfile(_rowCount, columns);
    }

    private ColumnState Profile(Table batch, int column, int slice, int sliceRows)
    {
        var field = _schema[column];
        var source = batch[column];

        // Each slice's coin is seeded by column and global slice number, so slices flip independent coins.
        var seed = SplitMix64.Mix(_options.Seed ^ ((ulong)column * 0x9E3779B97F4A7C15UL), (ulong)(_slices + Math.Max(slice, 0)));
        var state = ColumnState.Create(field.Type, _pii[column], _options, seed);
        if (slice < 0)
        {
            state.Add(source);
        }
        else
        {
            var offset = slice * sliceRows;
            state.Add(source.Slice(offset, Math.Min(sliceRows, source.Length - offset)));
        }

        return state;
    }
}
