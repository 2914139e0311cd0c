namespace Strata.Learning.Metrics;

/// <summary>Stable metric names, as they appear in model manifests, reports and CLI output.</summary>
public static class MetricNames
{
    /// <summary>Area under the ROC curve (binary).</summary>
    public const string RocAuc = "auc";

    /// <summary>Average precision, scikit-learn's area under the precision-recall curve (binary).</summary>
    public const string AveragePrecision = "average_precision";

    /// <summary>Mean negative log-likelihood (cross-entropy).</summary>
    public const string LogLoss = "log_loss";

    /// <summary>Brier score: mean squared error of probabilities.</summary>
    public const string Brier = "brier";

    /// <summary>Expected calibration error over 10 equal-width bins.</summary>
    public const string Ece = "ece";

    /// <summary>Fraction (weighted) of correct predictions.</summary>
    public const string Accuracy = "accuracy";

    /// <summary>Precision of the positive class (binary).</summary>
    public const string Precision = "precision";

    /// <summary>Recall of the positive class (binary).</summary>
    public const string Recall = "recall";

    /// <summary>F1 of the positive class (binary).</summary>
    public const string F1 = "f1";

    /// <summary>Unweighted mean of per-class precision.</summary>
    public const string PrecisionMacro = "precision_macro";

    /// <summary>Unweighted mean of per-class recall.</summary>
    public const string RecallMacro = "recall_macro";

    /// <summary>Unweighted mean of per-class F1.</summary>
    public const string F1Macro = "f1_macro";

    /// <summary>Support-weighted mean of per-class precision.</summary>
    public const string PrecisionWeighted = "precision_weighted";

    /// <summary>Support-weighted mean of per-class recall.</summary>
    public const string RecallWeighted = "recall_weighted";

    /// <summary>Support-weighted mean of per-class F1.</summary>
    public const string F1Weighted = "f1_weighted";

    /// <summary>One-vs-rest ROC AUC, unweighted mean over classes (multiclass).</summary>
    public const string RocAucOvrMacro = "auc_ovr_macro";

    /// <summary>One-vs-rest ROC AUC, support-weighted mean over classes (multiclass).</summary>
    public const string RocAucOvrWeighted = "auc_ovr_weighted";

    /// <summary>Mean squared error.</summary>
    public const string Mse = "mse";

    /// <summary>Root mean squared error.</summary>
    public const string Rmse = "rmse";

    /// <summary>Mean absolute error.</summary>
    public const string Mae = "mae";

    /// <summary>Coefficient of determination.</summary>
    public const string R2 = "r2";
}

/// <summary>How per-class precision, recall and F1 are combined.</summary>
public enum Average
{
    /// <summary>Only the positive class (index 1).</summary>
    Binary,
    /// <summary>From the summed counts of all classes (equals accuracy for single-label data).</summary>
    Micro,
    /// <summary>Unweighted mean over the classes that occur in the true or predicted labels (as scikit-learn).</summary>
    Macro,
    /// <summary>Mean over classes weighted by their (weighted) support in the true labels.</summary>
    Weighted,
}
