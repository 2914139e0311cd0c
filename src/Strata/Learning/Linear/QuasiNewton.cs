namespace Strata.Learning.Linear;

/// <summary>How a minimisation ended.</summary>
internal readonly record struct SolverResult(int Iterations, bool Converged, double Objective, double GradientNorm, string? Problem);

/// <summary>
/// L-BFGS (Nocedal 1980) for smooth objectives and OWL-QN (Andrew and Gao 2007) when an L1 term
/// <c>l1·Σ|xⱼ|</c> over the first <c>penalized</c> coordinates is added. Converged when the largest absolute component of
/// the (pseudo-)gradient is at most the tolerance.
/// </summary>
/// <remarks>
/// The line search backtracks from a unit step (the first iteration starts with 1/‖g‖) and accepts a sufficient
/// decrease (Armijo). Near the optimum, decreases fall below what doubles can resolve, so a step is also accepted
/// when the objective stays within roundoff (1e-12 relative) and the gradient shrinks: the gradient keeps
/// information the function values have lost, which lets the solver reach tight tolerances.
/// Every step is a fixed sequence of operations, so results are bit-identical run to run.
/// </remarks>
internal static class QuasiNewton
{
    private const double ArmijoFraction = 1e-4;
    private const double Roundoff = 1e-12;
    private const int MaxBacktracks = 60;

    public static SolverResult Minimize(
        IObjective objective,
        double[] x,
        int penalized,
        double l1,
        int history,
        int maxIterations,
        double tolerance,
        Action<int, double>? onIteration,
        CancellationToken cancellationToken)
    {
        var n = x.Length;
        var g = new double[n];
        var pg = new double[n];
        var d = new double[n];
        var xNew = new double[n];
        var gNew = new double[n];
        var pgNew = new double[n];
        var s = new double[history][];
        var y = new double[history][];
        var rho = new double[history];
        var alphas = new double[history];
        for (var i = 0; i < history; i++)
        {
            s[i] = new double[n];
            y[i] = new double[n];
        }

        var stored = 0;
        var newest = -1;
        var f = objective.Evaluate(x, g) + L1Norm(x, penalized, l1);
        PseudoGradient(x, g, penalized, l1, pg);
        var norm = MaxAbs(pg);
        if (!double.IsFinite(f))
        {
            return new SolverResult(0, false, f, norm, "the objective is not finite at the start");
        }

        for (var iteration = 1; iteration <= maxIterations; iteration++)
        {
            if (norm <= tolerance)
            {
                return new SolverResult(iteration - 1, true, f, norm, null);
            }

            cancellationToken.ThrowIfCancellationRequested();
            Direction(pg, s, y, rho, alphas, stored, newest, d);
            if (l1 > 0)
            {
                // OWL-QN: keep only components that descend along the pseudo-gradient.
                for (var j = 0; j < penalized; j++)
                {
                    if (d[j] * pg[j] >= 0)
                    {
                        d[j] = 0;
                    }
                }
            }

            var slope = Dot(pg, d);
            if (!(slope < 0))
            {
                // The quasi-Newton model lost its way (roundoff or a kink): restart from steepest descent.
                stored = 0;
                newest = -1;
                for (var j = 0; j < n; j++)
                {
                    d[j] = -pg[j];
                }

                slope = Dot(pg, d);
            }

            var step = stored == 0 ? 1 / Math.Sqrt(Dot(pg, pg)) : 1.0;
            var accepted = false;
            var fNew = double.NaN;
            var normNew = double.NaN;
            for (var attempt = 0; attempt < MaxBacktracks && !accepted; attempt++, step *= 0.5)
            {
                for (var j = 0; j < n; j++)
                {
                    xNew[j] = x[j] + (step * d[j]);
                }

                if (l1 > 0)
                {
                    // Stay in the orthant of x (or, at zero, the one the pseudo-gradient points away from).
                    for (var j = 0; j < penalized; j++)
                    {
                        var orthant = x[j] != 0 ? Math.Sign(x[j]) : -Math.Sign(pg[j]);
                        if (Math.Sign(xNew[j]) != orthant)
                        {
                            xNew[j] = 0;
                        }
                    }
                }

                fNew = objective.Evaluate(xNew, gNew) + L1Norm(xNew, penalized, l1);
                if (!double.IsFinite(fNew))
                {
                    continue;
                }

                PseudoGradient(xNew, gNew, penalized, l1, pgNew);
                normNew = MaxAbs(pgNew);
                var decrease = 0.0;
                for (var j = 0; j < n; j++)
                {
                    decrease += pg[j] * (xNew[j] - x[j]);
                }

                accepted = fNew <= f + (ArmijoFraction * decrease)
                    || (fNew <= f + (Roundoff * Math.Abs(f)) && normNew < norm);
            }

            if (!accepted)
            {
                var converged = norm <= tolerance;
                return new SolverResult(iteration - 1, converged, f, norm, converged ? null : "the line search could not decrease the objective further");
            }

            var slot = (newest + 1) % history;
            var sy = 0.0;
            var yy = 0.0;
            for (var j = 0; j < n; j++)
            {
                s[slot][j] = xNew[j] - x[j];
                y[slot][j] = gNew[j] - g[j];
                sy += s[slot][j] * y[slot][j];
                yy += y[slot][j] * y[slot][j];
            }

            // Keep the pair only with positive curvature, so the inverse Hessian estimate stays positive definite.
            if (sy > 1e-16 * yy && yy > 0)
            {
                rho[slot] = 1 / sy;
                newest = slot;
                stored = Math.Min(stored + 1, history);
            }

            // NOTE: x stays the caller's array, which must hold the solution on return.
            Array.Copy(xNew, x, n);
            (g, gNew) = (gNew, g);
            (pg, pgNew) = (pgNew, pg);
            f = fNew;
            norm = normNew;
            onIteration?.Invoke(iteration, f);
        }

        return new SolverResult(maxIterations, norm <= tolerance, f, norm, norm <= tolerance ? null : $"reached the iteration cap ({maxIterations})");
    }

    /// <summary>d = −H·pg by the two-loop recursion over the stored pairs, newest first.</summary>
    private static void Direction(double[] pg, double[][] s, double[][] y, double[] rho, double[] alphas, int stored, int newest, double[] d)
    {
        var n = pg.Length;
        var history = s.Length;
        for (var j = 0; j < n; j++)
        {
            d[j] = -pg[j];
        }

        for (var i = 0; i < stored; i++)
        {
            var slot = (newest - i + history) % history;
            var a = rho[slot] * Dot(s[slot], d);
            alphas[slot] = a;
            Axpy(-a, y[slot], d);
        }

        if (stored > 0)
        {
            var gamma = 1 / (rho[newest] * Dot(y[newest], y[newest]));
            for (var j = 0; j < n; j++)
            {
                d[j] *= gamma;
            }
        }

        for (var i = stored - 1; i >= 0; i--)
        {
            var slot = (newest - i + history) % history;
            var b = rho[slot] * Dot(y[slot], d);
            Axpy(alphas[slot] - b, s[slot], d);
        }
    }

    /// <summary>The gradient of f + l1·‖x‖₁ where it exists, else the minimum-norm subgradient (0 inside the kink).</summary>
    private static void PseudoGradient(double[] x, double[] g, int penalized, double l1, double[] pg)
    {
        Array.Copy(g, pg, g.Length);
        if (l1 <= 0)
        {
            return;
        }

        for (var j = 0; j < penalized; j++)
        {
            if (x[j] > 0)
            {
                pg[j] = g[j] + l1;
            }
            else if (x[j] < 0)
            {
                pg[j] = g[j] - l1;
            }
            else if (g[j] + l1 < 0)
            {
                pg[j] = g[j] + l1;
            }
            else if (g[j] - l1 > 0)
            {
                pg[j] = g[j] - l1;
            }
            else
            {
                pg[j] = 0;
            }
        }
    }

    private static double L1Norm(double[] x, int penalized, double l1)
    {
        if (l1 <= 0)
        {
            return 0;
        }

        var sum = 0.0;
        for (var j = 0; j < penalized; j++)
        {
            sum += Math.Abs(x[j]);
        }

        return l1 * sum;
    }

    private static double MaxAbs(double[] v)
    {
        var max = 0.0;
        foreach (var e in v)
        {
            max = Math.Max(max, Math.Abs(e));
        }

        return max;
    }

    private static double Dot(double[] a, double[] b)
    {
        var sum = 0.0;
        for (var j = 0; j < a.Length; j++)
        {
            sum += a[j] * b[j];
        }

        return sum;
    }

    private static void Axpy(double a, double[] x, double[] y)
    {
        for (var j = 0; j < y.Length; j++)
        {
            y[j] += a * x[j];
        }
    }
}
