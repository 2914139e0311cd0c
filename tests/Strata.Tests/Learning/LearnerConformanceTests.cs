using Strata.Learning;
using Strata.Testing.Conformance;

namespace Strata.Tests.Learning;

public sealed class LogisticRegressionConformance : LearnerConformance
{
    protected override IReadOnlyList<LearningTask> Tasks => [LearningTask.BinaryClassification, LearningTask.MulticlassClassification];

    protected override ILearner CreateLearner(LearningTask task) => Learners.Create("logistic", new Dictionary<string, string> { ["l2"] = "0.01" });
}

public sealed class LinearRegressionConformance : LearnerConformance
{
    protected override IReadOnlyList<LearningTask> Tasks => [LearningTask.Regression];

    protected override ILearner CreateLearner(LearningTask task) => Learners.Create("linear", new Dictionary<string, string> { ["l2"] = "0.001" });
}

public sealed class LinearSvmConformance : LearnerConformance
{
    protected override IReadOnlyList<LearningTask> Tasks => [LearningTask.BinaryClassification];

    protected override ILearner CreateLearner(LearningTask task) => Learners.Create("svm");
}

public sealed class GbdtConformance : LearnerConformance
{
    protected override IReadOnlyList<LearningTask> Tasks =>
        [LearningTask.BinaryClassification, LearningTask.MulticlassClassification, LearningTask.Regression];

    protected override ILearner CreateLearner(LearningTask task) =>
        Learners.Create("gbdt", new Dictionary<string, string> { ["num_boost_round"] = "20", ["max_depth"] = "4", ["subsample"] = "0.8", ["colsample_bytree"] = "0.8" });
}
