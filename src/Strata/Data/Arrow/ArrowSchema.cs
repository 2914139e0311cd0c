using System.Text.Json;
using System.Text.Json.Serialization;
using static Strata.Data.Arrow.ArrowFormat;

namespace Strata.Data.Arrow;

/// <summary>How the values of one Arrow field are stored (the value type; dictionary encoding is described apart).</summary>
internal enum ArrowKind : byte
{
    Bool,
    Int,
    Float,
    Utf8,
    LargeUtf8,
    Timestamp,
    Date,
}

/// <summary>A supported Arrow field as read from a schema: its Strata field and how to decode its buffers.</summary>
internal sealed record ArrowColumn(Field Field, ArrowKind Kind, int BitWidth, bool Signed, short Unit)
{
    /// <summary>Dictionary id when the field is dictionary-encoded.</summary>
    public long? DictionaryId { get; init; }

    /// <summary>Bit width of the dictionary indices.</summary>
    public int IndexBitWidth { get; init; }

    /// <summary>Whether dictionary indices are signed.</summary>
    public bool IndexSigned { get; init; }
}

/// <summary>Converts between Strata schemas and Arrow Schema tables.</summary>
internal static class ArrowSchema
{
    /// <summary>Custom metadata key holding a field's <see cref="FieldRole"/> name (absent for features).</summary>
    public const string RoleKey = "strata:role";

    /// <summary>Custom metadata key holding a field's tags as a JSON array of strings (absent when there are none).</summary>
    public const string TagsKey = "strata:tags";

    /// <summary>The Arrow Schema table for a Strata schema; string field <c>i</c> uses dictionary id <c>i</c>.</summary>
    public static FlatTableBuilder Build(Schema schema)
    {
        var fields = new List<FlatTableBuilder>(schema.Count);
        for (var i = 0; i < schema.Count; i++)
        {
            fields.Add(BuildField(schema[i], i));
        }

        return new FlatTableBuilder()
            .Int16(SchemaSlot.Endianness, 0)
            .Tables(SchemaSlot.Fields, fields);
    }

    private static FlatTableBuilder BuildField(Field field, int index)
    {
        var (typeId, type) = field.Type switch
        {
            DataType.Bool => (TypeId.Bool, new FlatTableBuilder()),
            DataType.Int32 => (TypeId.Int, IntType(32)),
            DataType.Int64 => (TypeId.Int, IntType(64)),
            DataType.Float32 => (TypeId.FloatingPoint, new FlatTableBuilder().Int16(TypeSlot.FloatPrecision, Precision.Single)),
            DataType.Float64 => (TypeId.FloatingPoint, new FlatTableBuilder().Int16(TypeSlot.FloatPrecision, Precision.Double)),
            DataType.String => (TypeId.Utf8, new FlatTableBuilder()),
            DataType.Timestamp => (TypeId.Timestamp, new FlatTableBuilder()
                .Int16(TypeSlot.TimestampUnit, TimeUnit.Microsecond)
                .String(TypeSlot.TimestampTimezone, "UTC")),
            _ => throw new ArgumentOutOfRangeException(nameof(field), field.Type, "unknown data type"),
        };

        var result = new FlatTableBuilder()
            .String(FieldSlot.Name, field.Name)
            .Bool(FieldSlot.Nullable, field.Nullable)
            .Byte(FieldSlot.TypeType, typeId)
            .Table(FieldSlot.Type, type)
            .Tables(FieldSlot.Children, []);
        if (field.Type == DataType.String)
        {
            result.Table(FieldSlot.Dictionary, new FlatTableBuilder()
                .Int64(DictionarySlot.Id, index)
                .Table(DictionarySlot.IndexType, IntType(32))
                .Bool(DictionarySlot.IsOrdered, false));
        }

        var metadata = new List<FlatTableBuilder>();
        if (field.Role != FieldRole.Feature)
        {
            metadata.Add(KeyValue(RoleKey, field.Role.Name()));
        }

        if (field.Tags.Count > 0)
        {
            metadata.Add(KeyValue(TagsKey, JsonSerializer.Serialize(field.Tags.ToArray(), ArrowJsonContext.Default.StringArray)));
        }

        if (metadata.Count > 0)
        {
            result.Tables(FieldSlot.CustomMetadata, metadata);
        }

        return result;
    }

    private static FlatTableBuilder IntType(int bits) => new FlatTableBuilder().Int32(TypeSlot.IntBitWidth, bits).Bool(TypeSlot.IntIsSigned, true);

    private static FlatTableBuilder KeyValue(string key, string value) =>
        new FlatTableBuilder().String(KeyValueSlot.Key, key).String(KeyValueSlot.Value, value);

    /// <summary>Reads an Arrow Schema table; unsupported types and features are <see cref="ErrorCodes.DataUnsupported"/> errors naming the field.</summary>
    public static (Schema Schema, ArrowColumn[] Columns) Read(FlatTable schema, ArrowReadOptions options)
    {
        var buffer = schema.Buffer;
        if (schema.GetInt16(SchemaSlot.Endianness) != 0)
        {
            throw new DataFormatException(ErrorCodes.DataUnsupported, "big-endian Arrow data is not supported", buffer.Location(schema.Position));
        }

        var fields = schema.GetVector(SchemaSlot.Fields, 4);
        if (fields.Count > options.MaxColumns)
        {
            throw new DataFormatException(
                ErrorCodes.DataLimit, $"the schema has {fields.Count} fields, more than the limit of {options.MaxColumns}", buffer.Location(schema.Position));
        }

        var columns = new ArrowColumn[fields.Count];
        var dictionaryKinds = new Dictionary<long, ArrowKind>();
        for (var i = 0; i < columns.Length; i++)
        {
            var column = ReadField(fields.TableAt(i), i);
            if (column.DictionaryId is { } id)
            {
                // Two fields may share a dictionary, but then they must agree on its value type.
                if (dictionaryKinds.TryGetValue(id, out var kind) && kind != column.Kind)
                {
                    throw new DataFormatException(
                        ErrorCodes.DataMalformed, $"dictionary id {id} is used with two value types", buffer.Location(schema.Position).InColumn(column.Field.Name));
                }

                dictionaryKinds[id] = column.Kind;
            }

            columns[i] = column;
        }

        try
        {
            return (new Schema(columns.Select(c => c.Field)), columns);
        }
        catch (StrataException e)
        {
            throw new DataFormatException(ErrorCodes.SchemaInvalid, e.Message, buffer.Location(schema.Position), e);
        }
    }

    private static ArrowColumn ReadField(FlatTable field, int index)
    {
        var buffer = field.Buffer;
        var name = field.GetString(FieldSlot.Name);
        if (string.IsNullOrEmpty(name))
        {
            throw new DataFormatException(ErrorCodes.DataUnsupported, $"field {index} has no name", buffer.Location(field.Position));
        }

        var location = buffer.Location(field.Position).InColumn(name);
        var typeId = field.GetByte(FieldSlot.TypeType);
        var type = field.GetTable(FieldSlot.Type);
        var (dataType, kind, bits, signed, unit) = typeId switch
        {
            TypeId.Bool => (DataType.Bool, ArrowKind.Bool, 1, false, (short)0),
            TypeId.Int => IntField(type, location),
            TypeId.FloatingPoint => FloatField(type, location),
            TypeId.Utf8 => (DataType.String, ArrowKind.Utf8, 32, false, (short)0),
            TypeId.LargeUtf8 => (DataType.String, ArrowKind.LargeUtf8, 64, false, (short)0),
            TypeId.Timestamp => TimestampField(type, location),
            TypeId.Date => DateField(type, location),
            _ => throw Unsupported(location, $"type {TypeId.Name(typeId)} is not supported"),
        };

        if (field.GetVector(FieldSlot.Children, 4).Count != 0)
        {
            throw new DataFormatException(ErrorCodes.DataMalformed, $"a {TypeId.Name(typeId)} field has children", location);
        }

        var (role, tags) = ReadStrataMetadata(field.GetVector(FieldSlot.CustomMetadata, 4), location);
        var strataField = new Field(name, dataType, field.GetBool(FieldSlot.Nullable), role, tags);
        var column = new ArrowColumn(strataField, kind, bits, signed, unit);
        if (field.GetTable(FieldSlot.Dictionary) is not { } dictionary)
        {
            return column;
        }

        if (kind is not (ArrowKind.Utf8 or ArrowKind.LargeUtf8))
        {
            throw Unsupported(location, $"dictionary-encoded {TypeId.Name(typeId)} values are not supported (only strings)");
        }

        var (indexBits, indexSigned) = (32, true);
        if (dictionary.GetTable(DictionarySlot.IndexType) is { } indexType)
        {
            (indexBits, indexSigned) = (indexType.GetInt32(TypeSlot.IntBitWidth), indexType.GetBool(TypeSlot.IntIsSigned));
            if (indexBits is not (8 or 16 or 32 or 64))
            {
                throw new DataFormatException(ErrorCodes.DataMalformed, $"dictionary index width {indexBits} is not 8, 16, 32 or 64", location);
            }
        }

        return column with { DictionaryId = dictionary.GetInt64(DictionarySlot.Id), IndexBitWidth = indexBits, IndexSigned = indexSigned };
    }

    private static (DataType, ArrowKind, int, bool, short) IntField(FlatTable? type, DataLocation location)
    {
        var bits = type?.GetInt32(TypeSlot.IntBitWidth) ?? 0;
        var signed = type?.GetBool(TypeSlot.IntIsSigned) ?? false;
        var dataType = (bits, signed) switch
        {
            (8 or 16 or 32, true) or (8 or 16, false) => DataType.Int32,
            (64, true) or (32 or 64, false) => DataType.Int64,
            _ => throw new DataFormatException(ErrorCodes.DataMalformed, $"integer width {bits} is not 8, 16, 32 or 64", location),
        };
        return (dataType, ArrowKind.Int, bits, signed, 0);
    }

    private static (DataType, ArrowKind, int, bool, short) FloatField(FlatTable? type, DataLocation location) =>
        (type?.GetInt16(TypeSlot.FloatPrecision) ?? Precision.Half) switch
        {
            Precision.Half => (DataType.Float32, ArrowKind.Float, 16, true, 0),
            Precision.Single => (DataType.Float32, ArrowKind.Float, 32, true, 0),
            Precision.Double => (DataType.Float64, ArrowKind.Float, 64, true, 0),
            var p => throw new DataFormatException(ErrorCodes.DataMalformed, $"floating point precision {p} is unknown", location),
        };

    private static (DataType, ArrowKind, int, bool, short) TimestampField(FlatTable? type, DataLocation location)
    {
        // NOTE: Arrow stores instants as UTC whatever the zone says; a zone only affects display. Values without a zone
        // ("naive" wall-clock times) are read as UTC too, since Strata has no other notion of time.
        var unit = type?.GetInt16(TypeSlot.TimestampUnit) ?? TimeUnit.Second;
        if (unit is < TimeUnit.Second or > TimeUnit.Nanosecond)
        {
            throw new DataFormatException(ErrorCodes.DataMalformed, $"timestamp unit {unit} is unknown", location);
        }

        return (DataType.Timestamp, ArrowKind.Timestamp, 64, true, unit);
    }

    private static (DataType, ArrowKind, int, bool, short) DateField(FlatTable? type, DataLocation location) =>
        (type?.GetInt16(TypeSlot.DateUnit, DateUnit.Millisecond) ?? DateUnit.Millisecond) switch
        {
            DateUnit.Day => (DataType.Timestamp, ArrowKind.Date, 32, true, DateUnit.Day),
            DateUnit.Millisecond => (DataType.Timestamp, ArrowKind.Date, 64, true, DateUnit.Millisecond),
            var u => throw new DataFormatException(ErrorCodes.DataMalformed, $"date unit {u} is unknown", location),
        };

    private static (FieldRole Role, string[] Tags) ReadStrataMetadata(FlatVector metadata, DataLocation location)
    {
        var role = FieldRole.Feature;
        string[] tags = [];
        for (var i = 0; i < metadata.Count; i++)
        {
            var entry = metadata.TableAt(i);
            switch (entry.GetString(KeyValueSlot.Key))
            {
                case RoleKey:
                    var name = entry.GetString(KeyValueSlot.Value);
                    if (!FieldRoles.TryParse(name, out role))
                    {
                        // An unknown role is an error rather than a feature: a misread label would leak into training.
                        throw new DataFormatException(ErrorCodes.DataMalformed, $"'{RoleKey}' holds an unknown role '{name}'", location);
                    }

                    break;
                case TagsKey:
                    tags = ParseTags(entry.GetString(KeyValueSlot.Value), location);
                    break;
            }
        }

        return (role, tags);
    }

    private static string[] ParseTags(string? json, DataLocation location)
    {
        try
        {
            var tags = json is null ? [] : JsonSerializer.Deserialize(json, ArrowJsonContext.Default.StringArray) ?? [];
            if (tags.Contains(null))
            {
                throw new JsonException("null tag");
            }

            return tags;
        }
        catch (JsonException e)
        {
            throw new DataFormatException(ErrorCodes.DataMalformed, $"'{TagsKey}' is not a JSON array of strings", location, e);
        }
    }

    private static DataFormatException Unsupported(DataLocation location, string detail) => new(ErrorCodes.DataUnsupported, detail, location);
}

/// <summary>Source-generated JSON for the tags metadata (no reflection).</summary>
[JsonSerializable(typeof(string[]))]
internal sealed partial class ArrowJsonContext : JsonSerializerContext;
