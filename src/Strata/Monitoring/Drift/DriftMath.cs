namespace Strata.Monitoring.Drift;

/// <summary>
/// The special functions behind the drift tests' p-values: the Kolmogorov distribution, the exact two-sample
/// Kolmogorov–Smirnov distribution and the chi-square survival function. Written here so CI needs no numerics package.
/// </summary>
internal static class DriftMath
{
    /// <summary>
    /// Largest sample size for which the exact two-sample KS p-value is computed (SciPy's <c>ks_2samp</c> switches to the
    /// asymptotic distribution above the same size in its default <c>method='auto'</c>).
    /// </summary>
    public const int KsExactMaxSize = 10_000;

    /// <summary>
    /// Two-sided p-value of a two-sample KS statistic <paramref name="d"/> for samples of <paramref name="n1"/> and
    /// <paramref name="n2"/> values: exact (the share of lattice paths leaving the band, as SciPy's exact method) when
    /// both are at most <see cref="KsExactMaxSize"/>, else the Kolmogorov limit with Stephens' small-sample correction.
    /// </summary>
    public static double KsPValue(double d, long n1, long n2)
    {
        if (n1 <= 0 || n2 <= 0)
        {
            return 1;
        }

        return Math.Max(n1, n2) <= KsExactMaxSize ? KsExactPValue(d, (int)n1, (int)n2) : KsAsymptoticPValue(d, n1, n2);
    }

    /// <summary>Asymptotic two-sided p-value: Q_KS((√en + 0.12 + 0.11/√en)·d), en = n1·n2/(n1+n2).</summary>
    public static double KsAsymptoticPValue(double d, long n1, long n2)
    {
        var en = (double)n1 * n2 / (n1 + n2);
        var sqrtEn = Math.Sqrt(en);
        return Math.Clamp(KolmogorovSurvival((sqrtEn + 0.12 + (0.11 / sqrtEn)) * d), 0, 1);
    }

    /// <summary>
    /// Exact two-sided p-value as SciPy computes it: the statistic is rounded to the lattice (h = round(d·lcm)) and the
    /// p-value is the share of monotone paths from (0,0) to (n1,n2) that do not stay strictly inside |i/n1 − j/n2| &lt; h/lcm.
    /// O(n1·n2) time, O(n2) memory.
    /// </summary>
    public static double KsExactPValue(double d, int n1, int n2)
    {
        var g = Gcd(n1, n2);
        var lcm = (long)(n1 / g) * n2;
        var h = (long)Math.Round(d * lcm, MidpointRounding.ToEven);
        if (h == 0)
        {
            return 1;
        }

        // Inside the band: |i·n2 − j·n1| < h·g. w[j] is the probability that a uniformly random path to (i, j) stayed
        // inside; a path to (i, j) comes from (i−1, j) with probability i/(i+j).
        var band = h * g;
        var w = new double[n2 + 1];
        w[0] = 1;
        for (var j = 1; j <= n2; j++)
        {
            w[j] = Math.Abs(-(long)j * n1) < band ? w[j - 1] : 0;
        }

        for (var i = 1; i <= n1; i++)
        {
            var iN2 = (long)i * n2;
            w[0] = Math.Abs(iN2) < band ? w[0] : 0;
            for (var j = 1; j <= n2; j++)
            {
                if (Math.Abs(iN2 - ((long)j * n1)) >= band)
                {
                    w[j] = 0;
                    continue;
                }

                var total = (double)(i + j);
                w[j] = (w[j] * (i / total)) + (w[j - 1] * (j / total));
            }
        }

        return Math.Clamp(1 - w[n2], 0, 1);
    }

    /// <summary>Survival function of the Kolmogorov distribution, P(K &gt; x).</summary>
    public static double KolmogorovSurvival(double x)
    {
        if (x <= 0)
        {
            return 1;
        }

        if (x < 1.18)
        {
            // NOTE: the alternating series converges slowly for small x; the Jacobi-theta form converges fast there.
            var y = -(Math.PI * Math.PI) / (8 * x * x);
            var cdf = 0.0;
            for (var k = 1; k < 50; k += 2)
            {
                var term = Math.Exp(k * k * y);
                cdf += term;
                if (term < 1e-18)
                {
                    break;
                }
            }

            return 1 - (Math.Sqrt(2 * Math.PI) / x * cdf);
        }

        var sum = 0.0;
        var sign = 1.0;
        for (var k = 1; k < 100; k++)
        {
            var term = Math.Exp(-2.0 * k * k * x * x);
            sum += sign * term;
            if (term < 1e-18)
            {
                break;
            }

            sign = -sign;
        }

        return 2 * sum;
    }

    /// <summary>P(X ≥ x) for a chi-square variable with <paramref name="degreesOfFreedom"/> degrees of freedom.</summary>
    public static double ChiSquareSurvival(double x, double degreesOfFreedom)
    {
        if (double.IsPositiveInfinity(x))
        {
            return 0;
        }

        return x <= 0 ? 1 : UpperRegularizedGamma(degreesOfFreedom / 2, x / 2);
    }

    /// <summary>Q(a, x) = Γ(a, x)/Γ(a): a power series below x &lt; a + 1, a Lentz continued fraction above.</summary>
    public static double UpperRegularizedGamma(double a, double x)
    {
        if (x <= 0)
        {
            return 1;
        }

        var logPrefix = (a * Math.Log(x)) - x - LogGamma(a);
        if (x < a + 1)
        {
            var term = 1 / a;
            var sum = term;
            for (var n = 1; n < 10_000; n++)
            {
                term *= x / (a + n);
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * 1e-17)
                {
                    break;
                }
            }

            return Math.Clamp(1 - (sum * Math.Exp(logPrefix)), 0, 1);
        }

        const double Tiny = 1e-300;
        var b = x + 1 - a;
        var c = 1 / Tiny;
        var dd = 1 / b;
        var h = dd;
        for (var i = 1; i < 10_000; i++)
        {
            var an = -i * (i - a);
            b += 2;
            dd = (an * dd) + b;
            dd = Math.Abs(dd) < Tiny ? Tiny : dd;
            c = b + (an / c);
            c = Math.Abs(c) < Tiny ? Tiny : c;
            dd = 1 / dd;
            var delta = dd * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-16)
            {
                break;
            }
        }

        return Math.Clamp(Math.Exp(logPrefix) * h, 0, 1);
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, n = 9; about 15 significant digits).</summary>
    public static double LogGamma(double x)
    {
        ReadOnlySpan<double> coefficients =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5)
        {
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }

        x -= 1;
        var sum = coefficients[0];
        var t = x + 7.5;
        for (var i = 1; i < 9; i++)
        {
            sum += coefficients[i] / (x + i);
        }

        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }

    /// <summary>Greatest common divisor.</summary>
    public static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
