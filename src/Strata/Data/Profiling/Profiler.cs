namespace Strata.Data.Profiling;

/// <summary>Profiles whole tables; see <see cref="ProfileBuilder"/> for tables that arrive in batches.</summary>
public static class Profiler
{
    /// <summary>
    /// Profiles every column of <paramref name="table"/> using all cores (unless the options say otherwise); the result
    /// does not depend on the thread count.
    /// </summary>
    public static TableProfile Profile(Table table, ProfileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        var builder = new ProfileBuilder(table.Schema, options);
        builder.Add(table);
        return builder.Build();
    }
}
