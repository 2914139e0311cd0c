using Strata.Learning;
using Strata.Serving;

namespace Strata.Server.Serving;

// How the runtime's errors word what an inference request carries: its tensors, their elements and the batch they hold,
// never the native API's rows and fields.
internal static partial class InferenceJson
{
    /// <summary>The protocol's words for what a request names, before its tensors are read (or for a request that has none).</summary>
    public static RequestNaming Naming => ModelNaming.Instance;

    /// <summary>
    /// The protocol's words for what a /v2 path names: the endpoint is a model (<c>no model 'x'</c>), and what it serves
    /// are its versions (<c>model 'x' has no version ready</c>), told by number, never by the registry model behind them;
    /// a type is a protocol datatype.
    /// </summary>
    private class ModelNaming : RequestNaming
    {
        protected ModelNaming()
        {
        }

        public static ModelNaming Instance { get; } = new();

        public override string EndpointNoun => "model";

        public override string ServedNoun => "version";

        public override string Serving(string model, int version) => $"version {version}";

        // As the model metadata lists a request field the service reads: a timestamp is sent as ISO 8601 text.
        public override string Type(DataType type) => type == DataType.Timestamp ? "BYTES" : Datatype(type);
    }

    /// <summary>
    /// The protocol's words for a request's problems: a field is an input tensor (in the one [N,F] tensor of every input,
    /// a column of it), row r is element r of the batch, and the batch is the first dimension of the tensors' shape. The
    /// model is the one the client named in the path, which is the endpoint (never the registry model behind it, a name
    /// the protocol's client never sees), with the version the endpoint answered with; a type is a protocol datatype (as
    /// <see cref="ModelNaming"/> words it). Made once per request from references the parser holds anyway; nothing is
    /// worded unless the request has a problem.
    /// </summary>
    private sealed class TensorNaming : ModelNaming
    {
        /// <summary>The tensors by input name, when each input is a tensor of shape [N] or [N,1]; else null.</summary>
        private readonly IReadOnlyDictionary<string, InputColumn>? _tensors;

        /// <summary>The inputs in the order of the one [N,F] tensor's columns, when the request is that tensor; else null.</summary>
        private readonly IReadOnlyList<ModelInput>? _columns;

        /// <summary>The first tensor (the only one when it holds every input), whose first dimension is the batch.</summary>
        private readonly string _first;

        private readonly long[] _shape;

        /// <summary>The model as the path names it: the endpoint.</summary>
        private readonly string _model;

        private TensorNaming(string model, IReadOnlyDictionary<string, InputColumn>? tensors, IReadOnlyList<ModelInput>? columns, string first, long[] shape)
        {
            _model = model;
            _tensors = tensors;
            _columns = columns;
            _first = first;
            _shape = shape;
        }

        /// <summary>The words for tensors of shape [N] or [N,1], one per input; <paramref name="first"/> is the first of them.</summary>
        public static TensorNaming OnePerInput(string model, IReadOnlyDictionary<string, InputColumn> tensors, Tensor first) => new(model, tensors, null, first.Name, first.Shape);

        /// <summary>The words for the one [N,F] tensor holding every input, the columns in the order of <paramref name="inputs"/>.</summary>
        public static TensorNaming OneOfAll(string model, Tensor tensor, IReadOnlyList<ModelInput> inputs) => new(model, null, inputs, tensor.Name, tensor.Shape);

        // A tensor of shape [N] or [N,1] holds row r's value as its element r; the [N,F] tensor as its element [r,f].
        public override string Value(string field, int row) =>
            Column(field) is var f and >= 0 ? $"input tensor '{_first}': element [{row},{f}] (input '{field}')"
            : IsTensor(field) ? $"input tensor '{field}': element {row}"
            : $"feature '{field}' added for element {row}";

        public override string Beyond(string field, int row, double number, string why) => $"{Value(field, row)} is {Show(number)}, {why}";

        public override string Field(string field) =>
            Column(field) is var f and >= 0 ? $"input '{field}' (elements [*,{f}] of input tensor '{_first}')"
            : IsTensor(field) ? $"input tensor '{field}'"
            : $"feature '{field}' added by enrichment";

        public override string Missing(ModelInput input, string? service)
        {
            ArgumentNullException.ThrowIfNull(input);
            return $"missing input tensor '{input.Name}' ({Datatype(input.Type, input.Kind)}; {(service is null ? "the model" : $"feature service '{service}'")} needs it)";
        }

        public override string Unknown(string field, string model, int version) => $"{Field(field)} is not an input of {Model(model, version)}";

        // The registry model is left out: on /v2 the endpoint is the model, and its versions are the ones it serves.
        public override string Model(string model, int version) => $"model '{_model}' version {version}";

        public override string Endpoint(string endpoint, string model, int version) => Model(model, version);

        // NOTE: only a BYTES tensor gives text, and every other datatype numbers (BOOL too), so the kind names the datatype.
        public override string WrongKind(ModelInput input, InputKind kind)
        {
            ArgumentNullException.ThrowIfNull(input);
            var reads = input.Kind == FeatureKind.Categorical ? "text (BYTES)" : $"a number ({Datatype(input.Type, input.Kind)})";
            return kind switch
            {
                InputKind.Text => $"{Field(input.Name)} is BYTES; the model reads it as {reads}",
                InputKind.Number => $"{Field(input.Name)} is not BYTES; the model reads it as {reads}",
                _ => $"{Field(input.Name)} holds values of mixed kinds; the model reads it as {reads}",
            };
        }

        public override string Empty() => $"input tensor '{_first}' has shape {ShapeText(_shape)}: a batch needs at least one element";

        public override string TooMany(int rows, string endpoint, int limit) =>
            $"input tensor '{_first}' has shape {ShapeText(_shape)}: a batch of {rows} elements is over this model's limit of {limit}";

        private bool IsTensor(string field) => _tensors?.ContainsKey(field) == true;

        /// <summary>The column of the [N,F] tensor holding <paramref name="field"/>, or -1.</summary>
        private int Column(string field)
        {
            for (var f = 0; _columns is not null && f < _columns.Count; f++)
            {
                if (_columns[f].Name == field)
                {
                    return f;
                }
            }

            return -1;
        }
    }
}
