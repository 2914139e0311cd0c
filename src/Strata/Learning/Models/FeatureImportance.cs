namespace Strata.Learning;

/// <summary>How much a tree model uses a feature: splits on it, and the gain and cover of those splits.</summary>
/// <param name="Feature">The input's name.</param>
/// <param name="Splits">Splits on the feature across all trees (XGBoost's "weight").</param>
/// <param name="TotalGain">Summed loss reduction of those splits (XGBoost's "total_gain").</param>
/// <param name="TotalCover">Summed training cover of those splits (XGBoost's "total_cover").</param>
public sealed record FeatureImportance(string Feature, int Splits, double TotalGain, double TotalCover)
{
    /// <summary>Mean gain per split (XGBoost's "gain"); 0 without splits.</summary>
    public double AverageGain => Splits == 0 ? 0 : TotalGain / Splits;

    /// <summary>Mean cover per split (XGBoost's "cover"); 0 without splits.</summary>
    public double AverageCover => Splits == 0 ? 0 : TotalCover / Splits;

    /// <summary>Importance of every input of a tree model, in input order (unused inputs have zero splits).</summary>
    public static IReadOnlyList<FeatureImportance> Of(TreeEnsembleModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var e = model.Ensemble;
        var splits = new int[e.FeatureCount];
        var gain = new double[e.FeatureCount];
        var cover = new double[e.FeatureCount];
        for (var n = 0; n < e.NodeCount; n++)
        {
            var feature = e.SplitFeature[n];
            if (feature >= 0)
            {
                splits[feature]++;
                gain[feature] += e.Gain[n];
                cover[feature] += e.Cover[n];
            }
        }

        return [.. model.Signature.Inputs.Select((input, f) => new FeatureImportance(input.Name, splits[f], gain[f], cover[f]))];
    }
}
