namespace Strata.Learning.Linear;

/// <summary>
/// Platt scaling: P(positive | score) = 1 / (1 + e^(A·score + B)), fitted by the Newton method with backtracking of
/// Lin, Lin and Weng (2007), "A note on Platt's probabilistic outputs for support vector machines", including Platt's
/// smoothed targets (N₊ + 1)/(N₊ + 2) and 1/(N₋ + 2). With sample weights, the counts and sums are weighted.
/// </summary>
internal static class PlattScaling
{
    public static (double A, double B) Fit(ReadOnlySpan<double> scores, ReadOnlySpan<double> labels, ReadOnlySpan<double> weights)
    {
        const int maxIterations = 100;
        const double minStep = 1e-10;
        const double sigma = 1e-12;
        const double epsilon = 1e-5;
        var prior1 = 0.0;
        var prior0 = 0.0;
        for (var i = 0; i < scores.Length; i++)
        {
            if (labels[i] > 0.5)
            {
                prior1 += weights[i];
            }
            else
            {
                prior0 += weights[i];
            }
        }

        var hiTarget = (prior1 + 1) / (prior1 + 2);
        var loTarget = 1 / (prior0 + 2);
        var a = 0.0;
        var b = Math.Log((prior0 + 1) / (prior1 + 1));
        var value = Value(scores, labels, weights, hiTarget, loTarget, a, b);
        for (var iteration = 0; iteration < maxIterations; iteration++)
        {
            double h11 = sigma, h22 = sigma, h21 = 0, g1 = 0, g2 = 0;
            for (var i = 0; i < scores.Length; i++)
            {
                var f = scores[i];
                var t = labels[i] > 0.5 ? hiTarget : loTarget;
                var fApB = (f * a) + b;
                double p, q;
                if (fApB >= 0)
                {
                    p = Math.Exp(-fApB) / (1 + Math.Exp(-fApB));
                    q = 1 / (1 + Math.Exp(-fApB));
                }
                else
                {
                    p = 1 / (1 + Math.Exp(fApB));
                    q = Math.Exp(fApB) / (1 + Math.Exp(fApB));
                }

                var w = weights[i];
                var d2 = p * q;
                h11 += w * f * f * d2;
                h22 += w * d2;
                h21 += w * f * d2;
                var d1 = t - p;
                g1 += w * f * d1;
                g2 += w * d1;
            }

            if (Math.Abs(g1) < epsilon && Math.Abs(g2) < epsilon)
            {
                break;
            }

            var det = (h11 * h22) - (h21 * h21);
            var dA = -((h22 * g1) - (h21 * g2)) / det;
            var dB = -((-h21 * g1) + (h11 * g2)) / det;
            var gd = (g1 * dA) + (g2 * dB);
            var step = 1.0;
            while (step >= minStep)
            {
                var newA = a + (step * dA);
                var newB = b + (step * dB);
                var newValue = Value(scores, labels, weights, hiTarget, loTarget, newA, newB);
                if (newValue < value + (1e-4 * step * gd))
                {
                    (a, b, value) = (newA, newB, newValue);
                    break;
                }

                step /= 2;
            }

            if (step < minStep)
            {
                break;
            }
        }

        return (a, b);
    }

    private static double Value(ReadOnlySpan<double> scores, ReadOnlySpan<double> labels, ReadOnlySpan<double> weights, double hi, double lo, double a, double b)
    {
        var sum = 0.0;
        for (var i = 0; i < scores.Length; i++)
        {
            var t = labels[i] > 0.5 ? hi : lo;
            var fApB = (scores[i] * a) + b;
            sum += weights[i] * (fApB >= 0 ? (t * fApB) + Math.Log(1 + Math.Exp(-fApB)) : ((t - 1) * fApB) + Math.Log(1 + Math.Exp(fApB)));
        }

        return sum;
    }
}
