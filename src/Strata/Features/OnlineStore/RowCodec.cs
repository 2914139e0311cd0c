namespace Strata.Features.OnlineStore;

/// <summary>Record kinds of the log and snapshot files.</summary>
internal enum RecordKind : byte
{
    /// <summary>One acknowledged write batch (log).</summary>
    Batch = 1,
    /// <summary>First record of a snapshot: the sequence it covers.</summary>
    SnapshotStart = 2,
    /// <summary>A chunk of rows of one view, each with its own sequence (snapshot).</summary>
    SnapshotRows = 3,
    /// <summary>Last record of a snapshot: the row count, so a truncated snapshot is never taken for a whole one.</summary>
    SnapshotEnd = 4,
    /// <summary>One acknowledged write of several views (log): a view count, then each view's rows as in a batch.</summary>
    Group = 5,
}

/// <summary>
/// Payload layout: kind, sequence, view name, view fingerprint, row count, then per row [row sequence (snapshot only)],
/// key bytes, event time, created time and one cell per feature (strings length-prefixed, −1 for null; other types a
/// validity byte and 8 bytes). A group record has a view count after the sequence, then per view its name, fingerprint,
/// row count and rows, as a batch's.
/// </summary>
internal static class RowCodec
{
    public static void WriteRowsHeader(PayloadWriter writer, RecordKind kind, long sequence, FeatureViewLayout view, int count)
    {
        writer.WriteByte((byte)kind);
        writer.WriteInt64(sequence);
        WriteViewHeader(writer, view, count);
    }

    public static void WriteGroupHeader(PayloadWriter writer, long sequence, int views)
    {
        writer.WriteByte((byte)RecordKind.Group);
        writer.WriteInt64(sequence);
        writer.WriteInt32(views);
    }

    public static void WriteViewHeader(PayloadWriter writer, FeatureViewLayout view, int count)
    {
        writer.WriteString(view.Name);
        writer.WriteUInt32(view.Fingerprint);
        writer.WriteInt32(count);
    }

    public static void WriteRow(PayloadWriter writer, RecordKind kind, FeatureViewLayout view, ReadOnlySpan<byte> key, EntityRow row)
    {
        if (kind == RecordKind.SnapshotRows)
        {
            writer.WriteInt64(row.Sequence);
        }

        writer.WriteBytes(key);
        writer.WriteInt64(row.EventTimestamp);
        writer.WriteInt64(row.CreatedTimestamp);
        var features = view.Features;
        for (var f = 0; f < features.Count; f++)
        {
            var cell = row.Cell(f);
            if (features[f].Type == DataType.String)
            {
                writer.WriteString(cell.Valid ? cell.Text : null);
            }
            else
            {
                writer.WriteByte(cell.Valid ? (byte)1 : (byte)0);
                writer.WriteInt64(cell.Bits);
            }
        }
    }

    /// <summary>Decodes a rows record (batch or snapshot chunk) and hands each row to <paramref name="apply"/>.</summary>
    public static void ReadRows(
        ref PayloadReader reader,
        RecordKind kind,
        string source,
        IReadOnlyDictionary<string, ViewIndex> views,
        long sequence,
        Action<ViewIndex, byte[], EntityRow> apply)
    {
        var name = reader.ReadString() ?? throw LogRecords.Corrupt(source, 0, "a record without a view name");
        if (!views.TryGetValue(name, out var index))
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"online store file '{source}' holds rows of feature view '{name}', which is not registered; open the store with that view");
        }

        var view = index.View;
        var fingerprint = reader.ReadUInt32();
        if (fingerprint != view.Fingerprint)
        {
            throw new StrataException(ErrorCodes.SchemaInvalid, $"online store file '{source}' holds rows of feature view '{name}' written with another layout than {view.Schema}");
        }

        var count = reader.ReadInt32();
        var features = view.Features;
        for (var r = 0; r < count; r++)
        {
            var rowSequence = kind == RecordKind.SnapshotRows ? reader.ReadInt64() : sequence;
            var key = reader.ReadBytes().ToArray();
            var eventTimestamp = reader.ReadInt64();
            var createdTimestamp = reader.ReadInt64();
            var cells = new FeatureCell[features.Count];
            for (var f = 0; f < cells.Length; f++)
            {
                if (features[f].Type == DataType.String)
                {
                    var text = reader.ReadString();
                    cells[f] = new FeatureCell(0, text, text is not null);
                }
                else
                {
                    var valid = reader.ReadByte() != 0;
                    cells[f] = new FeatureCell(reader.ReadInt64(), null, valid);
                }
            }

            apply(index, key, new EntityRow(eventTimestamp, createdTimestamp, rowSequence, cells));
        }
    }
}
