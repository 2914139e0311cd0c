namespace Strata.Monitoring.Drift;

/// <summary>
/// Data drift between a reference <see cref="DriftProfile"/> and a current one of the same layout, from their counts
/// alone: memory and time depend on the layout, never on the number of rows.
/// </summary>
/// <remarks>
/// Categorical tests and PSI/Jensen–Shannon on the bins are exact. KS is the largest CDF difference at the layout's edges
/// (reference quantiles every 0.1% by default): it is at most the exact statistic, and at least the exact statistic minus
/// the largest share of either side in one fine bin. Wasserstein assumes values spread evenly within each fine bin, and
/// uses the exact tail sums outside the reference's range.
/// </remarks>
public static class DriftDetector
{
    /// <summary>Tests every feature of the layout and the data set.</summary>
    /// <exception cref="StrataException">Profiles of different layouts, or an override for a feature not in the layout
    /// (<see cref="ErrorCodes.NotFound"/>), or a method that does not fit the feature's kind (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public static DatasetDrift Compare(DriftProfile reference, DriftProfile current, DriftOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        options ??= DriftOptions.Default;
        options.Validate();
        if (!DriftProfile.SameLayout(reference.Layout, current.Layout))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, "the reference and current drift profiles were built on different layouts");
        }

        foreach (var name in options.Features.Keys)
        {
            if (reference.Layout.IndexOf(name) < 0)
            {
                throw new StrataException(
                    ErrorCodes.NotFound,
                    $"a drift override names feature '{name}', which is not monitored (features: {string.Join(", ", reference.Layout.Features.Select(f => f.Name))})");
            }
        }

        var results = new FeatureDrift[reference.Distributions.Length];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = CompareFeature(reference.Distributions[i], current.Distributions[i], options);
        }

        var tested = results.Count(r => r.Status != DriftStatus.InsufficientData);
        var drifted = results.Count(r => r.Status == DriftStatus.Drift);
        var share = tested == 0 ? 0 : (double)drifted / tested;
        var status = tested == 0 ? DriftStatus.InsufficientData : share >= options.DriftShare ? DriftStatus.Drift : DriftStatus.NoDrift;
        return new DatasetDrift(results, drifted, tested, share, status);
    }

    /// <summary>The method used for a feature when no override names one (Evidently's choice).</summary>
    public static DriftMethod DefaultMethod(FeatureDistribution reference, DriftOptions options)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(options);
        var large = reference.ValidCount > options.LargeReferenceRows;
        return reference is NumericDistribution
            ? (large ? DriftMethod.Wasserstein : DriftMethod.KolmogorovSmirnov)
            : (large ? DriftMethod.JensenShannon : DriftMethod.ChiSquare);
    }

    private static FeatureDrift CompareFeature(FeatureDistribution reference, FeatureDistribution current, DriftOptions options)
    {
        var overrides = options.Features.GetValueOrDefault(reference.Name);
        var method = overrides?.Method ?? DefaultMethod(reference, options);
        var threshold = overrides?.Threshold ?? DriftOptions.DefaultThreshold(method);
        var nr = reference.ValidCount;
        var nc = current.ValidCount;
        if (nr < options.MinimumSampleSize || nc < options.MinimumSampleSize)
        {
            return new FeatureDrift(reference.Name, method, double.NaN, null, threshold, DriftStatus.InsufficientData, nr, nc);
        }

        var statistic = (reference, current) switch
        {
            (NumericDistribution r, NumericDistribution c) => Numeric(method, r, c, options.Bins),
            (CategoricalDistribution r, CategoricalDistribution c) => Categorical(method, r, c),
            _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature '{reference.Name}' has distributions of different kinds"),
        };

        var drifted = statistic.PValue is { } p ? p < threshold : statistic.Statistic >= threshold;
        return new FeatureDrift(reference.Name, method, statistic.Statistic, statistic.PValue, threshold, drifted ? DriftStatus.Drift : DriftStatus.NoDrift, nr, nc);
    }

    private static DriftStatistic Numeric(DriftMethod method, NumericDistribution reference, NumericDistribution current, int bins)
    {
        var r = reference.Histogram;
        var c = current.Histogram;
        switch (method)
        {
            case DriftMethod.KolmogorovSmirnov:
            {
                var d = KsStatistic(r, c);
                return new DriftStatistic(d, DriftMath.KsPValue(d, r.Total, c.Total));
            }

            case DriftMethod.Wasserstein:
                return new DriftStatistic(Wasserstein(r, c) / DriftStatistics.NormalizingDeviation(reference.PopulationStandardDeviation), null);
            case DriftMethod.Psi:
            case DriftMethod.JensenShannon:
            {
                var (rs, cs) = CoarseShares(r, c, bins);
                return new DriftStatistic(method == DriftMethod.Psi ? DriftStatistics.Psi(rs, cs) : DriftStatistics.JensenShannon(rs, cs), null);
            }

            case DriftMethod.ChiSquare:
                return DriftStatistics.ChiSquare(ToDoubles(r.Counts), ToDoubles(c.Counts));
            default:
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"unknown drift method {method}");
        }
    }

    private static DriftStatistic Categorical(DriftMethod method, CategoricalDistribution reference, CategoricalDistribution current)
    {
        var keys = reference.Counts.Keys.Union(current.Counts.Keys).Order(StringComparer.Ordinal).ToArray();
        var rc = keys.Select(k => (double)reference.Counts.GetValueOrDefault(k)).ToArray();
        var cc = keys.Select(k => (double)current.Counts.GetValueOrDefault(k)).ToArray();
        switch (method)
        {
            case DriftMethod.ChiSquare:
                return DriftStatistics.ChiSquare(rc, cc);
            case DriftMethod.Psi:
            case DriftMethod.JensenShannon:
            {
                var rs = Shares(rc);
                var cs = Shares(cc);
                return new DriftStatistic(method == DriftMethod.Psi ? DriftStatistics.Psi(rs, cs) : DriftStatistics.JensenShannon(rs, cs), null);
            }

            default:
                throw new StrataException(
                    ErrorCodes.ArgumentInvalid, $"feature '{reference.Name}' is categorical: {method} needs a numeric feature (use chi-square, Jensen-Shannon or PSI)");
        }
    }

    /// <summary>The largest difference of the two CDFs at the edges (both are exact there).</summary>
    internal static double KsStatistic(Data.Profiling.FixedBinHistogram reference, Data.Profiling.FixedBinHistogram current)
    {
        var rc = reference.Counts;
        var cc = current.Counts;
        double nr = reference.Total, nc = current.Total;
        long sr = 0, sc = 0;
        var d = 0.0;
        for (var i = 0; i < rc.Count - 1; i++)
        {
            sr += rc[i];
            sc += cc[i];
            d = Math.Max(d, Math.Abs((sr / nr) - (sc / nc)));
        }

        return d;
    }

    /// <summary>
    /// ∫|F − G| between the two histograms with each bin's values at the bin's mean: exact for values that sit on the edges
    /// (a discrete feature) and for the tails outside them; otherwise off by at most a bin's width times its share.
    /// </summary>
    internal static double Wasserstein(Data.Profiling.FixedBinHistogram reference, Data.Profiling.FixedBinHistogram current)
    {
        var rc = reference.Counts;
        var cc = current.Counts;
        double nr = reference.Total, nc = current.Total;
        var atoms = new List<(double Position, double Reference, double Current)>(rc.Count * 2);
        for (var i = 0; i < rc.Count; i++)
        {
            var a = rc[i] > 0 ? (reference.Sums[i] / rc[i], rc[i] / nr, 0.0) : ((double, double, double)?)null;
            var b = cc[i] > 0 ? (current.Sums[i] / cc[i], 0.0, cc[i] / nc) : ((double, double, double)?)null;
            if (a is { } x && b is { } y && y.Item1 < x.Item1)
            {
                (a, b) = (b, a);
            }

            if (a is { } first)
            {
                atoms.Add(first);
            }

            if (b is { } second)
            {
                atoms.Add(second);
            }
        }

        double total = 0, fr = 0, fc = 0;
        for (var i = 0; i < atoms.Count; i++)
        {
            if (i > 0)
            {
                total += Math.Abs(fr - fc) * (atoms[i].Position - atoms[i - 1].Position);
            }

            fr += atoms[i].Reference;
            fc += atoms[i].Current;
        }

        return total;
    }

    /// <summary>
    /// Shares over about <paramref name="bins"/> reference-quantile bins: consecutive fine bins grouped where the
    /// reference's cumulative share crosses i/bins. A discrete feature with few fine bins keeps them all.
    /// </summary>
    internal static (double[] Reference, double[] Current) CoarseShares(Data.Profiling.FixedBinHistogram reference, Data.Profiling.FixedBinHistogram current, int bins)
    {
        var rc = reference.Counts;
        var cc = current.Counts;
        double nr = reference.Total, nc = current.Total;
        var r = new List<double>();
        var c = new List<double>();
        if (rc.Count <= 2 * bins)
        {
            for (var i = 0; i < rc.Count; i++)
            {
                r.Add(rc[i] / nr);
                c.Add(cc[i] / nc);
            }

            return ([.. r], [.. c]);
        }

        long cumulative = 0;
        double groupR = 0, groupC = 0;
        var next = 1;
        for (var i = 0; i < rc.Count; i++)
        {
            cumulative += rc[i];
            groupR += rc[i];
            groupC += cc[i];
            if (i == rc.Count - 1 || cumulative >= next * nr / bins)
            {
                r.Add(groupR / nr);
                c.Add(groupC / nc);
                groupR = groupC = 0;
                while (next < bins && cumulative >= next * nr / bins)
                {
                    next++;
                }
            }
        }

        return ([.. r], [.. c]);
    }

    private static double[] Shares(double[] counts)
    {
        var total = counts.Sum();
        return [.. counts.Select(x => total == 0 ? 0 : x / total)];
    }

    private static double[] ToDoubles(IReadOnlyList<long> counts) => [.. counts.Select(x => (double)x)];
}
