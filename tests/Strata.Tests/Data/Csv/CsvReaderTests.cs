using System.IO.Compression;
using System.Text;
using Strata.Data;
using Strata.Data.Csv;
using Strata.Testing;

namespace Strata.Tests.Data.Csv;

public sealed class CsvReaderTests : IDisposable
{
    private readonly TempFolder _folder = new("csv");

    public void Dispose() => _folder.Dispose();

    private async Task<ReadResult> Read(string text, CsvReadOptions? options = null, string name = "t.csv") =>
        await CsvReader.ReadAsync(_folder.WriteText(name, text), options ?? new CsvReadOptions());

    [Fact]
    public async Task Reads_quoted_fields_escaped_quotes_embedded_newlines_and_crlf()
    {
        var result = await Read("id,text,score\r\n1,\"a, b\",1.5\r\n2,\"say \"\"hi\"\"\",2\r\n3,\"two\r\nlines\",3\r\n4,plain,\r\n");

        var t = result.Table;
        Assert.Equal(4, t.RowCount);
        Assert.Equal(new[] { DataType.Int64, DataType.String, DataType.Float64 }, t.Schema.Select(f => f.Type));
        var text = t.GetStringColumn("text");
        Assert.Equal("a, b", text[0]);
        Assert.Equal("say \"hi\"", text[1]);
        Assert.Equal("two\r\nlines", text[2]);
        Assert.Equal("plain", text[3]);
        Assert.True(t["score"].IsNull(3));
        Assert.Equal(2.0, t.GetColumn<double>("score")[1]);
    }

    [Fact]
    public async Task Reads_a_last_record_without_a_newline_and_a_trailing_empty_field()
    {
        var t = (await Read("a,b\n1,x\n2,")).Table;

        Assert.Equal(2, t.RowCount);
        Assert.True(t["b"].IsNull(1));
    }

    [Fact]
    public async Task Infers_every_type_and_nulls()
    {
        var t = (await Read(
            "i,f,b,ts,d,s\n" +
            "1,1.5,true,2001-01-01 00:01:00,2001-01-02,x\n" +
            "-2,NA,FALSE,2001-01-01T10:00:00.5Z,2001-01-03,\n" +
            ",3e2,,2001-01-01T12:00:00+02:00,,y\n")).Table;

        Assert.Equal(
            new[] { DataType.Int64, DataType.Float64, DataType.Bool, DataType.Timestamp, DataType.Timestamp, DataType.String },
            t.Schema.Select(f => f.Type));
        Assert.True(t["i"].IsNull(2));
        Assert.True(t["f"].IsNull(1));
        Assert.Equal(300.0, t.GetColumn<double>("f")[2]);
        Assert.False(t.GetColumn<bool>("b")[1]);
        Assert.Equal(new DateTime(2001, 1, 1, 10, 0, 0, 500, DateTimeKind.Utc), t["ts"].GetValue(1));
        Assert.Equal(new DateTime(2001, 1, 1, 10, 0, 0, DateTimeKind.Utc), t["ts"].GetValue(2));
        Assert.Equal(new DateTime(2001, 1, 3, 0, 0, 0, DateTimeKind.Utc), t["d"].GetValue(1));
        Assert.True(t["s"].IsNull(1));
    }

    [Fact]
    public async Task Quoted_values_are_never_null_so_empty_strings_survive()
    {
        var t = (await Read("s,n\n\"\",1\n\"NA\",2\n,3\n")).Table;

        var s = t.GetStringColumn("s");
        Assert.Equal("", s[0]);
        Assert.Equal("NA", s[1]);
        Assert.Null(s[2]);
    }

    [Fact]
    public async Task A_late_row_that_contradicts_the_type_makes_the_whole_column_string_with_original_text()
    {
        var sb = new StringBuilder("code,n\n");
        for (var i = 0; i < 5000; i++)
        {
            sb.Append(i.ToString("D3", System.Globalization.CultureInfo.InvariantCulture)).Append(',').Append(i).Append('\n');
        }

        sb.Append("A17,5000\n");

        // Small chunks: the contradiction is in a different chunk from most of the numbers.
        var result = await Read(sb.ToString(), new CsvReadOptions { ChunkBytes = 1024 });

        var code = result.Table.GetStringColumn("code");
        Assert.Equal(DataType.String, result.Table.Schema["code"].Type);
        Assert.Equal("000", code[0]);
        Assert.Equal("007", code[7]);
        Assert.Equal("A17", code[5000]);
        Assert.Equal(DataType.Int64, result.Table.Schema["n"].Type);
        Assert.Contains(result.Report.Warnings, w => w.Contains("'code'", StringComparison.Ordinal) && w.Contains("string", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Integers_then_decimals_in_a_later_chunk_widen_to_float64()
    {
        var sb = new StringBuilder("x\n");
        for (var i = 0; i < 3000; i++)
        {
            sb.Append(i).Append('\n');
        }

        sb.Append("0.25\n");
        var t = (await Read(sb.ToString(), new CsvReadOptions { ChunkBytes = 1024 })).Table;

        Assert.Equal(DataType.Float64, t.Schema["x"].Type);
        Assert.Equal(2999.0, t.GetColumn<double>("x")[2999]);
        Assert.Equal(0.25, t.GetColumn<double>("x")[3000]);
    }

    [Fact]
    public async Task Same_result_whatever_the_chunk_size_and_thread_count()
    {
        var random = new Random(7);
        var sb = new StringBuilder("a,b,c,d\n");
        for (var i = 0; i < 4000; i++)
        {
            sb.Append(random.Next(-1000, 1000)).Append(',')
              .Append(random.Next(5) == 0 ? "" : random.NextDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append(',')
              .Append(random.Next(3) == 0 ? "\"multi\nline\"" : "k" + random.Next(50)).Append(',')
              .Append(i == 3500 ? "oops" : "2001-01-01 00:00:00").Append('\n');
        }

        var path = _folder.WriteText("d.csv", sb.ToString());
        var digests = new HashSet<string>();
        foreach (var (chunk, threads) in new[] { (1 << 20, 1), (1024, 1), (1024, 2), (4096, 4), (2000, 3) })
        {
            var t = await CsvReader.ReadTableAsync(path, new CsvReadOptions { ChunkBytes = chunk, MaxParallelism = threads });
            digests.Add(TableAssert.Digest(t));
        }

        Assert.Single(digests);
    }

    [Fact]
    public async Task Batches_hold_the_same_rows_and_schema_as_the_whole_table()
    {
        var sb = new StringBuilder("k,v,w\n");
        for (var i = 0; i < 6000; i++)
        {
            sb.Append("key").Append(i % 13).Append(',').Append(i).Append(',').Append(i == 5999 ? "x" : "1").Append('\n');
        }

        var path = _folder.WriteText("b.csv", sb.ToString());
        var options = new CsvReadOptions { ChunkBytes = 4096 };
        var whole = await CsvReader.ReadTableAsync(path, options);
        var batches = new List<Table>();
        await foreach (var batch in CsvReader.ReadBatchesAsync(path, options))
        {
            batches.Add(batch);
        }

        Assert.True(batches.Count > 3);
        Assert.All(batches, b => Assert.True(b.Schema.HasSameLayout(whole.Schema)));
        Assert.Equal(DataType.String, whole.Schema["w"].Type);
        TableAssert.Equal(whole, Table.Concat(batches));
    }

    [Fact]
    public async Task Explicit_schema_overrides_inference_and_keeps_roles_and_tags()
    {
        var schema = new Schema(
            new Field("zip", DataType.String, role: FieldRole.EntityKey),
            new Field("n", DataType.Int32),
            new Field("x", DataType.Float32, tags: ["pii:score"]));
        var t = (await Read("zip,n,x,other\n00501,1,0.5,a\n10001,2,1e3,b\n", new CsvReadOptions { Schema = schema })).Table;

        Assert.Equal("00501", t.GetStringColumn("zip")[0]);
        Assert.Equal(FieldRole.EntityKey, t.Schema["zip"].Role);
        Assert.Equal(2, t.GetColumn<int>("n")[1]);
        Assert.Equal(1000f, t.GetColumn<float>("x")[1]);
        Assert.True(t.Schema["x"].IsPii);
        Assert.Equal(DataType.String, t.Schema["other"].Type);
    }

    [Fact]
    public async Task A_declared_column_missing_from_the_file_is_an_error_naming_it()
    {
        var e = await Assert.ThrowsAsync<StrataException>(() =>
            Read("a,b\n1,2\n", new CsvReadOptions { Schema = new Schema(new Field("c", DataType.Int64)) }));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Contains("'c'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_that_does_not_fit_a_declared_type_names_file_line_column_and_value()
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() =>
            Read("a,b\n1,2\n3,abc\n", new CsvReadOptions { Schema = new Schema(new Field("b", DataType.Int64)) }, "bad.csv"));

        Assert.Equal(ErrorCodes.DataType, e.Code);
        Assert.Equal(3, e.Location.Line);
        Assert.Equal("b", e.Location.Column);
        Assert.Contains("bad.csv:3: column 'b'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'abc'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_values_become_nulls_when_asked_and_are_counted()
    {
        var result = await Read("b\n2\nabc\n4\n", new CsvReadOptions { Schema = new Schema(new Field("b", DataType.Int64)), BadValues = BadValueHandling.Null });

        Assert.True(result.Table["b"].IsNull(1));
        Assert.Equal(1, result.Report.NulledValues);
    }

    [Fact]
    public async Task Pii_values_never_appear_in_error_messages()
    {
        var schema = new Schema(new Field("email", DataType.Int64, tags: ["pii:email"]));
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read("email\nann@example.com\n", new CsvReadOptions { Schema = schema }));

        Assert.DoesNotContain("ann@example.com", e.Message, StringComparison.Ordinal);
        Assert.Contains("redacted", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3000000000", DataType.Int32)]
    [InlineData("99999999999999999999", DataType.Int64)]
    [InlineData("1e999", DataType.Float64)]
    [InlineData("1e39", DataType.Float32)]
    public async Task Numbers_out_of_range_for_a_declared_type_are_reported_as_such(string value, DataType type)
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() =>
            Read($"x\n1\n{value}\n", new CsvReadOptions { Schema = new Schema(new Field("x", type)) }));

        Assert.Equal(ErrorCodes.DataOutOfRange, e.Code);
        Assert.Equal(3, e.Location.Line);
    }

    [Fact]
    public async Task Inferred_integers_beyond_int64_become_float64_and_overflowing_floats_become_text()
    {
        var t = (await Read("big,huge\n1,1.5\n99999999999999999999,1e999\n")).Table;

        Assert.Equal(DataType.Float64, t.Schema["big"].Type);
        Assert.Equal(1e20, t.GetColumn<double>("big")[1]);
        Assert.Equal(DataType.String, t.Schema["huge"].Type);
        Assert.Equal("1e999", t.GetStringColumn("huge")[1]);
    }

    [Fact]
    public async Task Ragged_rows_are_errors_naming_the_line_and_counts()
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read("a,b,c\n1,2,3\n4,5\n", name: "r.csv"));

        Assert.Equal(3, e.Location.Line);
        Assert.Contains("expected 3 fields, found 2", e.Message, StringComparison.Ordinal);

        var e2 = await Assert.ThrowsAsync<DataFormatException>(() => Read("a,b\n1,2\n\"x\ny\",5\n6,7,8\n"));
        Assert.Equal(5, e2.Location.Line);
    }

    [Fact]
    public async Task Ragged_rows_can_be_skipped_or_filled()
    {
        const string text = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n";
        var skipped = await Read(text, new CsvReadOptions { RaggedRows = RaggedRowHandling.Skip });
        Assert.Equal(new long[] { 1, 10 }, skipped.Table.GetColumn<long>("a").Values.ToArray());
        Assert.Equal(2, skipped.Report.SkippedRows);

        var filled = await Read(text, new CsvReadOptions { RaggedRows = RaggedRowHandling.Fill });
        Assert.Equal(4, filled.Table.RowCount);
        Assert.True(filled.Table["c"].IsNull(1));
        Assert.Equal(8, filled.Table.GetColumn<long>("c")[2]);
        Assert.Equal(2, filled.Report.FilledRows);
    }

    [Fact]
    public async Task An_unterminated_quote_is_an_error_naming_the_line_where_it_opened()
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read("a,b\n1,2\n3,\"never closed\n4,5\n"));

        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
        Assert.Equal(3, e.Location.Line);
        Assert.Equal("b", e.Location.Column);
        Assert.Contains("never closed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_quote_inside_an_unquoted_field_is_an_error_unless_quotes_are_lenient()
    {
        const string text = "name,height\nO\"Brien,5\nLee,6\n";
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read(text));
        Assert.Equal(2, e.Location.Line);
        Assert.Equal("name", e.Location.Column);

        var t = (await Read(text, new CsvReadOptions { LenientQuotes = true })).Table;
        Assert.Equal("O\"Brien", t.GetStringColumn("name")[0]);
    }

    [Fact]
    public async Task Text_after_a_closing_quote_is_an_error()
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read("a,b\n\"x\"y,1\n"));

        Assert.Equal(2, e.Location.Line);
        Assert.Contains("after the closing quote", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_utf8_is_an_error_naming_line_and_column_or_is_replaced()
    {
        var bytes = Encoding.UTF8.GetBytes("id,name\n1,ok\n2,bad-").Concat(new byte[] { 0xC3, 0x28 }).Concat(Encoding.UTF8.GetBytes("\n3,fine\n")).ToArray();
        var path = _folder.WriteBytes("u.csv", bytes);

        var e = await Assert.ThrowsAsync<DataFormatException>(() => CsvReader.ReadAsync(path));
        Assert.Equal(ErrorCodes.DataEncoding, e.Code);
        Assert.Equal(3, e.Location.Line);
        Assert.Equal("name", e.Location.Column);

        var replaced = await CsvReader.ReadAsync(path, new CsvReadOptions { InvalidUtf8 = InvalidUtf8Handling.Replace });
        Assert.Equal("bad-\uFFFD(", replaced.Table.GetStringColumn("name")[1]);
        Assert.Equal(1, replaced.Report.ReplacedUtf8);
    }

    [Fact]
    public async Task An_empty_file_is_an_error()
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read(""));
        Assert.Equal(ErrorCodes.DataEmpty, e.Code);

        var blank = await Assert.ThrowsAsync<DataFormatException>(() => Read("\n\r\n\n"));
        Assert.Equal(ErrorCodes.DataEmpty, blank.Code);
    }

    [Fact]
    public async Task A_header_only_file_is_a_table_with_columns_and_no_rows()
    {
        var t = (await Read("a,b,c\n")).Table;

        Assert.Equal(0, t.RowCount);
        Assert.Equal(new[] { "a", "b", "c" }, t.Schema.Names);
        Assert.All(t.Schema, f => Assert.Equal(DataType.String, f.Type));

        var noNewline = (await Read("a;b")).Table;
        Assert.Equal(new[] { "a", "b" }, noNewline.Schema.Names);
    }

    [Fact]
    public async Task Mixed_types_in_a_column_read_as_string_with_a_warning()
    {
        var result = await Read("v\n1\n2001-01-01\ntrue\n");

        Assert.Equal(DataType.String, result.Table.Schema["v"].Type);
        Assert.Equal(new[] { "1", "2001-01-01", "true" }, Enumerable.Range(0, 3).Select(i => result.Table.GetStringColumn("v")[i]));
        Assert.NotEmpty(result.Report.Warnings);
    }

    [Theory]
    [InlineData('\t')]
    [InlineData(';')]
    [InlineData('|')]
    public async Task Detects_the_delimiter(char delimiter)
    {
        var d = delimiter.ToString();
        var t = (await Read($"a{d}b{d}c\n1{d}\"x{d}y\"{d}3\n4{d}z{d}6\n")).Table;

        Assert.Equal(new[] { "a", "b", "c" }, t.Schema.Names);
        Assert.Equal($"x{d}y", t.GetStringColumn("b")[0]);
    }

    [Fact]
    public async Task Detects_a_missing_header_from_the_types()
    {
        var t = (await Read("1,2.5,x\n3,4.5,y\n")).Table;

        Assert.Equal(new[] { "column_1", "column_2", "column_3" }, t.Schema.Names);
        Assert.Equal(2, t.RowCount);
        Assert.Equal(DataType.Int64, t.Schema[0].Type);
    }

    [Fact]
    public async Task Header_options_name_columns_and_deduplicate()
    {
        var t = (await Read("x,x,\n1,2,3\n")).Table;
        Assert.Equal(new[] { "x", "x_2", "column_3" }, t.Schema.Names);

        var named = (await Read("1,2\n3,4\n", new CsvReadOptions { Header = CsvHeader.Absent, ColumnNames = ["p", "q"] })).Table;
        Assert.Equal(new[] { "p", "q" }, named.Schema.Names);
        Assert.Equal(2, named.RowCount);

        var present = (await Read("1,2\n3,4\n", new CsvReadOptions { Header = CsvHeader.Present })).Table;
        Assert.Equal(new[] { "1", "2" }, present.Schema.Names);
    }

    [Fact]
    public async Task Skips_a_byte_order_mark_and_blank_lines()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes("\na,b\n\n1,2\n\n3,4\n")).ToArray();
        var t = await CsvReader.ReadTableAsync(_folder.WriteBytes("bom.csv", bytes));

        Assert.Equal(new[] { "a", "b" }, t.Schema.Names);
        Assert.Equal(new long[] { 1, 3 }, t.GetColumn<long>("a").Values.ToArray());
    }

    [Fact]
    public async Task Reads_gzip_files_and_non_seekable_streams()
    {
        var path = _folder.File("g.csv.gz");
        await using (var file = File.Create(path))
        await using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        {
            await gzip.WriteAsync(Encoding.UTF8.GetBytes("a,b\n1,x\n2,y\n"));
        }

        var t = await CsvReader.ReadTableAsync(path);
        Assert.Equal(2, t.RowCount);

        await using var pipe = new NonSeekableStream(Encoding.UTF8.GetBytes("a\n1\n2\n3\n"));
        var s = (await CsvReader.ReadAsync(pipe)).Table;
        Assert.Equal(3, s.RowCount);
    }

    [Fact]
    public async Task Max_rows_reads_only_the_first_rows()
    {
        var sb = new StringBuilder("n\n");
        for (var i = 0; i < 10000; i++)
        {
            sb.Append(i).Append('\n');
        }

        var t = (await Read(sb.ToString(), new CsvReadOptions { MaxRows = 1234, ChunkBytes = 2048 })).Table;
        Assert.Equal(1234, t.RowCount);
        Assert.Equal(1233, t.GetColumn<long>("n")[1233]);
    }

    [Fact]
    public async Task A_declared_non_nullable_column_rejects_empty_values_with_the_line()
    {
        var schema = new Schema(new Field("a", DataType.Int64, nullable: false));
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read("a\n1\n\n2\n,\n", new CsvReadOptions { Schema = schema, Delimiter = ',' }));

        Assert.Equal(ErrorCodes.DataNull, e.Code);
    }

    [Fact]
    public async Task A_missing_file_is_not_found()
    {
        var e = await Assert.ThrowsAsync<StrataException>(() => CsvReader.ReadAsync(_folder.File("nope.csv")));
        Assert.Equal(ErrorCodes.NotFound, e.Code);
    }

    [Fact]
    public async Task Cancellation_stops_the_read()
    {
        var sb = new StringBuilder("n\n");
        for (var i = 0; i < 200000; i++)
        {
            sb.Append(i).Append('\n');
        }

        var path = _folder.WriteText("big.csv", sb.ToString());
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CsvReader.ReadAsync(path, new CsvReadOptions { ChunkBytes = 4096 }, cts.Token));
    }

    [Fact]
    public async Task Written_tables_read_back_identically_for_random_content()
    {
        for (var seed = 1; seed <= 20; seed++)
        {
            var expected = RandomTables.Create(seed, rows: 300);
            var path = _folder.File($"rt{seed}.csv");
            await CsvWriter.WriteAsync(expected, path);

            var actual = await CsvReader.ReadTableAsync(path, new CsvReadOptions { Schema = expected.Schema, ChunkBytes = 1024 + (seed * 97) });

            try
            {
                TableAssert.Equal(expected, actual);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"seed {seed}: {e.Message}", e);
            }
        }
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
