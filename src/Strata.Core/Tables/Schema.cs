using System.Collections;

namespace Strata;

/// <summary>An ordered list of uniquely named <see cref="Field"/>s.</summary>
public sealed class Schema : IReadOnlyList<Field>, IEquatable<Schema>
{
    private readonly Field[] _fields;
    private readonly Dictionary<string, int> _index;

    /// <summary>Creates a schema; names must be unique.</summary>
    public Schema(IEnumerable<Field> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        _fields = fields.ToArray();
        _index = new Dictionary<string, int>(_fields.Length, StringComparer.Ordinal);
        for (var i = 0; i < _fields.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(_fields[i], nameof(fields));
            if (!_index.TryAdd(_fields[i].Name, i))
            {
                throw new StrataException(ErrorCodes.SchemaInvalid, $"duplicate field name '{_fields[i].Name}'");
            }
        }
    }

    /// <summary>Creates a schema from fields.</summary>
    public Schema(params Field[] fields)
        : this((IEnumerable<Field>)fields)
    {
    }

    /// <summary>A schema with no fields.</summary>
    public static Schema Empty { get; } = new(Array.Empty<Field>());

    /// <inheritdoc />
    public int Count => _fields.Length;

    /// <inheritdoc />
    public Field this[int index] => _fields[index];

    /// <summary>The field with this name.</summary>
    /// <exception cref="StrataException">No such field.</exception>
    public Field this[string name] => _fields[IndexOf(name)];

    /// <summary>The field names in order.</summary>
    public IEnumerable<string> Names => _fields.Select(f => f.Name);

    /// <summary>The position of a field, or -1.</summary>
    public int TryIndexOf(string name) => _index.TryGetValue(name, out var i) ? i : -1;

    /// <summary>The position of a field.</summary>
    /// <exception cref="StrataException">No such field (the message lists the known ones).</exception>
    public int IndexOf(string name) =>
        _index.TryGetValue(name, out var i)
            ? i
            : throw new StrataException(ErrorCodes.NotFound, $"no column named '{name}' (columns: {string.Join(", ", Names)})");

    /// <summary>True if a field has this name.</summary>
    public bool Contains(string name) => _index.ContainsKey(name);

    /// <summary>The fields with a given role.</summary>
    public IEnumerable<Field> WithRole(FieldRole role) => _fields.Where(f => f.Role == role);

    /// <summary>True when both schemas have the same names and types in the same order (roles, tags and constraints aside).</summary>
    public bool HasSameLayout(Schema other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Count != Count)
        {
            return false;
        }

        for (var i = 0; i < _fields.Length; i++)
        {
            if (_fields[i].Name != other[i].Name || _fields[i].Type != other[i].Type)
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public IEnumerator<Field> GetEnumerator() => ((IEnumerable<Field>)_fields).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(Schema? other) => other is not null && _fields.AsSpan().SequenceEqual(other._fields);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Schema);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (var f in _fields)
        {
            hash.Add(f);
        }

        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() => "(" + string.Join(", ", _fields.Select(f => f.ToString())) + ")";
}
