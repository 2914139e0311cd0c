namespace Strata.Learning.Linear;

/// <summary>
/// The signature a linear learner states before training, from the schema alone. Categorical inputs carry no
/// categories yet (they come from the data), and a classifier whose classes are not yet known states only the
/// <c>label</c> output for multiclass (the <c>probability_&lt;class&gt;</c> columns follow from the data).
/// </summary>
internal static class LinearSignatures
{
    public static ModelSignature For(string learner, Schema schema, TrainingSpec spec, LearningTask task)
    {
        var inputs = Inputs(learner, schema, spec);
        return new ModelSignature(inputs, ModelSignature.OutputsFor(task, null));
    }

    /// <summary>The task a learner that classifies will have: the spec's, else bool → binary, else multiclass or binary by the data.</summary>
    public static LearningTask ClassificationTask(string learner, Schema schema, TrainingSpec spec, bool binaryOnly)
    {
        var label = Label(learner, schema, spec);
        if (label.Type is DataType.Float32 or DataType.Float64 or DataType.Timestamp)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: the label '{label.Name}' is {label.Type.Name()}; a classifier needs text, bool or integer classes");
        }

        if (spec.Task == LearningTask.Regression || (binaryOnly && spec.Task == LearningTask.MulticlassClassification))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: cannot learn a {spec.Task.Value.Name()} task (it does {(binaryOnly ? "binary" : "binary or multiclass")} classification)");
        }

        return spec.Task ?? (binaryOnly || label.Type == DataType.Bool ? LearningTask.BinaryClassification : LearningTask.MulticlassClassification);
    }

    /// <summary>The regression task, after checking the label is numeric.</summary>
    public static LearningTask RegressionTask(string learner, Schema schema, TrainingSpec spec)
    {
        var label = Label(learner, schema, spec);
        if (!label.Type.IsNumeric())
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: the label '{label.Name}' is {label.Type.Name()}; linear regression needs numbers");
        }

        if (spec.Task is { } task && task != LearningTask.Regression)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: cannot learn a {task.Name()} task (it does regression; use logistic or svm)");
        }

        return LearningTask.Regression;
    }

    /// <summary>Checks that the data was prepared for a task this learner does.</summary>
    public static void RequireTask(string learner, TrainingData train, params LearningTask[] tasks)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (!tasks.Contains(train.Task))
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid,
                $"{learner}: the label '{train.LabelName}' was prepared for {train.Task.Name()}, but this learner does {string.Join(" or ", tasks.Select(t => t.Name()))}; set the task explicitly");
        }
    }

    private static Field Label(string learner, Schema schema, TrainingSpec spec)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(spec);
        return schema.TryIndexOf(spec.Label) is var i and >= 0
            ? schema[i]
            : throw new StrataException(ErrorCodes.SchemaInvalid, $"{learner}: no label column '{spec.Label}' (columns: {string.Join(", ", schema.Names)})");
    }

    private static List<ModelInput> Inputs(string learner, Schema schema, TrainingSpec spec)
    {
        var names = spec.Features ?? schema.Where(f => f.Role == FieldRole.Feature && f.Name != spec.Label && f.Name != spec.Weight).Select(f => f.Name).ToList();
        var missing = names.Where(n => !schema.Contains(n)).ToList();
        if (missing.Count > 0)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"{learner}: feature column(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} are not in the data");
        }

        if (names.Contains(spec.Label))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: the label '{spec.Label}' cannot also be a feature");
        }

        if (names.Count == 0)
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: no feature columns");
        }

        if (spec.Weight is { } weight && !schema.Contains(weight))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"{learner}: no weight column '{weight}'");
        }

        var forced = new HashSet<string>(spec.Categorical ?? [], StringComparer.Ordinal);
        var inputs = new List<ModelInput>(names.Count);
        foreach (var name in names)
        {
            var type = schema[name].Type;
            var categorical = type == DataType.String || forced.Contains(name);
            if (categorical && type is not (DataType.String or DataType.Int32 or DataType.Int64 or DataType.Bool))
            {
                throw new StrataException(ErrorCodes.ArgumentInvalid, $"{learner}: column '{name}' is {type.Name()}: only text, integer or bool columns can be categorical");
            }

            inputs.Add(new ModelInput(name, type, categorical ? FeatureKind.Categorical : FeatureKind.Numeric));
        }

        return inputs;
    }
}
