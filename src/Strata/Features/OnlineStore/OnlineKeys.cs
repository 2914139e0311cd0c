namespace Strata.Features.OnlineStore;

/// <summary>
/// The checks every online store backend makes on a read's keys, shared so both report the same errors for the same input.
/// </summary>
internal static class OnlineKeys
{
    /// <summary>Refuses a key part of the wrong kind (string for an integer key or vice versa), text with a NUL, or a partial entity.</summary>
    public static void Check(FeatureViewLayout view, ReadOnlySpan<EntityKeyPart> keys)
    {
        var joinKeys = view.JoinKeys;
        var arity = joinKeys.Count;
        if (keys.Length % arity != 0)
        {
            throw new StrataException(
                ErrorCodes.ArgumentInvalid,
                $"feature view '{view.Name}' has {arity} join key(s) ({string.Join(", ", joinKeys.Select(k => k.Name))}); {keys.Length} key part(s) is not a whole number of entities");
        }

        for (var i = 0; i < keys.Length; i++)
        {
            var field = joinKeys[i % arity];
            if ((field.Type == DataType.String) != keys[i].IsText)
            {
                throw new StrataException(
                    ErrorCodes.ArgumentInvalid,
                    $"feature view '{view.Name}': join key '{field.Name}' is {field.Type.Name()} but entity {i / arity} gives {(keys[i].IsText ? "a string" : "an integer")} ({keys[i]})");
            }

            if (FeatureText.HasNul(keys[i].Text))
            {
                throw FeatureText.Refused($"feature view '{view.Name}': join key '{field.Name}' of entity {i / arity}");
            }
        }
    }

    public static StrataException ShortResults(FeatureViewLayout view, int features, int keyParts, int results) =>
        new(ErrorCodes.ArgumentInvalid, $"read of feature view '{view.Name}': {keyParts / view.JoinKeys.Count} entities × {features} features need {keyParts / view.JoinKeys.Count * features} results but the buffer holds {results}");
}
