using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Strata.Data.Profiling;

/// <summary>
/// The profile of a table: its row count and one mergeable <see cref="ColumnProfile"/> per column, in schema order.
/// Immutable. Saves to and loads from JSON (<see cref="FormatVersion"/>) with the sketches' state, so a loaded profile
/// still merges and answers quantiles.
/// </summary>
public sealed partial class TableProfile
{
    private readonly ColumnProfile[] _columns;
    private readonly Dictionary<string, int> _index;
    private string? _fingerprint;

    internal TableProfile(long rowCount, ColumnProfile[] columns)
    {
        RowCount = rowCount;
        _columns = columns;
        _index = new Dictionary<string, int>(columns.Length, StringComparer.Ordinal);
        for (var i = 0; i < columns.Length; i++)
        {
            if (!_index.TryAdd(columns[i].Name, i))
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"a profile cannot hold two columns named '{columns[i].Name}'");
            }
        }
    }

    /// <summary>Rows profiled.</summary>
    public long RowCount { get; }

    /// <summary>Column profiles in schema order.</summary>
    public IReadOnlyList<ColumnProfile> Columns => _columns;

    /// <summary>The profile of the column with this name.</summary>
    /// <exception cref="StrataException">No such column (<see cref="ErrorCodes.NotFound"/>).</exception>
    public ColumnProfile this[string name] =>
        TryGetColumn(name, out var column)
            ? column
            : throw new StrataException(ErrorCodes.NotFound, $"the profile has no column named '{name}' (columns: {string.Join(", ", _columns.Select(c => c.Name))})");

    /// <summary>
    /// A digest of the column names and types in order (<c>sha256:…</c>): equal fingerprints mean profiles that can be
    /// merged and compared column by column.
    /// </summary>
    public string SchemaFingerprint => _fingerprint ??= ComputeFingerprint(_columns);

    /// <summary>The profile of the column with this name, if there is one.</summary>
    public bool TryGetColumn(string name, [NotNullWhen(true)] out ColumnProfile? column)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_index.TryGetValue(name, out var i))
        {
            column = _columns[i];
            return true;
        }

        column = null;
        return false;
    }

    /// <summary>
    /// The profile of this table's rows followed by <paramref name="other"/>'s: agrees with the profile of the union
    /// within each sketch's error bound. A column is PII in the result if it is in either.
    /// </summary>
    /// <exception cref="StrataException">The profiles have different column names or types (<see cref="ErrorCodes.SchemaInvalid"/>),
    /// or were made with different sketch options (<see cref="ErrorCodes.ArgumentInvalid"/>).</exception>
    public TableProfile Merge(TableProfile other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other._columns.Length != _columns.Length || !_columns.Zip(other._columns).All(p => p.First.Name == p.Second.Name && p.First.Type == p.Second.Type))
        {
            throw new StrataException(
                ErrorCodes.SchemaInvalid, $"cannot merge a profile of ({Describe(other._columns)}) into a profile of ({Describe(_columns)})");
        }

        var merged = new ColumnProfile[_columns.Length];
        for (var i = 0; i < merged.Length; i++)
        {
            merged[i] = _columns[i].Merge(other._columns[i]);
        }

        return new TableProfile(checked(RowCount + other.RowCount), merged);
    }

    /// <inheritdoc />
    public override string ToString() => $"TableProfile({RowCount} rows: {Describe(_columns)})";

    private static string Describe(IEnumerable<ColumnProfile> columns) => string.Join(", ", columns.Select(c => $"{c.Name}: {c.Type.Name()}"));

    private static string ComputeFingerprint(IEnumerable<ColumnProfile> columns)
    {
        var text = new StringBuilder();
        foreach (var column in columns)
        {
            text.Append(column.Name).Append('\0').Append(column.Type.Name()).Append('\n');
        }

        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
