using System.Globalization;

namespace Strata.Learning;

/// <summary>
/// A model's learned parameters as named typed arrays and a few named numbers: what a model package stores next to
/// its manifest. Arrays are of double, float, int, uint or byte only (no objects), so loading one executes nothing.
/// </summary>
public sealed class ModelParameters
{
    private readonly Dictionary<string, Array> _arrays = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <summary>Creates an empty set for a model kind (tree_ensemble, linear…).</summary>
    public ModelParameters(string kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        Kind = kind;
    }

    /// <summary>Which model type these parameters belong to.</summary>
    public string Kind { get; }

    /// <summary>The arrays by name.</summary>
    public IReadOnlyDictionary<string, Array> Arrays => _arrays;

    /// <summary>The scalars by name, as invariant text.</summary>
    public IReadOnlyDictionary<string, string> Values => _values;

    /// <summary>Adds an array (double[], float[], int[], uint[] or byte[]).</summary>
    public ModelParameters Add(string name, Array array)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(array);
        if (array is not (double[] or float[] or int[] or uint[] or byte[]))
        {
            throw new ArgumentException($"parameter '{name}' is a {array.GetType().Name}; only double, float, int, uint and byte arrays are stored", nameof(array));
        }

        _arrays.Add(name, array);
        return this;
    }

    /// <summary>Adds a number.</summary>
    public ModelParameters Add(string name, long value)
    {
        _values.Add(name, value.ToString(CultureInfo.InvariantCulture));
        return this;
    }

    /// <summary>Adds a number.</summary>
    public ModelParameters Add(string name, double value)
    {
        _values.Add(name, value.ToString("R", CultureInfo.InvariantCulture));
        return this;
    }

    /// <summary>An array of the expected type.</summary>
    /// <exception cref="StrataException">Missing or of another type (<see cref="ErrorCodes.DataMalformed"/>).</exception>
    public T[] Array<T>(string name) =>
        _arrays.TryGetValue(name, out var array) && array is T[] typed
            ? typed
            : throw new StrataException(ErrorCodes.DataMalformed, $"model parameters ({Kind}): array '{name}' of {typeof(T).Name} is missing");

    /// <summary>An array of the expected type and length.</summary>
    public T[] Array<T>(string name, long length)
    {
        var array = Array<T>(name);
        return array.LongLength == length
            ? array
            : throw new StrataException(ErrorCodes.DataMalformed, $"model parameters ({Kind}): array '{name}' has {array.LongLength} elements, expected {length}");
    }

    /// <summary>An integer value.</summary>
    public long Int64(string name) =>
        _values.TryGetValue(name, out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new StrataException(ErrorCodes.DataMalformed, $"model parameters ({Kind}): integer '{name}' is missing or malformed");

    /// <summary>A floating-point value.</summary>
    public double Float64(string name) =>
        _values.TryGetValue(name, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new StrataException(ErrorCodes.DataMalformed, $"model parameters ({Kind}): number '{name}' is missing or malformed");

    /// <summary>Adds a scalar given as text (used by readers).</summary>
    internal void AddValueText(string name, string text) => _values.Add(name, text);
}

/// <summary>Everything a model is besides its learned parameters: what the package manifest holds.</summary>
public sealed record ModelHeader(
    string Learner,
    LearningTask Task,
    ModelSignature Signature,
    IReadOnlyList<string>? ClassLabels,
    OutputTransform Transform,
    IReadOnlyDictionary<string, string> Settings,
    IReadOnlyDictionary<string, double> Metrics,
    string? TrainingDataFingerprint,
    string? Label = null);

/// <summary>Builds models from a header and parameters, by parameter kind; each model type registers itself here.</summary>
public static class ModelKinds
{
    private static readonly Dictionary<string, Func<ModelHeader, ModelParameters, Model>> Factories = new(StringComparer.Ordinal)
    {
        [TreeEnsembleModel.Kind] = TreeEnsembleModel.FromParameters,
        [Linear.LinearModel.Kind] = Linear.LinearModel.FromParameters,
    };

    private static readonly Lock Gate = new();

    /// <summary>Adds a model kind (learners register theirs once, at type initialisation).</summary>
    public static void Register(string kind, Func<ModelHeader, ModelParameters, Model> factory)
    {
        lock (Gate)
        {
            Factories[kind] = factory;
        }
    }

    /// <summary>Builds a model; the factory validates every array against the header.</summary>
    /// <exception cref="StrataException">An unknown kind or inconsistent parameters.</exception>
    public static Model Create(ModelHeader header, ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(parameters);
        Func<ModelHeader, ModelParameters, Model>? factory;
        lock (Gate)
        {
            Factories.TryGetValue(parameters.Kind, out factory);
        }

        return factory is null
            ? throw new StrataException(ErrorCodes.DataUnsupported, $"unknown model kind '{parameters.Kind}'")
            : factory(header, parameters);
    }

    /// <summary>The header of a model.</summary>
    public static ModelHeader HeaderOf(Model model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new ModelHeader(model.Learner, model.Task, model.Signature, model.ClassLabels, model.Transform, model.Settings, model.Metrics, model.TrainingDataFingerprint, model.LabelName);
    }
}
