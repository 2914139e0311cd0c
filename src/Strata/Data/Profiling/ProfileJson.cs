using System.Globalization;

namespace Strata.Data.Profiling;

/// <summary>Maps profiles to their JSON documents and back, validating everything a file could get wrong.</summary>
internal static class ProfileJson
{
    /// <summary>Columns a loaded profile may hold.</summary>
    public const int MaxColumns = 100_000;

    private const int SummaryBins = 10;
    private const int SummaryTop = 20;
    private static readonly double[] SummaryQuantiles = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

    public static ProfileDocument ToDocument(TableProfile profile) => new()
    {
        Format = TableProfile.FormatVersion,
        RowCount = profile.RowCount,
        SchemaFingerprint = profile.SchemaFingerprint,
        Columns = profile.Columns.Select(ToDocument).ToList(),
    };

    public static TableProfile FromDocument(ProfileDocument document)
    {
        if (document.Format != TableProfile.FormatVersion)
        {
            throw Malformed("format", $"is '{document.Format}'; this version of Strata reads '{TableProfile.FormatVersion}'");
        }

        if (document.RowCount < 0)
        {
            throw Malformed("row_count", "must not be negative");
        }

        if (document.Columns.Count > MaxColumns)
        {
            throw new StrataException(ErrorCodes.DataLimit, $"profile JSON: columns holds {document.Columns.Count} columns, more than the limit of {MaxColumns}");
        }

        var columns = new ColumnProfile[document.Columns.Count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < columns.Length; i++)
        {
            var column = document.Columns[i] ?? throw Malformed($"columns[{i}]", "must be an object");
            var path = $"columns[{i}] ('{column.Name}')";
            if (column.Name.Length == 0 || !names.Add(column.Name))
            {
                throw Malformed($"columns[{i}].name", "must be present and unique");
            }

            columns[i] = FromDocument(column, document.RowCount, path);
        }

        var profile = new TableProfile(document.RowCount, columns);
        if (profile.SchemaFingerprint != document.SchemaFingerprint)
        {
            throw Malformed("schema_fingerprint", $"is {document.SchemaFingerprint} but the columns' names and types give {profile.SchemaFingerprint}");
        }

        return profile;
    }

    private static ColumnDocument ToDocument(ColumnProfile column)
    {
        var state = column.State;
        return column switch
        {
            NumericColumnProfile numeric => new ColumnDocument
            {
                Name = column.Name,
                Type = column.Type.Name(),
                Pii = column.IsPii,
                Count = state.Count,
                Nulls = state.NullCount,
                Distinct = ToDocument(numeric.NumericState.Hll),
                Numeric = ToDocument(numeric),
                Summary = Summarize(numeric),
            },
            BoolColumnProfile bools => new ColumnDocument
            {
                Name = column.Name,
                Type = column.Type.Name(),
                Pii = column.IsPii,
                Count = state.Count,
                Nulls = state.NullCount,
                Boolean = new BoolDocument { True = bools.TrueCount, False = bools.FalseCount, Seen = bools.BoolState.SeenMask },
                Summary = new SummaryDocument
                {
                    Distinct = bools.DistinctEstimate, DistinctExact = true, True = bools.TrueCount, False = bools.FalseCount,
                },
            },
            StringColumnProfile strings => new ColumnDocument
            {
                Name = column.Name,
                Type = column.Type.Name(),
                Pii = column.IsPii,
                Count = state.Count,
                Nulls = state.NullCount,
                Distinct = ToDocument(strings.StringState.Hll),
                Text = ToDocument(strings),
                Summary = new SummaryDocument
                {
                    Distinct = strings.DistinctEstimate,
                    DistinctExact = strings.IsDistinctExact,
                    Top = strings.TopValues(SummaryTop)?.Select(v => new FrequentValueDocument { Value = v.Value, Count = v.Count }).ToList(),
                    TopExact = strings.FrequenciesAreExact,
                    MeanLength = strings.MeanLength,
                },
            },
            _ => throw new ArgumentException($"unknown profile type {column.GetType().Name}", nameof(column)),
        };
    }

    private static DistinctDocument ToDocument(HyperLogLog hll) =>
        new() { Hash = HyperLogLog.HashName, Precision = hll.Precision, Registers = hll.Registers.ToArray() };

    private static NumericDocument ToDocument(NumericColumnProfile profile)
    {
        var state = profile.NumericState;
        if (state.Moments is not { } moments)
        {
            return new NumericDocument();
        }

        var kll = state.Kll!.ExportState();
        return new NumericDocument
        {
            Moments = new MomentsDocument
            {
                Count = moments.Count,
                Mean = moments.RawMean,
                M2 = moments.M2,
                Min = moments.Count > 0 ? moments.Min : null,
                Max = moments.Count > 0 ? moments.Max : null,
                Nan = moments.NanCount,
                PositiveInfinity = moments.PositiveInfinityCount,
                NegativeInfinity = moments.NegativeInfinityCount,
            },
            Kll = new KllDocument
            {
                K = kll.K,
                N = kll.N,
                Min = kll.N > 0 ? kll.Min : null,
                Max = kll.N > 0 ? kll.Max : null,
                LevelZeroSorted = kll.LevelZeroSorted,
                Random = kll.Random,
                Levels = kll.Levels,
                Items = kll.Items,
            },
            IntegerMin = profile.IntegerMin,
            IntegerMax = profile.IntegerMax,
        };
    }

    private static StringDocument ToDocument(StringColumnProfile profile)
    {
        var state = profile.StringState;
        FrequentDocument? frequent = null;
        if (state.Frequent is { } summary)
        {
            var (totalWeight, offset, items) = summary.ExportState();
            frequent = new FrequentDocument
            {
                Capacity = summary.Capacity,
                TotalWeight = totalWeight,
                Offset = offset,
                Items = items.Select(v => new FrequentValueDocument { Value = v.Value, Count = v.Count }).ToList(),
            };
        }

        return new StringDocument { MinLength = profile.MinLength, MaxLength = profile.MaxLength, LengthSum = state.LengthSum, Frequent = frequent };
    }

    private static SummaryDocument Summarize(NumericColumnProfile profile)
    {
        Dictionary<string, double>? quantiles = null;
        if (profile.HasValues)
        {
            quantiles = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var q in SummaryQuantiles)
            {
                quantiles["p" + (q * 100).ToString("00", CultureInfo.InvariantCulture)] = profile.Quantile(q)!.Value;
            }
        }

        return new SummaryDocument
        {
            Distinct = profile.DistinctEstimate,
            DistinctExact = profile.IsDistinctExact,
            Min = profile.Min,
            Max = profile.Max,
            Mean = profile.Mean,
            Stddev = profile.StandardDeviation,
            MinTime = FormatTime(profile, profile.IntegerMin),
            MaxTime = FormatTime(profile, profile.IntegerMax),
            Quantiles = quantiles,
            Histogram = profile.Histogram(SummaryBins)?.Select(b => new HistogramBinDocument { Lower = b.Lower, Upper = b.Upper, Count = b.Count }).ToList(),
        };
    }

    private static string? FormatTime(NumericColumnProfile profile, long? micros) =>
        profile.Type == DataType.Timestamp && micros is >= Timestamp.MinValue and <= Timestamp.MaxValue ? Timestamp.Format(micros.Value) : null;

    private static ColumnProfile FromDocument(ColumnDocument column, long rowCount, string path)
    {
        if (!DataTypes.TryParse(column.Type, out var type) || type.Name() != column.Type)
        {
            throw Malformed($"{path}.type", $"'{column.Type}' is not a Strata type name");
        }

        if (column.Count != rowCount)
        {
            throw Malformed($"{path}.count", $"is {column.Count} but the profile has {rowCount} rows");
        }

        if (column.Nulls < 0 || column.Nulls > column.Count)
        {
            throw Malformed($"{path}.nulls", "must be within [0, count]");
        }

        var kind = type switch { DataType.Bool => "bool", DataType.String => "string", _ => "numeric" };
        Require(kind == "numeric" ? column.Numeric : null, column.Numeric, $"{path}.numeric", kind);
        Require(kind == "bool" ? column.Boolean : null, column.Boolean, $"{path}.bool", kind);
        Require(kind == "string" ? column.Text : null, column.Text, $"{path}.string", kind);
        var valid = column.Count - column.Nulls;
        ColumnState state = type switch
        {
            DataType.Bool => LoadBool(column.Boolean!, column.Pii, valid, $"{path}.bool"),
            DataType.String => LoadString(column, valid, path),
            _ => LoadNumeric(column, type, valid, path),
        };
        state.SetCounts(column.Count, column.Nulls);
        return ColumnProfile.Create(column.Name, type, column.Pii, state);
    }

    private static void Require(object? expected, object? actual, string path, string kind)
    {
        if (expected is null && actual is not null)
        {
            throw Malformed(path, $"does not belong to a {kind} column");
        }

        if (expected is not null && actual is null)
        {
            throw Malformed(path, $"is required for a {kind} column");
        }
    }

    private static NumericState LoadNumeric(ColumnDocument column, DataType type, long valid, string path)
    {
        var numeric = column.Numeric!;
        var hll = LoadDistinct(column.Distinct, $"{path}.distinct");
        var state = new NumericState(type, column.Pii, KllSketch.DefaultK, hll.Precision, 0);
        path += ".numeric";
        if (column.Pii)
        {
            if (numeric.Moments is not null || numeric.Kll is not null || numeric.IntegerMin is not null || numeric.IntegerMax is not null)
            {
                throw Malformed(path, "of a PII column must hold no values (no moments, kll or integer range)");
            }

            state.Load(hll, null, null, long.MaxValue, long.MinValue);
            return state;
        }

        var m = numeric.Moments ?? throw Malformed($"{path}.moments", "is required for a column that is not PII");
        var k = numeric.Kll ?? throw Malformed($"{path}.kll", "is required for a column that is not PII");
        var moments = Moments.FromState(
            m.Count, m.Mean, m.M2, m.Min ?? double.NaN, m.Max ?? double.NaN, m.Nan, m.PositiveInfinity, m.NegativeInfinity, $"{path}.moments");
        if (m.Count + m.Nan + m.PositiveInfinity + m.NegativeInfinity != valid)
        {
            throw Malformed($"{path}.moments.count", "with the NaN and infinity counts must add up to the column's valid rows");
        }

        var isInteger = type is DataType.Int32 or DataType.Int64 or DataType.Timestamp;
        if (isInteger && (m.Nan != 0 || m.PositiveInfinity != 0 || m.NegativeInfinity != 0))
        {
            throw Malformed($"{path}.moments.nan", "and the infinity counts must be 0 for an integer or timestamp column");
        }

        var kll = KllSketch.ImportState(
            new KllState(k.K, k.N, k.Min ?? double.NaN, k.Max ?? double.NaN, k.LevelZeroSorted, k.Random, k.Levels, k.Items), $"{path}.kll");
        if (kll.N != valid - m.Nan)
        {
            throw Malformed($"{path}.kll.n", $"is {kll.N} but the column has {valid - m.Nan} non-NaN values");
        }

        long integerMin = long.MaxValue, integerMax = long.MinValue;
        if (isInteger && kll.N > 0)
        {
            if (numeric.IntegerMin is not { } min || numeric.IntegerMax is not { } max || min > max)
            {
                throw Malformed($"{path}.integer_min", "and integer_max are required, with min ≤ max, for an integer column with values");
            }

            (integerMin, integerMax) = (min, max);
        }
        else if (numeric.IntegerMin is not null || numeric.IntegerMax is not null)
        {
            throw Malformed($"{path}.integer_min", "belongs only to an integer or timestamp column with values");
        }

        state.Load(hll, moments, kll, integerMin, integerMax);
        return state;
    }

    private static BoolState LoadBool(BoolDocument document, bool pii, long valid, string path)
    {
        if (document.Seen is < 0 or > 3)
        {
            throw Malformed($"{path}.seen", "must be within [0, 3]");
        }

        var state = new BoolState(pii);
        if (pii)
        {
            if (document.True is not null || document.False is not null)
            {
                throw Malformed(path, "of a PII column must not hold true and false counts");
            }

            state.Load(0, 0, document.Seen);
            return state;
        }

        if (document.True is not { } trues || document.False is not { } falses || trues < 0 || falses < 0 || trues + falses != valid)
        {
            throw Malformed($"{path}.true", "and false must be counts that add up to the column's valid rows");
        }

        if (document.Seen != ((falses > 0 ? 1 : 0) | (trues > 0 ? 2 : 0)))
        {
            throw Malformed($"{path}.seen", "does not agree with the true and false counts");
        }

        state.Load(trues, falses, document.Seen);
        return state;
    }

    private static StringState LoadString(ColumnDocument column, long valid, string path)
    {
        var document = column.Text!;
        var hll = LoadDistinct(column.Distinct, $"{path}.distinct");
        path += ".string";
        FrequentItems? frequent = null;
        if (column.Pii)
        {
            if (document.Frequent is not null)
            {
                throw Malformed($"{path}.frequent", "must be absent for a PII column");
            }
        }
        else
        {
            var f = document.Frequent ?? throw Malformed($"{path}.frequent", "is required for a column that is not PII");
            if (f.TotalWeight != valid)
            {
                throw Malformed($"{path}.frequent.total_weight", $"is {f.TotalWeight} but the column has {valid} valid rows");
            }

            var items = new (string, long)[f.Items.Count];
            for (var i = 0; i < items.Length; i++)
            {
                var item = f.Items[i] ?? throw Malformed($"{path}.frequent.items[{i}]", "must be an object");
                items[i] = (item.Value, item.Count);
            }

            frequent = FrequentItems.ImportState(f.Capacity, f.TotalWeight, f.Offset, items, $"{path}.frequent");
        }

        long minLength = long.MaxValue, maxLength = long.MinValue;
        if (valid > 0)
        {
            if (document.MinLength is not { } min || document.MaxLength is not { } max || min < 0 || min > max
                || (Int128)document.LengthSum < (Int128)min * valid || (Int128)document.LengthSum > (Int128)max * valid)
            {
                throw Malformed($"{path}.min_length", "and max_length must be present, 0 ≤ min ≤ max, and length_sum between min·n and max·n");
            }

            (minLength, maxLength) = (min, max);
        }
        else if (document.MinLength is not null || document.MaxLength is not null || document.LengthSum != 0)
        {
            throw Malformed($"{path}.min_length", "max_length and length_sum must be absent or 0 when there are no values");
        }

        var state = new StringState(column.Pii, hll.Precision, frequent?.Capacity ?? 1);
        state.Load(hll, frequent, minLength, maxLength, document.LengthSum);
        return state;
    }

    private static HyperLogLog LoadDistinct(DistinctDocument? document, string path)
    {
        if (document is null)
        {
            throw Malformed(path, "is required");
        }

        if (document.Hash != HyperLogLog.HashName)
        {
            throw Malformed($"{path}.hash", $"is '{document.Hash}'; only '{HyperLogLog.HashName}' sketches can be read and merged");
        }

        return HyperLogLog.FromRegisters(document.Precision, document.Registers, path);
    }

    private static StrataException Malformed(string field, string message) => new(ErrorCodes.DataMalformed, $"profile JSON: {field} {message}");
}
