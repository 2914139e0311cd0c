namespace Strata.Learning;

/// <summary>What a model predicts.</summary>
public enum LearningTask
{
    /// <summary>One of two classes; the model outputs the probability of the positive (second) class.</summary>
    BinaryClassification,
    /// <summary>One of K classes; the model outputs a probability per class.</summary>
    MulticlassClassification,
    /// <summary>A number.</summary>
    Regression,
}

/// <summary>How a learner treats an input column.</summary>
public enum FeatureKind
{
    /// <summary>Ordered values (numbers, bools as 0/1, timestamps as microseconds).</summary>
    Numeric,
    /// <summary>Unordered categories (string columns): trees split on category subsets, linear models one-hot encode.</summary>
    Categorical,
}

/// <summary>How a model turns raw margins into its outputs.</summary>
public enum OutputTransform
{
    /// <summary>The margin is the prediction (squared error, absolute error, Huber, linear regression).</summary>
    Identity,
    /// <summary>Probability = 1 / (1 + e^-margin) (binary logistic).</summary>
    Sigmoid,
    /// <summary>Probabilities = softmax over the per-class margins (multiclass).</summary>
    Softmax,
    /// <summary>Prediction = e^margin (Poisson).</summary>
    Exp,
}

/// <summary>Names for the enums above as written in manifests and on the command line.</summary>
public static class LearningNames
{
    /// <summary>snake_case name of a task.</summary>
    public static string Name(this LearningTask task) => task switch
    {
        LearningTask.BinaryClassification => "binary",
        LearningTask.MulticlassClassification => "multiclass",
        _ => "regression",
    };

    /// <summary>Parses a task name.</summary>
    public static bool TryParseTask(string? name, out LearningTask task)
    {
        switch (name)
        {
            case "binary": task = LearningTask.BinaryClassification; return true;
            case "multiclass": task = LearningTask.MulticlassClassification; return true;
            case "regression": task = LearningTask.Regression; return true;
            default: task = default; return false;
        }
    }

    /// <summary>snake_case name of a transform.</summary>
    public static string Name(this OutputTransform transform) => transform switch
    {
        OutputTransform.Sigmoid => "sigmoid",
        OutputTransform.Softmax => "softmax",
        OutputTransform.Exp => "exp",
        _ => "identity",
    };

    /// <summary>Parses a transform name.</summary>
    public static bool TryParseTransform(string? name, out OutputTransform transform)
    {
        switch (name)
        {
            case "identity": transform = OutputTransform.Identity; return true;
            case "sigmoid": transform = OutputTransform.Sigmoid; return true;
            case "softmax": transform = OutputTransform.Softmax; return true;
            case "exp": transform = OutputTransform.Exp; return true;
            default: transform = default; return false;
        }
    }
}
