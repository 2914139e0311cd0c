namespace Strata.Data.Text;

/// <summary>How one column is read in one pass: a declared type (values that do not fit are errors) or inference.</summary>
internal sealed class ColumnPlan
{
    public ColumnPlan(string name, Field? declared = null)
    {
        Name = name;
        Declared = declared;
        Pii = declared?.IsPii ?? false;
    }

    /// <summary>Column name as in the header or the JSON keys.</summary>
    public string Name { get; }

    /// <summary>The field given in an explicit schema, or null to infer the type.</summary>
    public Field? Declared { get; }

    /// <summary>Whether values must never be shown in messages.</summary>
    public bool Pii { get; }

    /// <summary>Where inference starts (a hint from chunks already seen; the result does not depend on it).</summary>
    public ValueKind StartKind { get; set; }

    /// <summary>When true the column's fields are scanned but not stored (re-reads that need other columns only).</summary>
    public bool Skip { get; set; }

    public ColumnPlan Clone() => new(Name, Declared) { StartKind = StartKind, Skip = Skip };
}
