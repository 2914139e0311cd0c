using System.Runtime.CompilerServices;

namespace Strata.Learning.Gbdt;

/// <summary>Validation metrics over margins (per output, per row), weighted by sample weights when given.</summary>
internal static class EvalMetrics
{
    public static bool HigherIsBetter(string metric) => metric == "auc";

    /// <summary>Checks that a metric fits an objective (AUC and error need one probability, mlogloss several).</summary>
    public static void Check(string metric, Objective objective)
    {
        var ok = metric switch
        {
            "auc" or "logloss" or "error" => objective.Transform == OutputTransform.Sigmoid,
            "mlogloss" or "merror" => objective.Transform == OutputTransform.Softmax,
            "poisson-nloglik" => objective.Transform == OutputTransform.Exp,
            _ => objective.Outputs == 1,
        };
        if (!ok)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"gbdt: eval_metric={metric} does not fit objective {objective.Name}");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Compute(string metric, double[][] scores, double[] labels, float[]? weights, double huberDelta)
    {
        var n = labels.Length;
        double loss = 0, total = 0;
        switch (metric)
        {
            case "auc":
                return Auc(scores[0], labels, weights);
            case "mlogloss":
            case "merror":
            {
                var k = scores.Length;
                for (var r = 0; r < n; r++)
                {
                    var max = double.NegativeInfinity;
                    var arg = 0;
                    for (var c = 0; c < k; c++)
                    {
                        if (scores[c][r] > max)
                        {
                            (max, arg) = (scores[c][r], c);
                        }
                    }

                    double sum = 0;
                    for (var c = 0; c < k; c++)
                    {
                        sum += Math.Exp(scores[c][r] - max);
                    }

                    var y = (int)labels[r];
                    var p = Math.Exp(scores[y][r] - max) / sum;
                    var w = weights is null ? 1.0 : weights[r];
                    loss += w * (metric == "merror" ? (arg != y ? 1 : 0) : -Math.Log(Math.Max(p, 1e-15)));
                    total += w;
                }

                return total > 0 ? loss / total : 0;
            }
        }

        var s = scores[0];
        for (var r = 0; r < n; r++)
        {
            var w = weights is null ? 1.0 : weights[r];
            var y = labels[r];
            var m = s[r];
            loss += w * metric switch
            {
                "logloss" => -((y * LogSigmoid(m)) + ((1 - y) * LogSigmoid(-m))),
                "error" => (m > 0 ? 1 : 0) != (y > 0.5 ? 1 : 0) ? 1 : 0,
                "rmse" => (m - y) * (m - y),
                "mae" => Math.Abs(m - y),
                "huber" => Math.Abs(m - y) <= huberDelta ? 0.5 * (m - y) * (m - y) : huberDelta * (Math.Abs(m - y) - (0.5 * huberDelta)),
                "poisson-nloglik" => Math.Exp(m) - (y * m) + LogGamma(y + 1),
                _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"gbdt: unknown eval_metric '{metric}'"),
            };
            total += w;
        }

        var mean = total > 0 ? loss / total : 0;
        return metric == "rmse" ? Math.Sqrt(mean) : mean;
    }

    /// <summary>Weighted ROC AUC; tied scores count half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Auc(ReadOnlySpan<double> scores, ReadOnlySpan<double> labels, ReadOnlySpan<float> weights)
    {
        var n = scores.Length;
        var keys = scores.ToArray();
        var index = new int[n];
        for (var i = 0; i < n; i++)
        {
            index[i] = i;
        }

        Array.Sort(keys, index);
        double pos = 0, neg = 0, area = 0;
        for (var i = 0; i < n;)
        {
            var j = i;
            double tp = 0, tn = 0;
            while (j < n && keys[j] == keys[i])
            {
                var r = index[j];
                var w = weights.IsEmpty ? 1.0 : weights[r];
                if (labels[r] > 0.5)
                {
                    tp += w;
                }
                else
                {
                    tn += w;
                }

                j++;
            }

            // Positives in this group rank above every negative seen so far and tie with the group's negatives.
            area += tp * (neg + (0.5 * tn));
            pos += tp;
            neg += tn;
            i = j;
        }

        return pos > 0 && neg > 0 ? area / (pos * neg) : 0.5;
    }

    private static double LogSigmoid(double x) => x >= 0 ? -Math.Log(1 + Math.Exp(-x)) : x - Math.Log(1 + Math.Exp(x));

    /// <summary>ln Γ(x) for x ≥ 1 (Stirling series; the metric only needs it to be the same every round).</summary>
    private static double LogGamma(double x)
    {
        var shift = 0.0;
        while (x < 7)
        {
            shift -= Math.Log(x);
            x += 1;
        }

        var inv = 1 / x;
        var inv2 = inv * inv;
        return shift + ((x - 0.5) * Math.Log(x)) - x + (0.5 * Math.Log(2 * Math.PI))
            + (inv * ((1.0 / 12) - (inv2 * ((1.0 / 360) - (inv2 / 1260)))));
    }
}
