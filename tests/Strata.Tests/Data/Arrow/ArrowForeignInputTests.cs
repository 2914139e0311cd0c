using static Strata.Data.Arrow.ArrowFormat;
using static Strata.Tests.Data.Arrow.RawArrowFile;

namespace Strata.Tests.Data.Arrow;

/// <summary>Files as other writers (pyarrow, arrow-js, arrow-rs) make them: types and encodings Strata never writes.</summary>
public sealed class ArrowForeignInputTests
{
    [Fact]
    public async Task Narrow_and_unsigned_integers_widen_to_int32_and_int64()
    {
        var valid = Validity(true, true, false);
        var file = new RawArrowFile()
            .Field("i8", TypeId.Int, Int(8, true))
            .Field("u8", TypeId.Int, Int(8, false))
            .Field("i16", TypeId.Int, Int(16, true))
            .Field("u16", TypeId.Int, Int(16, false))
            .Field("u32", TypeId.Int, Int(32, false))
            .Field("u64", TypeId.Int, Int(64, false))
            .Batch(3, [(3, 1), (3, 1), (3, 1), (3, 1), (3, 1), (3, 1)],
            [
                valid, Bytes<sbyte>(-128, 127, 5),
                valid, Bytes<byte>(0, 255, 5),
                valid, Bytes<short>(short.MinValue, short.MaxValue, 5),
                valid, Bytes<ushort>(0, ushort.MaxValue, 5),
                valid, Bytes(0u, uint.MaxValue, 5u),
                valid, Bytes(0ul, (ulong)long.MaxValue, ulong.MaxValue),
            ]);

        var table = await file.ReadAsync();

        Assert.Equal(
            [DataType.Int32, DataType.Int32, DataType.Int32, DataType.Int32, DataType.Int64, DataType.Int64],
            table.Schema.Select(f => f.Type));
        Assert.Equal([-128, 127, 0], table.GetColumn<int>("i8").Values.ToArray());
        Assert.Equal([0, 255, 0], table.GetColumn<int>("u8").Values.ToArray());
        Assert.Equal([short.MinValue, short.MaxValue, 0], table.GetColumn<int>("i16").Values.ToArray());
        Assert.Equal([0, ushort.MaxValue, 0], table.GetColumn<int>("u16").Values.ToArray());
        Assert.Equal([0L, uint.MaxValue, 0L], table.GetColumn<long>("u32").Values.ToArray());
        Assert.Equal([0L, long.MaxValue, 0L], table.GetColumn<long>("u64").Values.ToArray());
        Assert.All(table.Columns, c => Assert.True(c.IsNull(2)));
    }

    [Fact]
    public async Task Uint64_beyond_int64_is_an_out_of_range_error_naming_the_field()
    {
        var file = new RawArrowFile()
            .Field("big", TypeId.Int, Int(64, false))
            .Batch(2, [(2, 0)], [null, Bytes(1ul, ulong.MaxValue)]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataOutOfRange, error.Code);
        Assert.Equal("big", error.Location.Column);
        Assert.Contains("18446744073709551615", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Half_floats_widen_to_float32()
    {
        var file = new RawArrowFile()
            .Field("h", TypeId.FloatingPoint, Float(Precision.Half))
            .Batch(3, [(3, 0)], [null, Bytes((Half)1.5f, (Half)(-2f), Half.PositiveInfinity)]);

        var table = await file.ReadAsync();

        Assert.Equal([1.5f, -2f, float.PositiveInfinity], table.GetColumn<float>("h").Values.ToArray());
    }

    [Fact]
    public async Task Plain_Utf8_and_LargeUtf8_become_strings_with_unique_dictionaries()
    {
        string?[] values = ["b", "", null, "b", "Zürich", ""];
        var (offsets, data) = Utf8(values);
        var longOffsets = Bytes(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(offsets).ToArray().Select(o => (long)o).ToArray());
        var valid = Validity(values.Select(v => v is not null).ToArray());
        var file = new RawArrowFile()
            .Field("plain", TypeId.Utf8)
            .Field("large", TypeId.LargeUtf8)
            .Batch(6, [(6, 1), (6, 1)], [valid, offsets, data, valid, longOffsets, data]);

        var table = await file.ReadAsync();

        foreach (var name in new[] { "plain", "large" })
        {
            var column = table.GetStringColumn(name);
            Assert.Equal(values, Enumerable.Range(0, 6).Select(i => column[i]));
            Assert.Equal(3, column.Dictionary.Count);
        }

        ArrowTestData.AssertNullSlotsAreZero(table);
    }

    [Theory]
    [InlineData(8, true)]
    [InlineData(8, false)]
    [InlineData(16, true)]
    [InlineData(16, false)]
    [InlineData(32, false)]
    [InlineData(64, true)]
    [InlineData(64, false)]
    public async Task Dictionary_indices_of_any_integer_type_are_read(int bits, bool signed)
    {
        byte[] indices = bits switch
        {
            8 => Bytes<byte>(2, 0, 1, 9),
            16 => Bytes<ushort>(2, 0, 1, 9),
            32 => Bytes<uint>(2, 0, 1, 9),
            _ => Bytes<ulong>(2, 0, 1, 9),
        };
        var file = new RawArrowFile()
            .Field("code", TypeId.Utf8, dictionary: (3, bits, signed))
            .Dictionary(3, false, "x", "y", "z")
            .Batch(4, [(4, 1)], [Validity(true, true, true, false), indices]);

        var table = await file.ReadAsync();

        var column = table.GetStringColumn("code");
        Assert.Equal(["z", "x", "y", null], Enumerable.Range(0, 4).Select(i => column[i]));
        Assert.Equal(0, column.Codes[3]);
    }

    [Fact]
    public async Task Duplicate_dictionary_values_are_merged()
    {
        var file = new RawArrowFile()
            .Field("city", TypeId.Utf8, dictionary: (0, 32, true))
            .Dictionary(0, false, "a", "b", "a", "b")
            .Batch(4, [(4, 0)], [null, Bytes(0, 1, 2, 3)]);

        var table = await file.ReadAsync();

        var column = table.GetStringColumn("city");
        Assert.Equal(["a", "b", "a", "b"], Enumerable.Range(0, 4).Select(i => column[i]));
        Assert.Equal(2, column.Dictionary.Count);
        Assert.Equal([0, 1, 0, 1], column.Codes.ToArray());
    }

    [Fact]
    public async Task Null_dictionary_entry_makes_its_rows_null()
    {
        var file = new RawArrowFile()
            .Field("city", TypeId.Utf8, dictionary: (0, 32, true))
            .Dictionary(0, false, "a", null, "b")
            .Batch(3, [(3, 0)], [null, Bytes(1, 2, 0)]);

        var table = await file.ReadAsync();

        var column = table.GetStringColumn("city");
        Assert.Equal([null, "b", "a"], Enumerable.Range(0, 3).Select(i => column[i]));
        Assert.Equal(1, column.NullCount);
        ArrowTestData.AssertNullSlotsAreZero(table);
    }

    [Fact]
    public async Task Delta_dictionaries_extend_the_dictionary_in_files_and_streams()
    {
        var file = new RawArrowFile()
            .Field("city", TypeId.Utf8, dictionary: (0, 16, true))
            .Dictionary(0, false, "a", "b")
            .Batch(2, [(2, 0)], [null, Bytes<short>(1, 0)])
            .Dictionary(0, true, "c", "a")
            .Batch(3, [(3, 0)], [null, Bytes<short>(2, 3, 1)]);

        foreach (var table in new[] { await file.ReadAsync(), await file.ReadStreamAsync() })
        {
            var column = table.GetStringColumn("city");
            Assert.Equal(["b", "a", "c", "a", "b"], Enumerable.Range(0, 5).Select(i => column[i]));
            Assert.Equal(3, column.Dictionary.Count);
        }
    }

    [Fact]
    public async Task Streams_may_replace_a_dictionary_but_files_may_not()
    {
        var file = new RawArrowFile()
            .Field("city", TypeId.Utf8, dictionary: (0, 32, true))
            .Dictionary(0, false, "a", "b")
            .Batch(2, [(2, 0)], [null, Bytes(0, 1)])
            .Dictionary(0, false, "x")
            .Batch(1, [(1, 0)], [null, Bytes(0)]);

        var table = await file.ReadStreamAsync();
        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        var column = table.GetStringColumn("city");
        Assert.Equal(["a", "b", "x"], Enumerable.Range(0, 3).Select(i => column[i]));
        Assert.Equal(ErrorCodes.DataMalformed, error.Code);
        Assert.Contains("replaced", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Timestamps_of_every_unit_and_zone_become_UTC_microseconds()
    {
        var file = new RawArrowFile()
            .Field("s", TypeId.Timestamp, TimestampType(TimeUnit.Second, "America/New_York"))
            .Field("ms", TypeId.Timestamp, TimestampType(TimeUnit.Millisecond, "+07:30"))
            .Field("us", TypeId.Timestamp, TimestampType(TimeUnit.Microsecond, null))
            .Field("ns", TypeId.Timestamp, TimestampType(TimeUnit.Nanosecond, "UTC"))
            .Batch(3, [(3, 0), (3, 0), (3, 0), (3, 0)],
            [
                null, Bytes(-1L, 0L, 1_700_000_000L),
                null, Bytes(-1L, 0L, 1_700_000_000_123L),
                null, Bytes(-1L, 0L, 1_700_000_000_123_456L),
                null, Bytes(-1L, 999L, 1_700_000_000_123_456_789L),
            ]);

        var table = await file.ReadAsync();

        Assert.All(table.Schema, f => Assert.Equal(DataType.Timestamp, f.Type));
        Assert.Equal([-1_000_000L, 0L, 1_700_000_000_000_000L], table.GetColumn<long>("s").Values.ToArray());
        Assert.Equal([-1_000L, 0L, 1_700_000_000_123_000L], table.GetColumn<long>("ms").Values.ToArray());
        Assert.Equal([-1L, 0L, 1_700_000_000_123_456L], table.GetColumn<long>("us").Values.ToArray());

        // Nanoseconds round towards the past, so -1 ns is the microsecond before the epoch.
        Assert.Equal([-1L, 0L, 1_700_000_000_123_456L], table.GetColumn<long>("ns").Values.ToArray());
    }

    [Fact]
    public async Task Dates_become_midnight_UTC()
    {
        var file = new RawArrowFile()
            .Field("d32", TypeId.Date, Date(DateUnit.Day))
            .Field("d64", TypeId.Date, Date(DateUnit.Millisecond))
            .Batch(2, [(2, 0), (2, 0)], [null, Bytes(-1, 19_000), null, Bytes(-86_400_000L, 19_000L * 86_400_000)]);

        var table = await file.ReadAsync();

        var expected = new[] { -Timestamp.MicrosPerDay, 19_000 * Timestamp.MicrosPerDay };
        Assert.Equal(expected, table.GetColumn<long>("d32").Values.ToArray());
        Assert.Equal(expected, table.GetColumn<long>("d64").Values.ToArray());
    }

    [Fact]
    public async Task Timestamps_outside_years_1_to_9999_are_out_of_range()
    {
        var file = new RawArrowFile()
            .Field("at", TypeId.Timestamp, TimestampType(TimeUnit.Second, null))
            .Batch(2, [(2, 0)], [null, Bytes(0L, 300_000_000_000L)]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataOutOfRange, error.Code);
        Assert.Equal("at", error.Location.Column);
    }

    [Theory]
    [InlineData(TypeId.Null)]
    [InlineData(TypeId.Binary)]
    [InlineData(TypeId.Decimal)]
    [InlineData(TypeId.Time)]
    [InlineData(TypeId.Interval)]
    [InlineData(TypeId.List)]
    [InlineData(TypeId.Struct)]
    [InlineData(TypeId.Map)]
    [InlineData(TypeId.Duration)]
    [InlineData(TypeId.Utf8View)]
    [InlineData(TypeId.LargeListView + 1)]
    public async Task Unsupported_types_are_refused_naming_the_field(byte typeId)
    {
        var file = new RawArrowFile().Field("ok", TypeId.Bool).Field("odd", typeId);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataUnsupported, error.Code);
        Assert.Equal("odd", error.Location.Column);
        Assert.Contains("odd", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dictionary_encoded_numbers_are_refused()
    {
        var file = new RawArrowFile().Field("n", TypeId.Int, Int(64, true), dictionary: (0, 32, true));

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataUnsupported, error.Code);
        Assert.Equal("n", error.Location.Column);
    }

    [Theory]
    [InlineData(0, "LZ4_FRAME")]
    [InlineData(1, "ZSTD")]
    public async Task Compressed_bodies_are_refused(byte codec, string name)
    {
        var file = new RawArrowFile()
            .Field("x", TypeId.Int, Int(32, true))
            .Batch(1, [(1, 0)], [null, Bytes(1)], compression: new Strata.Data.Arrow.FlatTableBuilder().Byte(0, codec));

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataUnsupported, error.Code);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Big_endian_files_are_refused()
    {
        var file = new RawArrowFile { BigEndian = true }.Field("x", TypeId.Int, Int(32, true));

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataUnsupported, error.Code);
    }

    [Fact]
    public async Task Unknown_strata_role_is_an_error_not_a_silent_feature()
    {
        var file = new RawArrowFile().Field("y", TypeId.Bool, metadata: ("strata:role", "oracle"));

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataMalformed, error.Code);
        Assert.Equal("y", error.Location.Column);
    }

    [Fact]
    public async Task Other_metadata_is_ignored()
    {
        var file = new RawArrowFile()
            .Field("x", TypeId.Bool, metadata: [("pandas", "{}"), ("strata:role", "label"), ("strata:tags", "[\"a\",\"b c\"]")])
            .Batch(1, [(1, 0)], [null, Validity(true)]);

        var table = await file.ReadAsync();

        Assert.Equal(new Field("x", DataType.Bool, role: FieldRole.Label, tags: ["a", "b c"]), table.Schema[0]);
        Assert.True(table.GetColumn<bool>("x")[0]);
    }
}
