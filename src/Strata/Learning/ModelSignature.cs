namespace Strata.Learning;

/// <summary>
/// One named, typed input of a model. Categorical inputs carry the categories seen in training, in code order, so a
/// value maps to the same code at prediction time; a value outside them is treated as missing (documented behaviour).
/// </summary>
public sealed record ModelInput(string Name, DataType Type, FeatureKind Kind, IReadOnlyList<string>? Categories = null)
{
    /// <inheritdoc />
    public bool Equals(ModelInput? other) =>
        other is not null && Name == other.Name && Type == other.Type && Kind == other.Kind
        && (Categories is null ? other.Categories is null : other.Categories is not null && Categories.SequenceEqual(other.Categories, StringComparer.Ordinal));

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Type, Kind, Categories?.Count);
}

/// <summary>One named, typed output of a model (a probability, a predicted label, a value).</summary>
public sealed record ModelOutput(string Name, DataType Type);

/// <summary>
/// What a model reads and writes: its inputs in the order the model uses them, and its output columns. A learner
/// states it before training (<see cref="ILearner.GetOutputSchema"/>), so a pipeline is checked before compute is spent.
/// </summary>
public sealed record ModelSignature(IReadOnlyList<ModelInput> Inputs, IReadOnlyList<ModelOutput> Outputs)
{
    /// <summary>The input with a name, or null.</summary>
    public ModelInput? Input(string name) => Inputs.FirstOrDefault(i => i.Name == name);

    /// <summary>
    /// The signature as compact JSON in the package manifest's shape, without category lists (the package holds those):
    /// what the registry stores with a version.
    /// </summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            PackageManifest.WriteSignature(json, this, categories: false);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The outputs a model of a task produces: probabilities and the predicted label for classification, the value for regression.</summary>
    public static IReadOnlyList<ModelOutput> OutputsFor(LearningTask task, IReadOnlyList<string>? classLabels) => task switch
    {
        LearningTask.BinaryClassification => [new ModelOutput("probability", DataType.Float64), new ModelOutput("label", DataType.String)],
        LearningTask.MulticlassClassification =>
            [.. (classLabels ?? []).Select(c => new ModelOutput($"probability_{c}", DataType.Float64)), new ModelOutput("label", DataType.String)],
        _ => [new ModelOutput("prediction", DataType.Float64)],
    };

    /// <inheritdoc />
    public bool Equals(ModelSignature? other) =>
        other is not null && Inputs.SequenceEqual(other.Inputs) && Outputs.SequenceEqual(other.Outputs);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Inputs.Count, Outputs.Count);
}
