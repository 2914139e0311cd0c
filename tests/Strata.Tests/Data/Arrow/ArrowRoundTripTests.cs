using Strata.Data.Arrow;
using Strata.Testing;
using static Strata.Data.Arrow.ArrowFormat;

namespace Strata.Tests.Data.Arrow;

public sealed class ArrowRoundTripTests
{
    [Fact]
    public async Task Round_trip_keeps_every_type_and_null()
    {
        var table = ArrowTestData.EveryType();

        var read = await ArrowTestData.ReadAsync(await ArrowTestData.WriteAsync(table));

        ArrowTestData.AssertSame(table, read);
        ArrowTestData.AssertNullSlotsAreZero(read);
    }

    [Fact]
    public async Task File_written_through_DurableFile_reads_back()
    {
        using var folder = new TempFolder();
        var path = folder.File("every.arrow");
        var table = ArrowTestData.EveryType();

        await ArrowFile.WriteAsync(table, path);
        var read = await ArrowFile.ReadTableAsync(path);

        ArrowTestData.AssertSame(table, read);
        Assert.True(ArrowFile.IsArrowFile(File.ReadAllBytes(path).AsSpan(0, 8)));
        Assert.Equal([Path.GetFileName(path)], Directory.GetFiles(folder.Path).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(0, 200)]
    [InlineData(3, 50)]
    [InlineData(13, 187)]
    [InlineData(63, 1)]
    public async Task Slices_with_unaligned_offsets_round_trip(int offset, int length)
    {
        var table = Generated(200, seed: offset);
        var slice = table.Slice(offset, length);

        var read = await ArrowTestData.ReadAsync(await ArrowTestData.WriteAsync(slice));

        ArrowTestData.AssertSame(slice, read);
        ArrowTestData.AssertNullSlotsAreZero(read);
    }

    [Fact]
    public async Task Slice_of_a_slice_round_trips_in_batches_that_start_mid_byte()
    {
        var slice = Generated(300, seed: 5).Slice(7, 280).Slice(3, 250);

        var file = await ArrowTestData.WriteAsync(slice, new ArrowWriteOptions { MaxRowsPerBatch = 13 });
        var read = await ArrowTestData.ReadAsync(file);

        ArrowTestData.AssertSame(slice, read);
    }

    [Fact]
    public async Task Empty_table_round_trips_with_its_schema()
    {
        var table = Table.Empty(ArrowTestData.EveryType().Schema);

        var file = await ArrowTestData.WriteAsync(table);
        await using var reader = await ArrowFileReader.OpenAsync(new MemoryStream(file));
        var read = await reader.ReadTableAsync();

        Assert.Equal(1, reader.RecordBatchCount);
        Assert.Equal(0, read.RowCount);
        Assert.Equal(table.Schema, read.Schema);
    }

    [Fact]
    public async Task File_without_batches_reads_as_an_empty_table()
    {
        var schema = ArrowTestData.EveryType().Schema;

        var file = await ArrowTestData.WriteAsync(schema, options: null);
        await using var reader = await ArrowFileReader.OpenAsync(new MemoryStream(file));

        Assert.Equal(0, reader.RecordBatchCount);
        Assert.Equal(schema, (await reader.ReadTableAsync()).Schema);
    }

    [Fact]
    public async Task Table_without_columns_round_trips()
    {
        var table = new Table(Schema.Empty, []);

        var read = await ArrowTestData.ReadAsync(await ArrowTestData.WriteAsync(table));

        Assert.Equal(0, read.ColumnCount);
        Assert.Equal(0, read.RowCount);
    }

    [Fact]
    public async Task Big_table_is_written_in_batches_of_at_most_MaxRowsPerBatch()
    {
        var table = Generated(50, seed: 1);

        var file = await ArrowTestData.WriteAsync(table, new ArrowWriteOptions { MaxRowsPerBatch = 7 });
        await using var reader = await ArrowFileReader.OpenAsync(new MemoryStream(file));
        var sizes = new List<int>();
        await foreach (var batch in reader.ReadBatchesAsync())
        {
            sizes.Add(batch.RowCount);
        }

        Assert.Equal([7, 7, 7, 7, 7, 7, 7, 1], sizes);
        ArrowTestData.AssertSame(table.Slice(42, 7), await reader.ReadBatchAsync(6));
        ArrowTestData.AssertSame(table, await reader.ReadTableAsync());
    }

    [Fact]
    public async Task Growing_dictionaries_are_written_as_delta_batches()
    {
        var schema = new Schema(new Field("city", DataType.String), new Field("n", DataType.Int32));
        Table Batch(params string?[] cities) => new(schema, [Columns.String(cities), Columns.Int32(cities.Select((_, i) => (int?)i).ToArray())]);
        var batches = new[]
        {
            Batch("a", "b", null),
            Batch("b", "c"),
            Batch(null, null),
            Batch("c", "a", "d", "é", ""),
        };

        var file = await ArrowTestData.WriteAsync(schema, null, batches);
        var read = await ArrowTestData.ReadAsync(file);

        ArrowTestData.AssertSame(Table.Concat(batches), read);
        var dictionaries = await DictionaryBatchesAsync(file);
        Assert.Equal([(false, 2), (true, 1), (true, 3)], dictionaries);
        Assert.Equal(["a", "b", "c", "d", "é", ""], read.GetStringColumn("city").Dictionary.Values);
    }

    [Fact]
    public async Task Strings_with_thousands_of_distinct_values_round_trip()
    {
        var values = Enumerable.Range(0, 5000).Select(i => i % 7 == 0 ? null : $"value-{i % 3000}").ToArray();
        var table = Table.From(("s", Columns.String(values)));

        var file = await ArrowTestData.WriteAsync(table.Schema, new ArrowWriteOptions { MaxRowsPerBatch = 1000 }, table.Slice(0, 2500), table.Slice(2500, 2500).Take([.. Enumerable.Range(0, 2500)]));
        var read = await ArrowTestData.ReadAsync(file);

        ArrowTestData.AssertSame(table, read);
    }

    [Fact]
    public async Task Schema_roles_tags_and_nullability_round_trip()
    {
        var fields = Enum.GetValues<FieldRole>()
            .Select((role, i) => new Field($"f{i}", DataType.Int64, nullable: i % 2 == 0, role: role, tags: i == 0 ? [] : [$"t{i}", "pii:email", "with,comma \"quoted\""]))
            .ToArray();
        var schema = new Schema(fields);

        var read = await ArrowTestData.ReadAsync(await ArrowTestData.WriteAsync(Table.Empty(schema)));

        Assert.Equal(schema, read.Schema);
    }

    [Fact]
    public async Task Schema_larger_than_the_writers_staging_buffer_round_trips()
    {
        var table = new Table(
            new Schema(Enumerable.Range(0, 20_000).Select(i => new Field($"a_rather_long_column_name_{i}", DataType.Int32, tags: ["t"]))),
            Enumerable.Range(0, 20_000).Select(i => Columns.Int32(i, null)));

        var read = await ArrowTestData.ReadAsync(await ArrowTestData.WriteAsync(table));

        Assert.Equal(table.Schema, read.Schema);
        Assert.Equal(19_999, read.GetColumn<int>("a_rather_long_column_name_19999")[0]);
        Assert.True(read[123].IsNull(1));
    }

    [Fact]
    public async Task Batches_can_be_read_in_any_order()
    {
        var table = Generated(40, seed: 9);
        var file = await ArrowTestData.WriteAsync(table, new ArrowWriteOptions { MaxRowsPerBatch = 10 });

        await using var reader = await ArrowFileReader.OpenAsync(new MemoryStream(file));

        foreach (var i in new[] { 3, 0, 2, 1, 3 })
        {
            ArrowTestData.AssertSame(table.Slice(i * 10, 10), await reader.ReadBatchAsync(i));
        }
    }

    [Fact]
    public async Task Stream_format_round_trips_from_a_stream_that_cannot_seek()
    {
        var table = Generated(100, seed: 3);
        using var memory = new MemoryStream();
        var writer = new ArrowFileWriter(memory, table.Schema, new ArrowWriteOptions { MaxRowsPerBatch = 30 }, leaveOpen: true, streamFormat: true);
        await using (writer)
        {
            await writer.WriteBatchAsync(table.Slice(0, 50));
            await writer.WriteBatchAsync(Generated(50, seed: 4));
        }

        Assert.True(ArrowFile.IsArrowStream(memory.ToArray()));
        await using var reader = await ArrowStreamReader.OpenAsync(new ForwardOnlyStream(memory.ToArray()));
        var read = await reader.ReadTableAsync();

        ArrowTestData.AssertSame(Table.Concat([table.Slice(0, 50), Generated(50, seed: 4)]), read);
        Assert.Null(await reader.ReadNextBatchAsync());
    }

    [Fact]
    public void Sniffing_tells_files_from_streams_and_other_data()
    {
        Assert.True(ArrowFile.IsArrowFile("ARROW1\0\0"u8));
        Assert.False(ArrowFile.IsArrowFile("ARROW"u8));
        Assert.False(ArrowFile.IsArrowFile("PAR1"u8));
        Assert.True(ArrowFile.IsArrowStream([0xFF, 0xFF, 0xFF, 0xFF, 0x10, 0, 0, 0]));
        Assert.False(ArrowFile.IsArrowStream([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]));
        Assert.False(ArrowFile.IsArrowStream("ARROW1\0\0"u8));
    }

    [Fact]
    public async Task Writer_refuses_a_batch_of_another_schema()
    {
        await using var writer = new ArrowFileWriter(new MemoryStream(), new Schema(new Field("a", DataType.Int32)));

        var error = await Assert.ThrowsAsync<StrataException>(() => writer.WriteBatchAsync(Table.From(("a", Columns.Int64(1)))).AsTask());

        Assert.Equal(ErrorCodes.SchemaInvalid, error.Code);
    }

    [Fact]
    public async Task Writer_refuses_nulls_in_a_field_the_file_declares_non_nullable()
    {
        await using var writer = new ArrowFileWriter(new MemoryStream(), new Schema(new Field("a", DataType.Int32, nullable: false)));

        var error = await Assert.ThrowsAsync<StrataException>(() => writer.WriteBatchAsync(Table.From(("a", Columns.Int32(1, null)))).AsTask());

        Assert.Equal(ErrorCodes.SchemaInvalid, error.Code);
    }

    [Fact]
    public async Task Writer_writes_no_footer_after_a_failed_write()
    {
        var schema = new Schema(new Field("a", DataType.Int32));
        using var memory = new MemoryStream();
        var writer = new ArrowFileWriter(new FailingStream(memory, failAfter: 100), schema, leaveOpen: true);

        await Assert.ThrowsAsync<IOException>(() => writer.WriteBatchAsync(Table.From(("a", Columns.Int32([.. Enumerable.Range(0, 1000).Select(i => (int?)i)])))).AsTask());
        await writer.DisposeAsync();

        Assert.False(memory.ToArray().AsSpan().EndsWith("ARROW1"u8));
    }

    /// <summary>Record batches of every type with about 20% nulls, deterministic for a seed.</summary>
    internal static Table Generated(int rows, int seed)
    {
        var random = new Random(seed);
        var builders = ArrowTestData.EveryType().Schema.Select(f => ColumnBuilder.Create(f.Type, rows)).ToArray();
        for (var r = 0; r < rows; r++)
        {
            foreach (var builder in builders)
            {
                if (random.Next(5) == 0 && builder.Type != DataType.Int64)
                {
                    builder.AppendNull();
                    continue;
                }

                builder.AppendObject(builder.Type switch
                {
                    DataType.Bool => random.Next(2) == 1,
                    DataType.Int32 => random.Next(int.MinValue, int.MaxValue),
                    DataType.Int64 => random.NextInt64(),
                    DataType.Float32 => (float)random.NextDouble(),
                    DataType.Float64 => random.NextDouble() * 1e6,
                    DataType.String => $"s{random.Next(40)}-ü",
                    _ => random.NextInt64(Timestamp.MinValue, Timestamp.MaxValue),
                });
            }
        }

        return new Table(ArrowTestData.EveryType().Schema, builders.Select(b => b.Build()));
    }

    /// <summary>The (isDelta, value count) of every dictionary batch of a file, in file order.</summary>
    private static async Task<List<(bool, long)>> DictionaryBatchesAsync(byte[] file)
    {
        var stream = new MemoryStream(file) { Position = 8 };
        var input = new ArrowInput(stream, "test", ArrowReadOptions.Default);
        var result = new List<(bool, long)>();
        while (await input.ReadMessageAsync(default) is { } message)
        {
            using (message)
            {
                if (message.HeaderType == MessageHeader.DictionaryBatch)
                {
                    result.Add((message.Header.GetBool(DictionaryBatchSlot.IsDelta), message.Header.GetTable(DictionaryBatchSlot.Data)!.Value.GetInt64(RecordBatchSlot.Length)));
                }
            }
        }

        return result;
    }

    /// <summary>A read-only stream that cannot seek, like a network stream; reads return a few bytes at a time.</summary>
    private sealed class ForwardOnlyStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, 7), data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Passes writes through until <c>failAfter</c> bytes, then throws as a full disk would.</summary>
    private sealed class FailingStream(Stream inner, int failAfter) : Stream
    {
        private int _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            _written += count;
            if (_written > failAfter)
            {
                throw new IOException("disk full");
            }

            inner.Write(buffer, offset, count);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
