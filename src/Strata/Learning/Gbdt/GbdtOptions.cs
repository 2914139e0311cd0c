using System.Globalization;

namespace Strata.Learning.Gbdt;

/// <summary>How trees grow.</summary>
public enum GrowPolicy
{
    /// <summary>Level by level up to <see cref="GbdtOptions.MaxDepth"/> (XGBoost's default).</summary>
    DepthWise,
    /// <summary>Always split the leaf with the largest gain, up to <see cref="GbdtOptions.MaxLeaves"/> (LightGBM's way).</summary>
    LossGuide,
}

/// <summary>
/// Options of the gradient-boosted trees learner. Property names follow XGBoost's parameters (LightGBM's where XGBoost
/// has none); <see cref="Parse"/> reads them from <c>key=value</c> text (snake_case keys, with XGBoost and LightGBM
/// aliases) and <see cref="ToSettings"/> writes them back.
/// </summary>
public sealed record GbdtOptions
{
    /// <summary>
    /// binary:logistic, multi:softmax, reg:squarederror, reg:absoluteerror, reg:huber, count:poisson; null picks the
    /// task's default (logistic, softmax, squared error).
    /// </summary>
    public string? Objective { get; init; }

    /// <summary>Boosting rounds (trees per output); <c>num_boost_round</c>, aliases n_estimators, num_iterations.</summary>
    public int NumBoostRound { get; init; } = 100;

    /// <summary>Shrinkage of each tree's output; <c>learning_rate</c>, alias eta.</summary>
    public double LearningRate { get; init; } = 0.3;

    /// <summary>Maximum depth of a tree (0 = unlimited, allowed only with <see cref="GrowPolicy.LossGuide"/>).</summary>
    public int MaxDepth { get; init; } = 6;

    /// <summary>Maximum leaves of a tree (0 = no limit; loss-guided growth then uses 31); alias num_leaves.</summary>
    public int MaxLeaves { get; init; }

    /// <summary>depthwise or lossguide.</summary>
    public GrowPolicy GrowPolicy { get; init; } = GrowPolicy.DepthWise;

    /// <summary>Minimum sum of hessians (weights, for squared error) in a child.</summary>
    public double MinChildWeight { get; init; } = 1;

    /// <summary>Minimum loss reduction to make a split; <c>min_split_gain</c>, aliases gamma, min_split_loss.</summary>
    public double MinSplitGain { get; init; }

    /// <summary>L2 regularisation of leaf weights; <c>reg_lambda</c>, alias lambda.</summary>
    public double RegLambda { get; init; } = 1;

    /// <summary>L1 regularisation of leaf weights; <c>reg_alpha</c>, alias alpha.</summary>
    public double RegAlpha { get; init; }

    /// <summary>Largest absolute leaf weight before shrinkage (0 = no limit).</summary>
    public double MaxDeltaStep { get; init; }

    /// <summary>Fraction of rows sampled (without replacement) for each tree.</summary>
    public double Subsample { get; init; } = 1;

    /// <summary>Fraction of features sampled for each tree.</summary>
    public double ColsampleByTree { get; init; } = 1;

    /// <summary>Fraction of the tree's features sampled for each depth level.</summary>
    public double ColsampleByLevel { get; init; } = 1;

    /// <summary>Fraction of the level's features sampled for each split.</summary>
    public double ColsampleByNode { get; init; } = 1;

    /// <summary>Value bins per feature (2–255); missing values have a bin of their own besides these.</summary>
    public int MaxBin { get; init; } = 255;

    /// <summary>Rows sampled to find the bin boundaries of numeric features (LightGBM's bin_construct_sample_cnt).</summary>
    public int BinConstructSampleCount { get; init; } = 200_000;

    /// <summary>Weight of positive rows in binary classification (XGBoost's scale_pos_weight).</summary>
    public double ScalePosWeight { get; init; } = 1;

    /// <summary>
    /// Class weights as <c>label:weight,label:weight</c>, or <c>balanced</c> (n / (k · n_class)); multiplies the
    /// sample weights. Null for none.
    /// </summary>
    public string? ClassWeights { get; init; }

    /// <summary>Number of classes the data must have (0 = take it from the data).</summary>
    public int NumClass { get; init; }

    /// <summary>Where the Huber loss turns from quadratic to linear; <c>huber_delta</c>, alias huber_slope.</summary>
    public double HuberDelta { get; init; } = 1;

    /// <summary>Poisson: the hessian is e^(margin + this) so that early steps stay small (XGBoost's max_delta_step for count:poisson).</summary>
    public double PoissonMaxDeltaStep { get; init; } = 0.7;

    /// <summary>Categorical features with at most this many categories split one category against the rest.</summary>
    public int MaxCatToOnehot { get; init; } = 4;

    /// <summary>Most categories on the left of a subset split.</summary>
    public int MaxCatThreshold { get; init; } = 32;

    /// <summary>Added to the hessian when categories are ordered by gradient / hessian (damps rare categories).</summary>
    public double CatSmooth { get; init; } = 10;

    /// <summary>Extra L2 regularisation in the gain of categorical subset splits.</summary>
    public double CatL2 { get; init; } = 10;

    /// <summary>Categories with fewer rows than this in a node are left out of its subset search (they go right).</summary>
    public int MinDataPerGroup { get; init; } = 100;

    /// <summary>Stop when the validation metric has not improved for this many rounds (0 = never); the model keeps the best round.</summary>
    public int EarlyStoppingRounds { get; init; }

    /// <summary>auc, logloss, error, mlogloss, merror, rmse, mae, huber, poisson-nloglik; null = the objective's default.</summary>
    public string? EvalMetric { get; init; }

    /// <summary>Seed of every random choice (row and feature sampling, bin sample).</summary>
    public ulong Seed { get; init; }

    /// <summary>Threads (0 = all cores). The model does not depend on it.</summary>
    public int NThread { get; init; }

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["n_estimators"] = "num_boost_round", ["num_iterations"] = "num_boost_round", ["num_rounds"] = "num_boost_round",
        ["num_round"] = "num_boost_round", ["eta"] = "learning_rate", ["num_leaves"] = "max_leaves", ["gamma"] = "min_split_gain",
        ["min_split_loss"] = "min_split_gain", ["lambda"] = "reg_lambda", ["alpha"] = "reg_alpha", ["huber_slope"] = "huber_delta",
        ["random_state"] = "seed", ["n_jobs"] = "nthread", ["num_threads"] = "nthread",
        ["bin_construct_sample_cnt"] = "bin_construct_sample_count", ["feature_fraction"] = "colsample_bytree", ["bagging_fraction"] = "subsample",
    };

    private static readonly string[] Objectives =
        ["binary:logistic", "multi:softmax", "reg:squarederror", "reg:absoluteerror", "reg:huber", "count:poisson"];

    private static readonly string[] Metrics = ["auc", "logloss", "error", "mlogloss", "merror", "rmse", "mae", "huber", "poisson-nloglik"];

    /// <summary>
    /// Reads options from text (the CLI's <c>--set key=value</c>); keys are snake_case names or aliases, values invariant
    /// numbers or names. Unset keys keep their defaults; the result is validated.
    /// </summary>
    /// <exception cref="StrataException">An unknown key, a value that does not parse, or one out of range (naming the key and the value).</exception>
    public static GbdtOptions Parse(IReadOnlyDictionary<string, string> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var o = new GbdtOptions();
        foreach (var (rawKey, value) in settings.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var key = Aliases.GetValueOrDefault(rawKey, rawKey);
            o = key switch
            {
                "objective" => o with { Objective = ObjectiveName(value) ?? throw Bad(rawKey, value, "one of " + string.Join(", ", Objectives)) },
                "num_boost_round" => o with { NumBoostRound = Int(rawKey, value) },
                "learning_rate" => o with { LearningRate = Real(rawKey, value) },
                "max_depth" => o with { MaxDepth = Int(rawKey, value) },
                "max_leaves" => o with { MaxLeaves = Int(rawKey, value) },
                "grow_policy" => o with
                {
                    GrowPolicy = value switch
                    {
                        "depthwise" => GrowPolicy.DepthWise,
                        "lossguide" or "leafwise" => GrowPolicy.LossGuide,
                        _ => throw Bad(rawKey, value, "depthwise or lossguide"),
                    },
                },
                "min_child_weight" => o with { MinChildWeight = Real(rawKey, value) },
                "min_split_gain" => o with { MinSplitGain = Real(rawKey, value) },
                "reg_lambda" => o with { RegLambda = Real(rawKey, value) },
                "reg_alpha" => o with { RegAlpha = Real(rawKey, value) },
                "max_delta_step" => o with { MaxDeltaStep = Real(rawKey, value) },
                "subsample" => o with { Subsample = Real(rawKey, value) },
                "colsample_bytree" => o with { ColsampleByTree = Real(rawKey, value) },
                "colsample_bylevel" => o with { ColsampleByLevel = Real(rawKey, value) },
                "colsample_bynode" => o with { ColsampleByNode = Real(rawKey, value) },
                "max_bin" => o with { MaxBin = Int(rawKey, value) },
                "bin_construct_sample_count" => o with { BinConstructSampleCount = Int(rawKey, value) },
                "scale_pos_weight" => o with { ScalePosWeight = Real(rawKey, value) },
                "class_weights" => o with { ClassWeights = value.Length == 0 ? null : value },
                "num_class" => o with { NumClass = Int(rawKey, value) },
                "huber_delta" => o with { HuberDelta = Real(rawKey, value) },
                "poisson_max_delta_step" => o with { PoissonMaxDeltaStep = Real(rawKey, value) },
                "max_cat_to_onehot" => o with { MaxCatToOnehot = Int(rawKey, value) },
                "max_cat_threshold" => o with { MaxCatThreshold = Int(rawKey, value) },
                "cat_smooth" => o with { CatSmooth = Real(rawKey, value) },
                "cat_l2" => o with { CatL2 = Real(rawKey, value) },
                "min_data_per_group" => o with { MinDataPerGroup = Int(rawKey, value) },
                "early_stopping_rounds" => o with { EarlyStoppingRounds = Int(rawKey, value) },
                "eval_metric" => o with { EvalMetric = Metrics.Contains(value) ? value : throw Bad(rawKey, value, "one of " + string.Join(", ", Metrics)) },
                "seed" => o with
                {
                    Seed = ulong.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s
                        : long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var sl) ? unchecked((ulong)sl)
                        : throw Bad(rawKey, value, "an integer"),
                },
                "nthread" => o with { NThread = Int(rawKey, value) },
                _ => throw new StrataException(ErrorCodes.ArgumentInvalid, $"gbdt: unknown option '{rawKey}' (=\"{value}\")"),
            };
        }

        o.Validate();
        return o;
    }

    /// <summary>The options as snake_case key → invariant text (what a model's manifest stores; <see cref="Parse"/> reads it back).</summary>
    public IReadOnlyDictionary<string, string> ToSettings()
    {
        static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        var s = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["num_boost_round"] = I(NumBoostRound),
            ["learning_rate"] = R(LearningRate),
            ["max_depth"] = I(MaxDepth),
            ["max_leaves"] = I(MaxLeaves),
            ["grow_policy"] = GrowPolicy == GrowPolicy.DepthWise ? "depthwise" : "lossguide",
            ["min_child_weight"] = R(MinChildWeight),
            ["min_split_gain"] = R(MinSplitGain),
            ["reg_lambda"] = R(RegLambda),
            ["reg_alpha"] = R(RegAlpha),
            ["max_delta_step"] = R(MaxDeltaStep),
            ["subsample"] = R(Subsample),
            ["colsample_bytree"] = R(ColsampleByTree),
            ["colsample_bylevel"] = R(ColsampleByLevel),
            ["colsample_bynode"] = R(ColsampleByNode),
            ["max_bin"] = I(MaxBin),
            ["bin_construct_sample_count"] = I(BinConstructSampleCount),
            ["scale_pos_weight"] = R(ScalePosWeight),
            ["num_class"] = I(NumClass),
            ["huber_delta"] = R(HuberDelta),
            ["poisson_max_delta_step"] = R(PoissonMaxDeltaStep),
            ["max_cat_to_onehot"] = I(MaxCatToOnehot),
            ["max_cat_threshold"] = I(MaxCatThreshold),
            ["cat_smooth"] = R(CatSmooth),
            ["cat_l2"] = R(CatL2),
            ["min_data_per_group"] = I(MinDataPerGroup),
            ["early_stopping_rounds"] = I(EarlyStoppingRounds),
            ["seed"] = Seed.ToString(CultureInfo.InvariantCulture),
            ["nthread"] = I(NThread),
        };
        if (Objective is not null)
        {
            s["objective"] = Objective;
        }

        if (ClassWeights is not null)
        {
            s["class_weights"] = ClassWeights;
        }

        if (EvalMetric is not null)
        {
            s["eval_metric"] = EvalMetric;
        }

        return s;
    }

    /// <summary>Checks every value's range.</summary>
    /// <exception cref="StrataException">A value out of range, naming the key and the value.</exception>
    public void Validate()
    {
        Check("num_boost_round", NumBoostRound, NumBoostRound >= 1, "at least 1");
        Check("learning_rate", LearningRate, LearningRate > 0 && double.IsFinite(LearningRate), "a positive number");
        Check("max_depth", MaxDepth, MaxDepth is >= 0 and <= 64, "between 0 and 64");
        Check("max_depth", MaxDepth, MaxDepth > 0 || GrowPolicy == GrowPolicy.LossGuide, "positive with depthwise growth (0 = unlimited needs lossguide)");
        Check("max_leaves", MaxLeaves, MaxLeaves == 0 || MaxLeaves >= 2, "0 (no limit) or at least 2");
        Check("min_child_weight", MinChildWeight, MinChildWeight >= 0 && double.IsFinite(MinChildWeight), "non-negative");
        Check("min_split_gain", MinSplitGain, MinSplitGain >= 0 && double.IsFinite(MinSplitGain), "non-negative");
        Check("reg_lambda", RegLambda, RegLambda >= 0 && double.IsFinite(RegLambda), "non-negative");
        Check("reg_alpha", RegAlpha, RegAlpha >= 0 && double.IsFinite(RegAlpha), "non-negative");
        Check("max_delta_step", MaxDeltaStep, MaxDeltaStep >= 0 && double.IsFinite(MaxDeltaStep), "non-negative");
        Check("subsample", Subsample, Subsample is > 0 and <= 1, "in (0, 1]");
        Check("colsample_bytree", ColsampleByTree, ColsampleByTree is > 0 and <= 1, "in (0, 1]");
        Check("colsample_bylevel", ColsampleByLevel, ColsampleByLevel is > 0 and <= 1, "in (0, 1]");
        Check("colsample_bynode", ColsampleByNode, ColsampleByNode is > 0 and <= 1, "in (0, 1]");
        Check("max_bin", MaxBin, MaxBin is >= 2 and <= 255, "between 2 and 255");
        Check("bin_construct_sample_count", BinConstructSampleCount, BinConstructSampleCount >= 1000, "at least 1000");
        Check("scale_pos_weight", ScalePosWeight, ScalePosWeight > 0 && double.IsFinite(ScalePosWeight), "a positive number");
        Check("num_class", NumClass, NumClass == 0 || NumClass >= 2, "0 (from the data) or at least 2");
        Check("huber_delta", HuberDelta, HuberDelta > 0 && double.IsFinite(HuberDelta), "a positive number");
        Check("poisson_max_delta_step", PoissonMaxDeltaStep, PoissonMaxDeltaStep >= 0 && double.IsFinite(PoissonMaxDeltaStep), "non-negative");
        Check("max_cat_to_onehot", MaxCatToOnehot, MaxCatToOnehot >= 1, "at least 1");
        Check("max_cat_threshold", MaxCatThreshold, MaxCatThreshold >= 1, "at least 1");
        Check("cat_smooth", CatSmooth, CatSmooth >= 0 && double.IsFinite(CatSmooth), "non-negative");
        Check("cat_l2", CatL2, CatL2 >= 0 && double.IsFinite(CatL2), "non-negative");
        Check("min_data_per_group", MinDataPerGroup, MinDataPerGroup >= 1, "at least 1");
        Check("early_stopping_rounds", EarlyStoppingRounds, EarlyStoppingRounds >= 0, "non-negative");
        Check("nthread", NThread, NThread >= 0, "non-negative (0 = all cores)");
        if (Objective is not null && ObjectiveName(Objective) is null)
        {
            throw Bad("objective", Objective, "one of " + string.Join(", ", Objectives));
        }

        if (EvalMetric is not null && !Metrics.Contains(EvalMetric))
        {
            throw Bad("eval_metric", EvalMetric, "one of " + string.Join(", ", Metrics));
        }

        if (ClassWeights is not null && ClassWeights != "balanced")
        {
            _ = ParseClassWeights(ClassWeights);
        }
    }

    /// <summary>Reads <c>label:weight,…</c>.</summary>
    internal static Dictionary<string, double> ParseClassWeights(string text)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = part.LastIndexOf(':');
            if (colon <= 0 || !double.TryParse(part.AsSpan(colon + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var w) || !(w >= 0) || double.IsInfinity(w))
            {
                throw Bad("class_weights", text, "'balanced' or label:weight pairs with non-negative weights, separated by commas");
            }

            result[part[..colon]] = w;
        }

        return result;
    }

    /// <summary>The canonical objective for a name or alias, or null.</summary>
    internal static string? ObjectiveName(string name) => name switch
    {
        "binary:logistic" or "binary" or "logistic" => "binary:logistic",
        "multi:softmax" or "multi:softprob" or "multiclass" or "softmax" => "multi:softmax",
        "reg:squarederror" or "regression" or "squared_error" or "l2" => "reg:squarederror",
        "reg:absoluteerror" or "absolute_error" or "l1" or "mae" => "reg:absoluteerror",
        "reg:huber" or "reg:pseudohubererror" or "huber" => "reg:huber",
        "count:poisson" or "poisson" => "count:poisson",
        _ => null,
    };

    private static void Check(string key, double value, bool ok, string expected)
    {
        if (!ok)
        {
            throw Bad(key, value.ToString("R", CultureInfo.InvariantCulture), expected);
        }
    }

    private static int Int(string key, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw Bad(key, value, "an integer");

    private static double Real(string key, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : throw Bad(key, value, "a finite number");

    private static StrataException Bad(string key, string value, string expected) =>
        new(ErrorCodes.ArgumentInvalid, $"gbdt: option {key}=\"{value}\" is invalid: expected {expected}");
}
