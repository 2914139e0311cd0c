namespace Strata.Learning.Linear;

/// <summary>
/// The training design seen through standardisation, never materialised: term t of row i is
/// <c>zᵢₜ = (xᵢₜ − centerₜ) · invScaleₜ</c>, where a numeric term's x is the value (a missing value counts as the centre,
/// so z = 0, which is mean imputation) and a categorical input's terms are its one-hot indicators (a missing or unseen
/// category is all zeros). Centres are weighted means; scales are weighted standard deviations of the imputed column
/// (ddof 0, as scikit-learn's <c>StandardScaler</c> after <c>SimpleImputer</c>), or 1 without standardisation. A constant
/// term gets invScale 0, so it never moves from weight 0.
/// </summary>
internal sealed class LinearDesign
{
    private LinearDesign(FeatureMatrix features, int[] termStart, double[] center, double[] invScale, bool[] constant, double[] impute)
    {
        Features = features;
        TermStart = termStart;
        Center = center;
        InvScale = invScale;
        Constant = constant;
        Impute = impute;
    }

    public FeatureMatrix Features { get; }

    /// <summary>First term of each input; <c>TermStart[inputs]</c> is the term count.</summary>
    public int[] TermStart { get; }

    public double[] Center { get; }

    public double[] InvScale { get; }

    public bool[] Constant { get; }

    /// <summary>Per input: the mean a missing numeric value stands for (0 for categorical inputs).</summary>
    public double[] Impute { get; }

    public int Terms => TermStart[^1];

    public int Rows => Features.Rows;

    /// <summary>Computes centres and scales with row weights (null = all ones).</summary>
    /// <exception cref="StrataException">A numeric feature holds an infinite value.</exception>
    public static LinearDesign Create(FeatureMatrix features, ReadOnlySpan<double> rowWeights, bool standardize)
    {
        var inputs = features.Inputs;
        var termStart = new int[inputs.Count + 1];
        for (var f = 0; f < inputs.Count; f++)
        {
            termStart[f + 1] = termStart[f] + (inputs[f].Kind == FeatureKind.Numeric ? 1 : inputs[f].Categories?.Count ?? 0);
        }

        var terms = termStart[^1];
        var center = new double[terms];
        var invScale = new double[terms];
        var constant = new bool[terms];
        var impute = new double[inputs.Count];
        var totalWeight = 0.0;
        foreach (var w in rowWeights)
        {
            totalWeight += w;
        }

        for (var f = 0; f < inputs.Count; f++)
        {
            var t = termStart[f];
            if (inputs[f].Kind == FeatureKind.Numeric)
            {
                var (mean, variance, isConstant) = NumericMoments(features.Numeric(f), rowWeights, totalWeight, inputs[f].Name);
                center[t] = mean;
                impute[f] = mean;
                constant[t] = isConstant || !(variance > 0);
                invScale[t] = constant[t] ? 0 : standardize ? 1 / Math.Sqrt(variance) : 1;
            }
            else
            {
                var categories = termStart[f + 1] - t;
                var categoryWeight = new double[categories];
                var codes = features.Codes(f);
                for (var i = 0; i < codes.Length; i++)
                {
                    if ((uint)codes[i] < (uint)categories)
                    {
                        categoryWeight[codes[i]] += rowWeights[i];
                    }
                }

                for (var c = 0; c < categories; c++)
                {
                    var p = categoryWeight[c] / totalWeight;
                    var variance = p * (1 - p);
                    center[t + c] = p;
                    constant[t + c] = !(variance > 0);
                    invScale[t + c] = constant[t + c] ? 0 : standardize ? 1 / Math.Sqrt(variance) : 1;
                }
            }
        }

        return new LinearDesign(features, termStart, center, invScale, constant, impute);
    }

    /// <summary>The names of constant terms (they keep weight 0).</summary>
    public IEnumerable<string> ConstantTerms()
    {
        var inputs = Features.Inputs;
        for (var f = 0; f < inputs.Count; f++)
        {
            for (var t = TermStart[f]; t < TermStart[f + 1]; t++)
            {
                if (Constant[t])
                {
                    yield return inputs[f].Kind == FeatureKind.Numeric ? inputs[f].Name : inputs[f].Name + "=" + inputs[f].Categories![t - TermStart[f]];
                }
            }
        }
    }

    /// <summary>
    /// Adds <c>Σₜ zᵢₜ θ[t·k + c]</c> to margins of rows [start, start + count) (row-major, k per row).
    /// </summary>
    public void AddMargins(int start, int count, int k, ReadOnlySpan<double> theta, Span<double> margins)
    {
        var inputs = Features.Inputs;
        Span<double> baseline = stackalloc double[Math.Min(k, 64)];
        var bias = k <= 64 ? baseline[..k] : new double[k];
        for (var f = 0; f < inputs.Count; f++)
        {
            var t0 = TermStart[f];
            if (inputs[f].Kind == FeatureKind.Numeric)
            {
                if (Constant[t0])
                {
                    continue;
                }

                var values = Features.Numeric(f).Slice(start, count);
                var c0 = Center[t0];
                var inv = InvScale[t0];
                var w = theta.Slice(t0 * k, k);
                if (k == 1)
                {
                    var w0 = w[0];
                    for (var i = 0; i < values.Length; i++)
                    {
                        var x = values[i];
                        margins[i] += float.IsNaN(x) ? 0 : (x - c0) * inv * w0;
                    }
                }
                else
                {
                    for (var i = 0; i < values.Length; i++)
                    {
                        var x = values[i];
                        if (!float.IsNaN(x))
                        {
                            var z = (x - c0) * inv;
                            var row = margins.Slice(i * k, k);
                            for (var c = 0; c < k; c++)
                            {
                                row[c] += z * w[c];
                            }
                        }
                    }
                }
            }
            else
            {
                // Σ_c θ_c (1[code = c] − centre_c)·inv_c = −Σ_c θ_c centre_c inv_c + θ_code inv_code: one lookup per row.
                var categories = TermStart[f + 1] - t0;
                bias.Clear();
                for (var cat = 0; cat < categories; cat++)
                {
                    var t = t0 + cat;
                    for (var c = 0; c < k; c++)
                    {
                        bias[c] -= theta[(t * k) + c] * Center[t] * InvScale[t];
                    }
                }

                var codes = Features.Codes(f).Slice(start, count);
                for (var i = 0; i < codes.Length; i++)
                {
                    var row = margins.Slice(i * k, k);
                    var code = codes[i];
                    if ((uint)code < (uint)categories)
                    {
                        var t = t0 + code;
                        for (var c = 0; c < k; c++)
                        {
                            row[c] += bias[c] + (theta[(t * k) + c] * InvScale[t]);
                        }
                    }
                    else
                    {
                        for (var c = 0; c < k; c++)
                        {
                            row[c] += bias[c];
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Adds <c>Σᵢ zᵢₜ dᵢc</c> to <c>gradient[t·k + c]</c> for rows [start, start + count), and <c>Σᵢ dᵢc</c> to the
    /// intercept slots after the terms.
    /// </summary>
    public void AddGradient(int start, int count, int k, ReadOnlySpan<double> derivatives, Span<double> gradient)
    {
        var inputs = Features.Inputs;
        var terms = Terms;
        Span<double> totalsBuffer = stackalloc double[Math.Min(k, 64)];
        var totals = k <= 64 ? totalsBuffer[..k] : new double[k];
        totals.Clear();
        for (var i = 0; i < count; i++)
        {
            for (var c = 0; c < k; c++)
            {
                totals[c] += derivatives[(i * k) + c];
            }
        }

        for (var c = 0; c < k; c++)
        {
            gradient[(terms * k) + c] += totals[c];
        }

        for (var f = 0; f < inputs.Count; f++)
        {
            var t0 = TermStart[f];
            if (inputs[f].Kind == FeatureKind.Numeric)
            {
                if (Constant[t0])
                {
                    continue;
                }

                var values = Features.Numeric(f).Slice(start, count);
                var c0 = Center[t0];
                var inv = InvScale[t0];
                var g = gradient.Slice(t0 * k, k);
                if (k == 1)
                {
                    var sum = 0.0;
                    for (var i = 0; i < values.Length; i++)
                    {
                        var x = values[i];
                        sum += float.IsNaN(x) ? 0 : (x - c0) * inv * derivatives[i];
                    }

                    g[0] += sum;
                }
                else
                {
                    for (var i = 0; i < values.Length; i++)
                    {
                        var x = values[i];
                        if (!float.IsNaN(x))
                        {
                            var z = (x - c0) * inv;
                            var d = derivatives.Slice(i * k, k);
                            for (var c = 0; c < k; c++)
                            {
                                g[c] += z * d[c];
                            }
                        }
                    }
                }
            }
            else
            {
                var categories = TermStart[f + 1] - t0;
                var sums = gradient.Slice(t0 * k, categories * k);
                var codes = Features.Codes(f).Slice(start, count);
                var local = new double[categories * k];
                for (var i = 0; i < codes.Length; i++)
                {
                    var code = codes[i];
                    if ((uint)code < (uint)categories)
                    {
                        var d = derivatives.Slice(i * k, k);
                        for (var c = 0; c < k; c++)
                        {
                            local[(code * k) + c] += d[c];
                        }
                    }
                }

                for (var cat = 0; cat < categories; cat++)
                {
                    var t = t0 + cat;
                    for (var c = 0; c < k; c++)
                    {
                        sums[(cat * k) + c] += (local[(cat * k) + c] - (Center[t] * totals[c])) * InvScale[t];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Converts coefficients on standardised terms to original units: <c>w = θ·inv</c>, <c>b = θ₀ − Σ θ·inv·centre</c>,
    /// then scales by <paramref name="labelScale"/> and shifts by <paramref name="labelShift"/> (a standardised label).
    /// </summary>
    public (double[] Intercepts, double[] Weights) Fold(ReadOnlySpan<double> theta, int k, double labelScale, double labelShift)
    {
        var terms = Terms;
        var weights = new double[terms * k];
        var intercepts = new double[k];
        for (var c = 0; c < k; c++)
        {
            var b = theta[(terms * k) + c];
            for (var t = 0; t < terms; t++)
            {
                var w = theta[(t * k) + c] * InvScale[t];
                weights[(t * k) + c] = w * labelScale;
                b -= w * Center[t];
            }

            intercepts[c] = (b * labelScale) + labelShift;
        }

        return (intercepts, weights);
    }

    private static (double Mean, double Variance, bool Constant) NumericMoments(ReadOnlySpan<float> values, ReadOnlySpan<double> rowWeights, double totalWeight, string name)
    {
        var sum = 0.0;
        var present = 0.0;
        var first = float.NaN;
        var constant = true;
        for (var i = 0; i < values.Length; i++)
        {
            var x = values[i];
            if (float.IsNaN(x))
            {
                continue;
            }

            if (float.IsInfinity(x))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"feature '{name}' is {(x > 0 ? "+" : "-")}infinity at row {i + 1}; linear models need finite values (NaN counts as missing)");
            }

            if (float.IsNaN(first))
            {
                first = x;
            }
            else if (x != first)
            {
                constant = false;
            }

            sum += rowWeights[i] * x;
            present += rowWeights[i];
        }

        if (!(present > 0))
        {
            // Every value is missing (or has zero weight): the term is constant at its imputed value 0.
            return (0, 0, true);
        }

        var mean = sum / present;
        var squares = 0.0;
        for (var i = 0; i < values.Length; i++)
        {
            var x = values[i];
            if (!float.IsNaN(x))
            {
                var d = x - mean;
                squares += rowWeights[i] * d * d;
            }
        }

        // The imputed rows sit at the mean, so they add weight but no spread (StandardScaler after SimpleImputer).
        return (mean, squares / totalWeight, constant);
    }
}
