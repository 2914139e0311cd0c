namespace Strata;

/// <summary>What a column is for: learners, joins and validation read the role instead of guessing from names.</summary>
public enum FieldRole : byte
{
    /// <summary>An input to a model.</summary>
    Feature,
    /// <summary>The target a model learns.</summary>
    Label,
    /// <summary>A key that identifies an entity (customer, airport) for feature joins.</summary>
    EntityKey,
    /// <summary>The time at which the row's values became true; point-in-time joins read it.</summary>
    EventTime,
    /// <summary>A row identifier: carried along, never learned from.</summary>
    Id,
    /// <summary>Kept in the data but ignored by learning and validation.</summary>
    Ignore,
}

/// <summary>Names of <see cref="FieldRole"/> values as written in schema files.</summary>
public static class FieldRoles
{
    /// <summary>The snake_case name used in YAML and JSON.</summary>
    public static string Name(this FieldRole role) => role switch
    {
        FieldRole.Feature => "feature",
        FieldRole.Label => "label",
        FieldRole.EntityKey => "entity_key",
        FieldRole.EventTime => "event_time",
        FieldRole.Id => "id",
        FieldRole.Ignore => "ignore",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "unknown role"),
    };

    /// <summary>Parses a role name (snake_case, also accepting kebab-case and no separator).</summary>
    public static bool TryParse(string? name, out FieldRole role)
    {
        switch (name?.Trim().ToLowerInvariant().Replace("-", "_", StringComparison.Ordinal))
        {
            case "feature": role = FieldRole.Feature; return true;
            case "label" or "target": role = FieldRole.Label; return true;
            case "entity_key" or "entitykey" or "entity": role = FieldRole.EntityKey; return true;
            case "event_time" or "eventtime" or "timestamp": role = FieldRole.EventTime; return true;
            case "id": role = FieldRole.Id; return true;
            case "ignore": role = FieldRole.Ignore; return true;
            default: role = default; return false;
        }
    }
}
