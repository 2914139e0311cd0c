using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Strata.Learning.Gbdt;

/// <summary>A loss: its gradients and hessians, its starting margins, the labels it accepts and how margins become outputs.</summary>
internal abstract class Objective
{
    public abstract string Name { get; }

    public abstract OutputTransform Transform { get; }

    public abstract string DefaultMetric { get; }

    /// <summary>Margins per row.</summary>
    public virtual int Outputs => 1;

    /// <summary>True when leaf weights are refitted to the median residual (absolute error).</summary>
    public virtual bool RefitMedian => false;

    /// <summary>Throws when a label is outside the loss's domain.</summary>
    public virtual void CheckLabels(double[] labels)
    {
    }

    public abstract double[] BaseMargins(double[] labels, float[]? weights);

    /// <summary>
    /// Writes interleaved (gradient, hessian) of rows [start, end) for every output k into
    /// <paramref name="gradHessByOutput"/>[k] (at 2·row), weighted.
    /// </summary>
    public abstract void Gradients(double[][] scores, double[] labels, float[]? weights, float[][] gradHessByOutput, int start, int end);

    public static Objective Create(string name, int classes, GbdtOptions options) => name switch
    {
        "binary:logistic" => new Logistic(),
        "multi:softmax" => new Softmax(classes),
        "reg:squarederror" => new SquaredError(),
        "reg:absoluteerror" => new AbsoluteError(),
        "reg:huber" => new Huber(options.HuberDelta),
        "count:poisson" => new Poisson(options.PoissonMaxDeltaStep),
        _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"gbdt: unknown objective '{name}'"),
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected static double WeightedMean(double[] labels, float[]? weights)
    {
        double sum = 0, total = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            var w = weights is null ? 1.0 : weights[i];
            sum += w * labels[i];
            total += w;
        }

        return total > 0 ? sum / total : 0;
    }

    /// <summary>The weighted median (lower median; rows with zero weight do not count).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double WeightedMedian(ReadOnlySpan<double> values, ReadOnlySpan<float> weights)
    {
        var v = values.ToArray();
        if (v.Length == 0)
        {
            return 0;
        }

        if (weights.IsEmpty)
        {
            Array.Sort(v);
            return v[(v.Length - 1) / 2];
        }

        var w = weights.ToArray();
        Array.Sort(v, w);
        double total = 0;
        foreach (var x in w)
        {
            total += x;
        }

        if (total <= 0)
        {
            return v[(v.Length - 1) / 2];
        }

        double acc = 0;
        for (var i = 0; i < v.Length; i++)
        {
            acc += w[i];
            if (acc >= total / 2)
            {
                return v[i];
            }
        }

        return v[^1];
    }

    protected static double Median(double[] labels, float[]? weights) => WeightedMedian(labels, weights);

    private static float W(float[]? weights, int i) => weights is null ? 1f : weights[i];

    private static string Text(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private sealed class Logistic : Objective
    {
        public override string Name => "binary:logistic";

        public override OutputTransform Transform => OutputTransform.Sigmoid;

        public override string DefaultMetric => "logloss";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void CheckLabels(double[] labels)
        {
            for (var i = 0; i < labels.Length; i++)
            {
                if (labels[i] is not (0 or 1))
                {
                    throw new StrataException(ErrorCodes.ArgumentInvalid, $"gbdt: binary:logistic needs labels 0 or 1, row {i + 1} has {Text(labels[i])}");
                }
            }
        }

        public override double[] BaseMargins(double[] labels, float[]? weights)
        {
            var p = Math.Clamp(WeightedMean(labels, weights), 1e-6, 1 - 1e-6);
            return [Math.Log(p / (1 - p))];
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Gradients(double[][] scores, double[] labels, float[]? weights, float[][] gradHessByOutput, int start, int end)
        {
            var gradHess = gradHessByOutput[0];
            // Vectorized in float blocks (the gradients are stored as floats anyway): p = σ(margin), then g = p − y and
            // h = max(p − p², 1e-16), weighted and interleaved.
            Span<float> p = stackalloc float[256];
            for (var s = start; s < end; s += p.Length)
            {
                var n = Math.Min(p.Length, end - s);
                var pb = p[..n];
                TensorPrimitives.ConvertTruncating<double, float>(scores[0].AsSpan(s, n), pb);
                TensorPrimitives.Sigmoid(pb, pb);
                var gh = gradHess.AsSpan(2 * s, 2 * n);
                var y = labels.AsSpan(s, n);
                if (weights is null)
                {
                    for (var i = 0; i < n; i++)
                    {
                        var q = pb[i];
                        gh[2 * i] = q - (float)y[i];
                        gh[(2 * i) + 1] = MathF.Max(q - (q * q), 1e-16f);
                    }
                }
                else
                {
                    for (var i = 0; i < n; i++)
                    {
                        var q = pb[i];
                        var w = weights[s + i];
                        gh[2 * i] = (q - (float)y[i]) * w;
                        gh[(2 * i) + 1] = MathF.Max(q - (q * q), 1e-16f) * w;
                    }
                }
            }
        }
    }

    private sealed class Softmax(int classes) : Objective
    {
        public override string Name => "multi:softmax";

        public override OutputTransform Transform => OutputTransform.Softmax;

        public override string DefaultMetric => "mlogloss";

        public override int Outputs => classes;

        public override double[] BaseMargins(double[] labels, float[]? weights)
        {
            var prior = new double[classes];
            double total = 0;
            for (var i = 0; i < labels.Length; i++)
            {
                var w = W(weights, i);
                prior[(int)labels[i]] += w;
                total += w;
            }

            // Log priors (clamped), centred: softmax of them gives the class frequencies.
            var margins = prior.Select(c => Math.Log(Math.Max(total > 0 ? c / total : 1.0 / classes, 1e-6))).ToArray();
            var mean = margins.Average();
            return margins.Select(m => m - mean).ToArray();
        }

        // Each row's maximum and exponential sum are computed once for all its classes.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Gradients(double[][] scores, double[] labels, float[]? weights, float[][] gradHessByOutput, int start, int end)
        {
            for (var r = start; r < end; r++)
            {
                var max = double.NegativeInfinity;
                for (var c = 0; c < classes; c++)
                {
                    max = Math.Max(max, scores[c][r]);
                }

                double sum = 0;
                for (var c = 0; c < classes; c++)
                {
                    sum += Math.Exp(scores[c][r] - max);
                }

                var w = W(weights, r);
                for (var k = 0; k < classes; k++)
                {
                    var p = Math.Exp(scores[k][r] - max) / sum;
                    var gradHess = gradHessByOutput[k];
                    gradHess[2 * r] = (float)((p - (labels[r] == k ? 1 : 0)) * w);
                    gradHess[(2 * r) + 1] = (float)(Math.Max(2 * p * (1 - p), 1e-16) * w);
                }
            }
        }
    }

    private sealed class SquaredError : Objective
    {
        public override string Name => "reg:squarederror";

        public override OutputTransform Transform => OutputTransform.Identity;

        public override string DefaultMetric => "rmse";

        public override double[] BaseMargins(double[] labels, float[]? weights) => [WeightedMean(labels, weights)];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Gradients(double[][] scores, double[] labels, float[]? weights, float[][] gradHessByOutput, int start, int end)
        {
            var gradHess = gradHessByOutput[0];
            var s = scores[0];
            for (var r = start; r < end; r++)
            {
                var w = W(weights, r);
                gradHess[2 * r] = (float)((s[r] - labels[r]) * w);
                gradHess[(2 * r) + 1] = w;
            }
        }
    }

    private sealed class AbsoluteError : Objective
    {
        public override string Name => "reg:absoluteerror";

        public override OutputTransform Transform => OutputTransform.Identity;

        public override string DefaultMetric => "mae";

        public override bool RefitMedian => true;

        public override double[] BaseMargins(double[] labels, float[]? weights) => [Median(labels, weights)];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Gradients(double[][] scores, double[] labels, float[]? weights, float[][] gradHessByOutput, int start, int end)
        {
            var gradHess = gradHessByOutput[0];
            var s = scores[0];
            for (var r = start; r < end; r++)
            {
                var w = W(weights, r);
                gradHess[2 * r] = Math.Sign(s[r] - labels[r]) * w;
                gradHess[(2 * r) + 1] = w;
            }
        }
    }

    /// <summary>Huber loss as LightGBM has it: the gradient is the residual clipped to ±delta, the hessian 1.</summary>
    private sealed class Huber(double delta) : Objective
    {
        public override string Name => "reg:huber";

        public override OutputTransform Transform => OutputTransform.Identity;

        public override string DefaultMetric => "huber";

        public override double[] BaseMargins(double[] labels, float[]? weights) => [Median(labels, weights)];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Gradients(double[][] scores, double[] labels, float[]? weights, float[][] gradHessByOutput, int start, int end)
        {
            var gradHess = gradHessByOutput[0];
            var s = scores[0];
            for (var r = start; r < end; r++)
            {
                var w = W(weights, r);
                gradHess[2 * r] = (float)(Math.Clamp(s[r] - labels[r], -delta, delta) * w);
                gradHess[(2 * r) + 1] = w;
            }
        }
    }

    private sealed class Poisson(double maxDeltaStep) : Objective
    {
        public override string Name => "count:poisson";

        public override OutputTransform Transform => OutputTransform.Exp;

        public override string DefaultMetric => "poisson-nloglik";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void CheckLabels(double[] labels)
        {
            for (var i = 0; i < labels.Length; i++)
            {
                if (labels[i] < 0)
                {
                    throw new StrataException(ErrorCodes.ArgumentInvalid, $"gbdt: count:poisson needs non-negative labels, row {i + 1} has {Text(labels[i])}");
                }
            }
        }

        // All-zero labels give a margin of log(1e-9): predictions of about zero rather than an error.
        public override double[] BaseMargins(double[] labels, float[]? weights) => [Math.Log(Math.Max(WeightedMean(labels, weights), 1e-9))];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override void Gradients(double[][] scores, double[] labels, float[]? weights, float[][] gradHessByOutput, int start, int end)
        {
            var gradHess = gradHessByOutput[0];
            var s = scores[0];
            for (var r = start; r < end; r++)
            {
                var w = W(weights, r);
                var mu = Math.Exp(s[r]);
                gradHess[2 * r] = (float)((mu - labels[r]) * w);
                gradHess[(2 * r) + 1] = (float)(Math.Exp(s[r] + maxDeltaStep) * w);
            }
        }
    }
}
