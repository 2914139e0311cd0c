namespace Strata.Learning.Linear;

/// <summary>
/// What every linear learner shares: the penalty, the solver's stopping rule and standardisation. The objective is
/// <c>(1/Σw) Σ wᵢ loss(yᵢ, marginᵢ) + (L2/2)‖β‖² + L1‖β‖₁</c> over the weights β on standardised features (the
/// intercept is never penalised). L1 = 0 uses L-BFGS; L1 &gt; 0 (lasso or elastic net) uses OWL-QN.
/// </summary>
/// <remarks>
/// In scikit-learn terms: <c>LogisticRegression(C)</c> is L2 (or L1) = 1 / (C · Σw); <c>Ridge(alpha)</c> is L2 = alpha / Σw;
/// <c>Lasso(alpha)</c> is L1 = alpha; <c>ElasticNet(alpha, l1_ratio)</c> is L1 = alpha · l1_ratio, L2 = alpha · (1 − l1_ratio).
/// </remarks>
public abstract record LinearSolverOptions
{
    private protected LinearSolverOptions()
    {
    }

    /// <summary>L1 penalty strength (≥ 0); above zero, weights can become exactly zero. Key <c>l1</c>.</summary>
    public double L1 { get; init; }

    /// <summary>L2 penalty strength (≥ 0). Key <c>l2</c>.</summary>
    public double L2 { get; init; }

    /// <summary>Iteration cap; reaching it without converging is recorded as a warning on the model. Key <c>max_iterations</c>.</summary>
    public int MaxIterations { get; init; } = 1000;

    /// <summary>
    /// Converged when the largest absolute (pseudo-)gradient component of the objective, on standardised features (and,
    /// for regression, a standardised label), is at most this. Key <c>tolerance</c>.
    /// </summary>
    public double Tolerance { get; init; } = 1e-6;

    /// <summary>
    /// Fit on features centred and scaled to unit (weighted) variance, so the penalty treats them alike; the model's
    /// weights are folded back to original units either way. False penalises raw units. Key <c>standardize</c>.
    /// </summary>
    public bool Standardize { get; init; } = true;

    /// <summary>Correction pairs kept by L-BFGS / OWL-QN. Key <c>history</c>.</summary>
    public int History { get; init; } = 10;

    /// <summary>Threads for the gradient (0 = all cores). Results do not depend on it, so it is not stored in settings. Key <c>threads</c>.</summary>
    public int Threads { get; init; }

    /// <summary>The learner name used in messages.</summary>
    private protected abstract string LearnerName { get; }

    /// <summary>The options as <c>key → value</c> text (every key but <c>threads</c>, which does not change the result).</summary>
    public IReadOnlyDictionary<string, string> ToSettings()
    {
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["l1"] = OptionText.Format(L1),
            ["l2"] = OptionText.Format(L2),
            ["max_iterations"] = OptionText.Format(MaxIterations),
            ["tolerance"] = OptionText.Format(Tolerance),
            ["standardize"] = OptionText.Format(Standardize),
            ["history"] = OptionText.Format(History),
        };
        AddSettings(settings);
        return settings;
    }

    /// <summary>Adds a learner's own keys to <see cref="ToSettings"/>.</summary>
    private protected virtual void AddSettings(IDictionary<string, string> settings)
    {
    }

    /// <summary>The keys this learner reads.</summary>
    public virtual IReadOnlyList<string> Keys => ["l1", "l2", "max_iterations", "tolerance", "standardize", "history", "threads"];

    /// <summary>A copy with one option set from text.</summary>
    /// <exception cref="StrataException">An unknown key or a value that does not parse or is out of range (naming both).</exception>
    private protected LinearSolverOptions WithCommon(string key, string value) => key switch
    {
        "l1" => this with { L1 = OptionText.Double(LearnerName, key, value, 0, double.MaxValue) },
        "l2" => this with { L2 = OptionText.Double(LearnerName, key, value, 0, double.MaxValue) },
        "max_iterations" => this with { MaxIterations = OptionText.Int32(LearnerName, key, value, 1, 10_000_000) },
        "tolerance" => this with { Tolerance = OptionText.Double(LearnerName, key, value, 0, 1) },
        "standardize" => this with { Standardize = OptionText.Bool(LearnerName, key, value) },
        "history" => this with { History = OptionText.Int32(LearnerName, key, value, 1, 1000) },
        "threads" => this with { Threads = OptionText.Int32(LearnerName, key, value, 0, 4096) },
        _ => throw OptionText.Unknown(LearnerName, key, Keys),
    };

    /// <summary>Checks values set in code (text parsing checks them already).</summary>
    internal void Validate()
    {
        Check(L1 >= 0 && double.IsFinite(L1), "l1", OptionText.Format(L1), "must be finite and ≥ 0");
        Check(L2 >= 0 && double.IsFinite(L2), "l2", OptionText.Format(L2), "must be finite and ≥ 0");
        Check(MaxIterations >= 1, "max_iterations", OptionText.Format(MaxIterations), "must be ≥ 1");
        Check(Tolerance is >= 0 and <= 1, "tolerance", OptionText.Format(Tolerance), "must be in [0, 1]");
        Check(History >= 1, "history", OptionText.Format(History), "must be ≥ 1");
        Check(Threads >= 0, "threads", OptionText.Format(Threads), "must be ≥ 0");
    }

    private protected void Check(bool ok, string key, string value, string problem)
    {
        if (!ok)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{LearnerName}: option '{key}': '{value}' {problem}");
        }
    }
}
