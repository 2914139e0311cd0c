namespace Strata.Serving;

/// <summary>
/// A request whose fields do not fit its endpoint: every problem at once (entity keys and request fields the feature
/// service needs, the model's missing, extra and mistyped fields), so a caller fixes them in one round trip. The server
/// lists <see cref="Problems"/> as the problem document's <c>errors</c>.
/// </summary>
public sealed class InputProblemsException : StrataException
{
    /// <summary>Creates the error; the message names the endpoint or model and joins the problems.</summary>
    public InputProblemsException(string message, IReadOnlyList<string> problems)
        : base(ErrorCodes.SchemaInvalid, message)
    {
        Problems = problems;
    }

    /// <summary>One entry per field that does not fit, each naming the field.</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>
    /// Set while only the enrichment was checked: the features the service would have added, which the model check that
    /// follows counts as present.
    /// </summary>
    internal IReadOnlyList<string>? Supplied { get; init; }

    /// <summary>Set while only the enrichment was checked: the request fields it found missing or mistyped.</summary>
    internal IReadOnlyList<string>? Reported { get; init; }
}

// Combining the enrichment's problems with the model's, kept beside the request path rather than in it: only a request
// that already failed comes here.
public sealed partial class ServingRuntime
{
    /// <summary>The problems of the fields a feature service reads; <paramref name="supplied"/> are the features it adds.</summary>
    private static InputProblemsException EnrichmentProblems(List<(string Field, string Problem)> problems, IEnumerable<string> supplied) =>
        new("the request cannot be enriched: " + string.Join("; ", problems.Select(p => p.Problem)), [.. problems.Select(p => p.Problem)])
        {
            Supplied = [.. supplied.Distinct(StringComparer.Ordinal)],
            Reported = [.. problems.Select(p => p.Field)],
        };

    /// <summary>
    /// Adds to the enrichment's problems those the model would find in the same request: the features the service would
    /// have added count as present (unknown values), so only the caller's own fields are reported.
    /// </summary>
    private static InputProblemsException WithModelProblems(InputProblemsException enrichment, EndpointState state, PredictionInput input, HashSet<string> allowed, PredictionRequest request)
    {
        var columns = new Dictionary<string, InputColumn>(input.Columns, StringComparer.Ordinal);
        foreach (var name in enrichment.Supplied ?? [])
        {
            columns.TryAdd(name, InputColumn.OfNulls()); // a request field wins over the stored value, as in enrichment
            allowed.Add(name);
        }

        // A field the enrichment reported (an entity key the model also reads) is not reported a second time by the model.
        foreach (var name in enrichment.Reported ?? [])
        {
            columns[name] = InputColumn.OfNulls();
        }

        var placeholder = new PredictionInput(input.Rows, columns);
        LoadedModel model;
        try
        {
            (model, _, _) = Route(state, placeholder, request);
        }
        catch (StrataException)
        {
            return enrichment; // a version the endpoint does not serve: nothing to check the fields against
        }

        var problems = enrichment.Problems.Concat(model.Check(placeholder, allowed, request.Naming)).ToList();
        return new InputProblemsException(
            $"the request does not fit {request.Naming.Endpoint(state.Deployment.Name, model.Name, model.Version)}: {string.Join("; ", problems)}", problems);
    }
}
