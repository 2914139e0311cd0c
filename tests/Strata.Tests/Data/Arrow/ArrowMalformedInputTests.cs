using System.Buffers.Binary;
using System.Globalization;
using Strata.Data.Arrow;
using Strata.Testing;
using Xunit.Abstractions;
using static Strata.Data.Arrow.ArrowFormat;
using static Strata.Tests.Data.Arrow.RawArrowFile;

namespace Strata.Tests.Data.Arrow;

/// <summary>
/// Arrow input is untrusted: whatever the bytes, a reader either succeeds with valid columns or throws a
/// <see cref="DataFormatException"/>, never an IndexOutOfRange, Overflow or OutOfMemory exception.
/// </summary>
public sealed class ArrowMalformedInputTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Truncated_file_fails_at_every_length()
    {
        var file = await SampleFileAsync();

        for (var length = 0; length < file.Length; length++)
        {
            var error = await ReadOutcomeAsync(file[..length], stream: false, visibleBuffer: length % 2 == 0);

            Assert.True(error is DataFormatException, $"truncated to {length} of {file.Length} bytes: {error?.ToString() ?? "read successfully"}");
        }
    }

    [Fact]
    public async Task Truncated_stream_fails_or_reads_a_prefix_at_every_length()
    {
        var stream = await SampleStreamAsync();

        for (var length = 0; length < stream.Length; length++)
        {

            var error = await ReadOutcomeAsync(stream[..length], stream: true, visibleBuffer: length % 2 == 0);

            // A stream cut exactly between two messages is a shorter stream; anything else must be refused.
            Assert.True(error is null or DataFormatException, $"truncated to {length} of {stream.Length} bytes: {error}");
        }
    }

    [Fact]
    public async Task Flipped_bytes_never_escape_as_anything_but_DataFormatException()
    {
        var iterations = FuzzIterations();
        var inputs = new[] { (await SampleFileAsync(), false), (await SampleStreamAsync(), true) };
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < iterations; i++)
        {
            // Each iteration has its own seed, printed on failure, so one case reruns alone.
            var seed = 1000 + i;
            var random = new Random(seed);
            var (original, stream) = inputs[i % 2];
            var bytes = Mutate(original, random);

            var error = await ReadOutcomeAsync(bytes, stream, visibleBuffer: random.Next(2) == 0);

            Assert.True(error is null or DataFormatException, $"seed {seed} ({(stream ? "stream" : "file")}): {error}");
            var key = error is DataFormatException d ? d.Code : "ok";
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
        }

        output.WriteLine($"{iterations} mutations: " + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value}")));
    }

    [Fact]
    public async Task Bad_magic_is_rejected()
    {
        var file = await SampleFileAsync();
        var badStart = file.ToArray();
        badStart[0] = (byte)'X';
        var badEnd = file.ToArray();
        badEnd[^1] = (byte)'X';

        var start = await ReadErrorAsync(badStart);
        var end = await ReadErrorAsync(badEnd);
        var stream = await ReadErrorAsync(await SampleStreamAsync());

        Assert.Contains("ARROW1", start.Message, StringComparison.Ordinal);
        Assert.Equal(0, start.Location.ByteOffset);
        Assert.Contains("ARROW1", end.Message, StringComparison.Ordinal);
        Assert.Contains("ArrowStreamReader", stream.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(-5)]
    [InlineData(0)]
    public async Task Footer_length_that_does_not_fit_the_file_is_rejected(int footerLength)
    {
        var file = await SampleFileAsync();
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(file.Length - 10), footerLength);

        var error = await ReadErrorAsync(file);

        Assert.Equal(ErrorCodes.DataMalformed, error.Code);
        Assert.Contains("footer length", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Huge_metadata_length_in_a_stream_is_a_limit_error()
    {
        byte[] stream = [0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 0xFF, 0xFF, 0x7F, 1, 2, 3];

        var error = await Assert.ThrowsAsync<DataFormatException>(() => ArrowStreamReader.OpenAsync(new MemoryStream(stream)));

        Assert.Equal(ErrorCodes.DataLimit, error.Code);
    }

    [Fact]
    public async Task Huge_body_length_in_an_unseekable_stream_fails_without_allocating_it()
    {
        var stream = await SampleStreamAsync();

        // The first record batch message claims a 2 GB body; the stream holds a few hundred bytes.
        var patched = PatchFirstRecordBatchBodyLength(stream, 2_000_000_000);
        var before = GC.GetTotalAllocatedBytes();
        var error = await ReadOutcomeAsync(patched, stream: true, visibleBuffer: false, seekable: false);
        var allocated = GC.GetTotalAllocatedBytes() - before;

        Assert.IsType<DataFormatException>(error);
        Assert.True(allocated < 200_000_000, $"allocated {allocated} bytes");
    }

    [Fact]
    public async Task Limits_from_the_options_are_enforced()
    {
        var file = await SampleFileAsync();

        var body = await ReadErrorAsync(file, new ArrowReadOptions { MaxBodyBytes = 16 });
        var metadata = await ReadErrorAsync(file, new ArrowReadOptions { MaxMetadataBytes = 64 });
        var columns = await ReadErrorAsync(file, new ArrowReadOptions { MaxColumns = 2 });

        Assert.All([body, metadata, columns], e => Assert.Equal(ErrorCodes.DataLimit, e.Code));
    }

    [Fact]
    public async Task Dictionary_index_outside_the_dictionary_is_rejected_naming_the_field()
    {
        var file = new RawArrowFile()
            .Field("city", TypeId.Utf8, dictionary: (0, 32, true))
            .Dictionary(0, false, "a", "b")
            .Batch(3, [(3, 1)], [Validity(true, false, true), Bytes(1, 99, 2)]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataMalformed, error.Code);
        Assert.Equal("city", error.Location.Column);
        Assert.Contains("row 2 has dictionary index 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Negative_dictionary_index_is_rejected()
    {
        var file = new RawArrowFile()
            .Field("city", TypeId.Utf8, dictionary: (0, 8, true))
            .Dictionary(0, false, "a")
            .Batch(1, [(1, 0)], [null, Bytes<sbyte>(-1)]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Contains("index -1", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 0, 2, 1 }, "decrease")]
    [InlineData(new[] { 0, 1, 9 }, "past")]
    [InlineData(new[] { -1, 1, 2 }, "negative")]
    public async Task Bad_string_offsets_are_rejected(int[] offsets, string expected)
    {
        var file = new RawArrowFile()
            .Field("s", TypeId.Utf8)
            .Batch(2, [(2, 0)], [null, Bytes(offsets), "ab"u8.ToArray()]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataMalformed, error.Code);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_UTF8_is_an_encoding_error_in_values_and_dictionaries()
    {
        byte[] bad = [(byte)'a', 0xC3];
        var plain = new RawArrowFile().Field("s", TypeId.Utf8).Batch(1, [(1, 0)], [null, Bytes(0, 2), bad]);
        var dictionary = new RawArrowFile()
            .Field("s", TypeId.Utf8, dictionary: (0, 32, true))
            .Dictionary(0, false, "x")
            .Batch(1, [(1, 0)], [null, Bytes(0)]);
        var raw = dictionary.ToFile();
        var at = raw.AsSpan().IndexOf("x"u8);
        raw[at] = 0xFF;

        var plainError = await Assert.ThrowsAsync<DataFormatException>(plain.ReadAsync);
        var dictionaryError = await ReadErrorAsync(raw);

        Assert.Equal(ErrorCodes.DataEncoding, plainError.Code);
        Assert.Equal(ErrorCodes.DataEncoding, dictionaryError.Code);
    }

    [Fact]
    public async Task Validity_bitmap_shorter_than_the_rows_is_rejected()
    {
        var file = new RawArrowFile()
            .Field("n", TypeId.Int, Int(32, true))
            .Batch(20, [(20, 3)], [Validity(false, true), Bytes(new int[20])]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Contains("validity", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Values_buffer_shorter_than_the_rows_is_rejected()
    {
        var file = new RawArrowFile()
            .Field("n", TypeId.Int, Int(64, true))
            .Field("m", TypeId.Int, Int(64, true))
            .Batch(4, [(4, 0), (4, 0)], [null, Bytes(1L, 2L, 3L, 4L), null, Bytes(1L, 2L)]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal("m", error.Location.Column);
    }

    [Fact]
    public async Task Field_node_length_other_than_the_batch_length_is_rejected()
    {
        var file = new RawArrowFile()
            .Field("n", TypeId.Int, Int(32, true))
            .Batch(2, [(3, 0)], [null, Bytes(1, 2, 3)]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Contains("3 rows", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(int.MaxValue - 100L)]
    [InlineData(long.MaxValue)]
    public async Task Row_count_the_body_cannot_hold_is_rejected_before_allocating(long rows)
    {
        var file = new RawArrowFile()
            .Field("n", TypeId.Int, Int(64, true))
            .Batch(rows, [(rows, 0)], [null, Bytes(1L)]);

        var before = GC.GetTotalAllocatedBytes();
        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Equal(ErrorCodes.DataMalformed, error.Code);
        Assert.True(GC.GetTotalAllocatedBytes() - before < 100_000_000);
    }

    [Fact]
    public async Task Missing_nodes_or_buffers_are_rejected()
    {
        var noNodes = new RawArrowFile().Field("n", TypeId.Int, Int(32, true)).Batch(1, [], [null, Bytes(1)]);
        var noBuffers = new RawArrowFile().Field("n", TypeId.Int, Int(32, true)).Batch(1, [(1, 0)], [Bytes(1)]);

        var nodes = await Assert.ThrowsAsync<DataFormatException>(noNodes.ReadAsync);
        var buffers = await Assert.ThrowsAsync<DataFormatException>(noBuffers.ReadAsync);

        Assert.Contains("node", nodes.Message, StringComparison.Ordinal);
        Assert.Contains("buffer", buffers.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nulls_in_a_non_nullable_field_are_rejected()
    {
        var file = new RawArrowFile()
            .Field("n", TypeId.Int, Int(32, true), nullable: false)
            .Batch(2, [(2, 1)], [Validity(true, false), Bytes(1, 2)]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Contains("not nullable", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Record_batch_before_any_dictionary_is_rejected()
    {
        var file = new RawArrowFile()
            .Field("s", TypeId.Utf8, dictionary: (4, 32, true))
            .Batch(1, [(1, 0)], [null, Bytes(0)]);

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadStreamAsync);

        Assert.Contains("dictionary", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dictionary_for_an_unknown_id_is_rejected()
    {
        var file = new RawArrowFile().Field("s", TypeId.Utf8, dictionary: (4, 32, true)).Dictionary(5, false, "a");

        var error = await Assert.ThrowsAsync<DataFormatException>(file.ReadAsync);

        Assert.Contains("id 5", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Overlapping_footer_blocks_are_rejected()
    {
        var file = await ArrowTestData.WriteAsync(ArrowRoundTripTests.Generated(20, seed: 1), new ArrowWriteOptions { MaxRowsPerBatch = 10 });

        // Point the second record batch block at the first.
        var (first, second) = RecordBatchBlockPositions(file);
        file.AsSpan(first, BlockSize).CopyTo(file.AsSpan(second));

        var error = await ReadErrorAsync(file);

        Assert.Contains("overlap", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Error_message_names_the_file_and_the_byte_offset()
    {
        using var folder = new TempFolder();
        var path = folder.WriteBytes("broken.arrow", new RawArrowFile()
            .Field("n", TypeId.Int, Int(32, true))
            .Batch(2, [(2, 0)], [null, Bytes(1)])
            .ToFile());

        var error = await Assert.ThrowsAsync<DataFormatException>(() => ArrowFile.ReadTableAsync(path));

        Assert.StartsWith(path + ":byte ", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.Location.ByteOffset);
        Assert.Equal("n", error.Location.Column);
    }

    /// <summary>A small file with every type, nulls, three batches and growing dictionaries.</summary>
    private static Task<byte[]> SampleFileAsync() => SampleAsync(stream: false);

    private static Task<byte[]> SampleStreamAsync() => SampleAsync(stream: true);

    private static async Task<byte[]> SampleAsync(bool stream)
    {
        var parts = new[] { ArrowRoundTripTests.Generated(9, seed: 1), ArrowTestData.EveryType(), ArrowRoundTripTests.Generated(5, seed: 2) };
        using var memory = new MemoryStream();
        var writer = new ArrowFileWriter(memory, parts[0].Schema, null, leaveOpen: true, streamFormat: stream);
        await using (writer)
        {
            foreach (var part in parts)
            {
                await writer.WriteBatchAsync(part);
            }
        }

        return memory.ToArray();
    }

    private static int FuzzIterations() =>
        Environment.GetEnvironmentVariable("STRATA_FUZZ_ITERATIONS") is { Length: > 0 } text ? int.Parse(text, CultureInfo.InvariantCulture) : 400;

    /// <summary>Flips random bytes, or overwrites a random aligned word with a value typical of length bugs.</summary>
    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = original.ToArray();
        var count = random.Next(1, 4);
        for (var m = 0; m < count; m++)
        {
            if (random.Next(2) == 0)
            {
                bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
                continue;
            }

            long[] interesting = [0, 1, -1, 7, 8, 64, 255, 0x7FFF, 0xFFFF, int.MaxValue, int.MinValue, uint.MaxValue, long.MaxValue, long.MinValue, bytes.Length, bytes.Length + 8];
            var value = interesting[random.Next(interesting.Length)];
            if (random.Next(2) == 0)
            {
                var at = random.Next(bytes.Length / 4) * 4;
                BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), (int)value);
            }
            else
            {
                var at = random.Next(bytes.Length / 8) * 8;
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), value);
            }
        }

        return bytes;
    }

    /// <summary>Reads everything the input holds, by every path, and checks Strata's column invariants; returns the exception, if any.</summary>
    private static async Task<Exception?> ReadOutcomeAsync(byte[] bytes, bool stream, bool visibleBuffer, bool seekable = true)
    {
        Stream Open() => !seekable
            ? new NonSeekable(bytes)
            : visibleBuffer ? new MemoryStream(bytes, 0, bytes.Length, writable: false, publiclyVisible: true) : new MemoryStream(bytes, writable: false);
        try
        {
            if (stream)
            {
                await using var reader = await ArrowStreamReader.OpenAsync(Open());
                CheckInvariants(await reader.ReadTableAsync());
            }
            else
            {
                await using var reader = await ArrowFileReader.OpenAsync(Open());
                CheckInvariants(await reader.ReadTableAsync());
                for (var i = 0; i < reader.RecordBatchCount; i++)
                {
                    CheckInvariants(await reader.ReadBatchAsync(i));
                }
            }

            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    /// <summary>Null slots hold defaults, codes are inside unique dictionaries, every value can be displayed.</summary>
    private static void CheckInvariants(Table table)
    {
        ArrowTestData.AssertNullSlotsAreZero(table);
        foreach (var column in table.Columns)
        {
            if (column is StringColumn strings)
            {
                var count = strings.Dictionary.Count;
                Assert.Equal(count, strings.Dictionary.Values.Distinct(StringComparer.Ordinal).Count());
                for (var r = 0; r < strings.Length; r++)
                {
                    Assert.True(strings.IsNull(r) || (uint)strings.Codes[r] < (uint)count);
                }
            }

            for (var r = 0; r < column.Length; r++)
            {
                _ = column.GetValue(r);
            }
        }
    }

    private static async Task<DataFormatException> ReadErrorAsync(byte[] file, ArrowReadOptions? options = null) =>
        await Assert.ThrowsAsync<DataFormatException>(() => ArrowTestData.ReadAsync(file, options));

    private static byte[] PatchFirstRecordBatchBodyLength(byte[] stream, long bodyLength)
    {
        var bytes = stream.ToArray();
        var position = 0;
        while (true)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(position + 4));
            var message = new FlatBuffer(bytes, position + 8, length, null, 0, "test").Root();
            var body = message.GetInt64(MessageSlot.BodyLength);
            if (message.GetByte(MessageSlot.HeaderType) == MessageHeader.RecordBatch)
            {
                // Rewrite the bodyLength field in place: find its 8 bytes right after the metadata prefix.
                var span = bytes.AsSpan(position + 8, length);
                var at = span.IndexOf(BitConverter.GetBytes(body));
                BinaryPrimitives.WriteInt64LittleEndian(span[at..], bodyLength);
                return bytes[..(position + 8 + length + 100)];
            }

            position += 8 + length + (int)body;
        }
    }

    private static (int First, int Second) RecordBatchBlockPositions(byte[] file)
    {
        var footerLength = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(file.Length - 10));
        var start = file.Length - 10 - footerLength;
        var footer = new FlatBuffer(file, start, footerLength, null, 0, "test").Root();
        var blocks = footer.GetVector(FooterSlot.RecordBatches, BlockSize);
        return (start + blocks.ElementPosition(0), start + blocks.ElementPosition(1));
    }

    /// <summary>A network-like stream: no seeking, no length.</summary>
    private sealed class NonSeekable(byte[] data) : MemoryStream(data, writable: false)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}
