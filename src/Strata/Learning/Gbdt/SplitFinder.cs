using System.Runtime.CompilerServices;

namespace Strata.Learning.Gbdt;

/// <summary>The best split found for a node: which bins go left, and the sums on each side.</summary>
internal struct SplitInfo
{
    public double Gain;
    public int Feature;
    /// <summary>Numeric: the left side holds value bins 1..ThresholdBin (0 = only missing values go left).</summary>
    public int ThresholdBin;
    public bool MissingLeft;
    public bool IsCategorical;
    /// <summary>Every bin that goes left, bin 0 when missing values do.</summary>
    public BinSet LeftBins;
    public double LeftG, LeftH, RightG, RightH;

    public static SplitInfo None => new() { Gain = double.NegativeInfinity, Feature = -1 };

    public readonly bool IsValid => Feature >= 0;
}

/// <summary>Regularisation shared by split search and leaf weights (XGBoost's formulas, L1 as soft thresholding).</summary>
internal readonly record struct SplitParams(
    double Lambda,
    double Alpha,
    double MaxDeltaStep,
    double MinChildWeight,
    double MinSplitGain,
    int MaxCatToOnehot,
    int MaxCatThreshold,
    double CatSmooth,
    double CatL2,
    int MinDataPerGroup)
{
    /// <summary>Below this hessian a side counts as empty (guards against sums that cancel to a rounding residue).</summary>
    public const double MinHessian = 1e-12;

    public double MinChild => Math.Max(MinChildWeight, MinHessian);

    public double ThresholdL1(double g) => g > Alpha ? g - Alpha : g < -Alpha ? g + Alpha : 0;

    /// <summary>The optimal leaf weight of a side (before shrinkage).</summary>
    public double Weight(double g, double h, double lambda)
    {
        var w = -ThresholdL1(g) / (h + lambda);
        return MaxDeltaStep > 0 ? Math.Clamp(w, -MaxDeltaStep, MaxDeltaStep) : w;
    }

    /// <summary>Twice the loss reduction a side's weight achieves (XGBoost's convention for gain and gamma).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Score(double g, double h, double lambda)
    {
        if (Alpha == 0 && MaxDeltaStep <= 0)
        {
            return g * g / (h + lambda);
        }

        if (MaxDeltaStep <= 0)
        {
            var t = ThresholdL1(g);
            return t * t / (h + lambda);
        }

        var w = Weight(g, h, lambda);
        return -((2 * ThresholdL1(g) * w) + ((h + lambda) * w * w));
    }
}

/// <summary>Searches one feature's histogram for its best split.</summary>
internal static class SplitFinder
{
    /// <summary>XGBoost's rounding guard: a split must reduce the loss by more than this.</summary>
    private const double MinGain = 1e-6;

    /// <summary>Updates <paramref name="best"/> when feature <paramref name="f"/> has a better split (ties keep the earlier).</summary>
    public static void Search(ReadOnlySpan<double> hist, FeatureBins bins, int f, double g, double h, int count, in SplitParams p, ref SplitInfo best)
    {
        if (bins.IsCategorical)
        {
            SearchCategorical(hist, bins, f, g, h, count, p, ref best);
        }
        else
        {
            SearchNumeric(hist, bins, f, g, h, p, ref best);
        }
    }

    private static void SearchNumeric(ReadOnlySpan<double> hist, FeatureBins bins, int f, double g, double h, in SplitParams p, ref SplitInfo best)
    {
        var lambda = p.Lambda;
        var minChild = p.MinChild;
        var floor = Math.Max(best.Gain, Math.Max(p.MinSplitGain, MinGain));
        var parent = p.Score(g, h, lambda);
        var gm = hist[0];
        var hm = hist[1];
        var hasMissing = hm > SplitParams.MinHessian;
        var bestGain = floor;
        var bestBin = -1;
        var bestMissingLeft = false;
        double bestLg = 0, bestLh = 0;

        // Missing values alone on the left, every value on the right.
        if (hasMissing && hm >= minChild && h - hm >= minChild)
        {
            var gain = p.Score(gm, hm, lambda) + p.Score(g - gm, h - hm, lambda) - parent;
            if (gain > bestGain)
            {
                (bestGain, bestBin, bestMissingLeft, bestLg, bestLh) = (gain, 0, true, gm, hm);
            }
        }

        double lg = 0, lh = 0;
        var last = bins.BinCount - 1;
        for (var k = 1; k < last; k++)
        {
            lg += hist[2 * k];
            lh += hist[(2 * k) + 1];
            if (lh >= minChild && h - lh >= minChild)
            {
                var gain = p.Score(lg, lh, lambda) + p.Score(g - lg, h - lh, lambda) - parent;
                if (gain > bestGain)
                {
                    (bestGain, bestBin, bestMissingLeft, bestLg, bestLh) = (gain, k, false, lg, lh);
                }
            }

            if (hasMissing)
            {
                var mg = lg + gm;
                var mh = lh + hm;
                if (mh >= minChild && h - mh >= minChild)
                {
                    var gain = p.Score(mg, mh, lambda) + p.Score(g - mg, h - mh, lambda) - parent;
                    if (gain > bestGain)
                    {
                        (bestGain, bestBin, bestMissingLeft, bestLg, bestLh) = (gain, k, true, mg, mh);
                    }
                }
            }
        }

        if (bestBin < 0)
        {
            return;
        }

        if (!hasMissing)
        {
            // No missing values reached this node: send future ones to the side that saw more weight.
            bestMissingLeft = bestLh >= h - bestLh;
        }

        best = new SplitInfo
        {
            Gain = bestGain,
            Feature = f,
            ThresholdBin = bestBin,
            MissingLeft = bestMissingLeft,
            IsCategorical = false,
            LeftG = bestLg,
            LeftH = bestLh,
            RightG = g - bestLg,
            RightH = h - bestLh,
        };
        for (var k = 1; k <= bestBin; k++)
        {
            best.LeftBins.Add(k);
        }

        if (bestMissingLeft)
        {
            best.LeftBins.Add(0);
        }
    }

    /// <summary>
    /// LightGBM's categorical search: one category against the rest for few categories; otherwise categories ordered by
    /// gradient / (hessian + cat_smooth), and the best prefix from either end (at most max_cat_threshold categories) goes
    /// left. Missing values take part as one more category; the rare-category bin and small categories stay right.
    /// </summary>
    private static void SearchCategorical(ReadOnlySpan<double> hist, FeatureBins bins, int f, double g, double h, int count, in SplitParams p, ref SplitInfo best)
    {
        var minChild = p.MinChild;
        var floor = Math.Max(best.Gain, Math.Max(p.MinSplitGain, MinGain));
        Span<int> used = stackalloc int[bins.BinCount];
        var n = 0;
        for (var b = 0; b < bins.BinCount; b++)
        {
            if (b != bins.OtherBin && hist[(2 * b) + 1] > SplitParams.MinHessian)
            {
                used[n++] = b;
            }
        }

        var bestGain = floor;
        var bestCount = 0;
        Span<int> order = stackalloc int[bins.BinCount];
        double bestLg = 0, bestLh = 0;
        var reversed = false;
        if (n <= p.MaxCatToOnehot)
        {
            var lambda = p.Lambda;
            var parent = p.Score(g, h, lambda);
            for (var i = 0; i < n; i++)
            {
                var b = used[i];
                var lg = hist[2 * b];
                var lh = hist[(2 * b) + 1];
                if (lh >= minChild && h - lh >= minChild)
                {
                    var gain = p.Score(lg, lh, lambda) + p.Score(g - lg, h - lh, lambda) - parent;
                    if (gain > bestGain)
                    {
                        (bestGain, bestLg, bestLh) = (gain, lg, lh);
                        order[0] = b;
                        bestCount = 1;
                    }
                }
            }
        }
        else
        {
            var lambda = p.Lambda + p.CatL2;
            var parent = p.Score(g, h, lambda);
            // Rows per unit of hessian in this node, to turn hessian sums into approximate row counts.
            var perHessian = count / h;
            var m = 0;
            Span<double> keys = stackalloc double[n];
            for (var i = 0; i < n; i++)
            {
                var b = used[i];
                if (hist[(2 * b) + 1] * perHessian >= p.MinDataPerGroup)
                {
                    order[m] = b;
                    keys[m] = hist[2 * b] / (hist[(2 * b) + 1] + p.CatSmooth);
                    m++;
                }
            }

            // Insertion sort by key, ties by bin: at most 256 items, and stable.
            for (var i = 1; i < m; i++)
            {
                var (kb, kk) = (order[i], keys[i]);
                var j = i - 1;
                while (j >= 0 && keys[j] > kk)
                {
                    order[j + 1] = order[j];
                    keys[j + 1] = keys[j];
                    j--;
                }

                order[j + 1] = kb;
                keys[j + 1] = kk;
            }

            var maxLeft = Math.Min(p.MaxCatThreshold, (m + 1) / 2);
            for (var direction = 0; direction < 2; direction++)
            {
                double lg = 0, lh = 0;
                for (var i = 0; i < maxLeft && i < m - 1; i++)
                {
                    var b = direction == 0 ? order[i] : order[m - 1 - i];
                    lg += hist[2 * b];
                    lh += hist[(2 * b) + 1];
                    if (lh >= minChild && h - lh >= minChild)
                    {
                        var gain = p.Score(lg, lh, lambda) + p.Score(g - lg, h - lh, lambda) - parent;
                        if (gain > bestGain)
                        {
                            (bestGain, bestLg, bestLh, bestCount, reversed) = (gain, lg, lh, i + 1, direction == 1);
                        }
                    }
                }
            }

            if (reversed)
            {
                order[..m].Reverse();
            }
        }

        if (bestCount == 0)
        {
            return;
        }

        best = new SplitInfo
        {
            Gain = bestGain,
            Feature = f,
            ThresholdBin = -1,
            IsCategorical = true,
            LeftG = bestLg,
            LeftH = bestLh,
            RightG = g - bestLg,
            RightH = h - bestLh,
        };
        for (var i = 0; i < bestCount; i++)
        {
            best.LeftBins.Add(order[i]);
        }

        best.MissingLeft = best.LeftBins.Contains(0);
    }
}
