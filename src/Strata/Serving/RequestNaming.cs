using System.Globalization;
using Strata.Learning;

namespace Strata.Serving;

/// <summary>
/// How the runtime words a request's problems for the API that sent it. These are the native API's words: its request is
/// rows of named fields (<c>missing field 'x'</c>, <c>field 'x' in rows[1]</c>, <c>the request has no rows</c>). The
/// server derives other words for an API whose requests are not rows (Open Inference Protocol's named tensors, which hold
/// a batch of elements), so the runtime stays free of HTTP. The endpoint a request names is worded here too: an API may
/// call it something else (Open Inference Protocol's "model", whose versions are the ones the endpoint serves). Only a
/// request that has a problem is worded: nothing here runs on the way to an answer.
/// </summary>
public class RequestNaming
{
    /// <summary>Creates the native API's words; a subclass words some or all problems its own way.</summary>
    protected RequestNaming()
    {
    }

    /// <summary>The native API's words, for a request that brings none of its own.</summary>
    public static RequestNaming Rows { get; } = new();

    /// <summary>
    /// The value of <paramref name="field"/> in row <paramref name="row"/>, as the caller sent it: the subject of a sentence
    /// such as <c>… is null</c>.
    /// </summary>
    public virtual string Value(string field, int row) => $"field '{field}' in rows[{row}]";

    /// <summary>
    /// A number of <paramref name="field"/> in row <paramref name="row"/> that the model cannot read, and why
    /// (<paramref name="why"/>: <c>beyond the model's features …</c>).
    /// </summary>
    public virtual string Beyond(string field, int row, double number, string why) => $"field '{field}' is {Show(number)} in row {row}, {why}";

    /// <summary>A whole field, as the caller sent it: the subject of a sentence such as <c>… holds values of mixed kinds</c>.</summary>
    public virtual string Field(string field) => $"field '{field}'";

    /// <summary>
    /// A field the request lacks: an input of the model, or, when <paramref name="service"/> is given, a field that feature
    /// service needs (<paramref name="input"/> then describes it as a request sends it).
    /// </summary>
    public virtual string Missing(ModelInput input, string? service)
    {
        ArgumentNullException.ThrowIfNull(input);
        return service is null
            ? $"missing field '{input.Name}' ({LoadedModel.Describe(input)})"
            : $"missing field '{input.Name}' ({input.Type.Name()}; feature service '{service}' needs it)";
    }

    /// <summary>A field that is no input of model <paramref name="model"/> version <paramref name="version"/>, nor read by the endpoint otherwise.</summary>
    public virtual string Unknown(string field, string model, int version) => $"unknown field '{field}' (not an input of {model} version {version})";

    /// <summary>
    /// The model version that found a request's problems, as the object of <c>the request does not fit …</c>: the registry
    /// model and its version, as the native API names what an endpoint serves.
    /// </summary>
    public virtual string Model(string model, int version) => $"model '{model}' version {version}";

    /// <summary>
    /// Endpoint <paramref name="endpoint"/> and the model version it sent the request to, as the object of <c>the request
    /// does not fit …</c> when the endpoint's feature service found problems too.
    /// </summary>
    public virtual string Endpoint(string endpoint, string model, int version) => $"endpoint '{endpoint}' ({Model(model, version)})";

    /// <summary>
    /// What the API calls an endpoint, the thing its path names (<c>endpoint</c>): <c>no endpoint 'x'</c>, <c>this key may
    /// not call endpoint 'x' (it is limited to other endpoints)</c>.
    /// </summary>
    public virtual string EndpointNoun => "endpoint";

    /// <summary>What the API calls the things an endpoint serves (<c>model</c>): <c>endpoint 'x' has no model ready</c>.</summary>
    public virtual string ServedNoun => "model";

    /// <summary>Endpoint <paramref name="endpoint"/> as the API calls it, the subject or object of a sentence (<c>endpoint 'x'</c>).</summary>
    public string Named(string endpoint) => $"{EndpointNoun} '{endpoint}'";

    /// <summary>Version <paramref name="version"/> of registry model <paramref name="model"/>, as an endpoint serves it (<c>delay/1</c>).</summary>
    public virtual string Serving(string model, int version) => $"{model}/{version}";

    /// <summary>
    /// A type as a value that does not fit it is told it (<c>int64</c>, <c>string</c>…): a feature service's type of a field
    /// it reads from the request, or the model's features' float32.
    /// </summary>
    public virtual string Type(DataType type) => type.Name();

    /// <summary>A field whose values are of <paramref name="kind"/>, which the model's <paramref name="input"/> cannot read.</summary>
    public virtual string WrongKind(ModelInput input, InputKind kind)
    {
        ArgumentNullException.ThrowIfNull(input);
        return $"field '{input.Name}' is {LoadedModel.KindName(kind)}; the model needs {LoadedModel.Describe(input)}";
    }

    /// <summary>A request that holds nothing to predict.</summary>
    public virtual string Empty() => "the request has no rows";

    /// <summary>A request of <paramref name="rows"/> rows, more than endpoint <paramref name="endpoint"/> takes at once (<paramref name="limit"/>).</summary>
    public virtual string TooMany(int rows, string endpoint, int limit) => $"the request has {rows} rows; endpoint '{endpoint}' accepts at most {limit}";

    /// <summary>A number as the messages show it: the shortest text that reads back as the same double.</summary>
    protected static string Show(double number) => number.ToString("R", CultureInfo.InvariantCulture);
}
