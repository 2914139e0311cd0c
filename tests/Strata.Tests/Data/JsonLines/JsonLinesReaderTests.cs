using System.Text;
using Strata.Data;
using Strata.Data.JsonLines;
using Strata.Testing;

namespace Strata.Tests.Data.JsonLines;

public sealed class JsonLinesReaderTests : IDisposable
{
    private readonly TempFolder _folder = new("jsonl");

    public void Dispose() => _folder.Dispose();

    private Task<ReadResult> Read(string text, JsonLinesReadOptions? options = null) =>
        JsonLinesReader.ReadAsync(_folder.WriteText("t.jsonl", text), options);

    [Fact]
    public async Task Reads_typed_values_missing_keys_nested_objects_and_arrays()
    {
        var t = (await Read(
            "{\"id\": 1, \"name\": \"a\", \"ok\": true, \"at\": \"2001-01-01T00:00:00Z\", \"geo\": {\"lat\": 1.5}, \"tags\": [1, \"x\"]}\n" +
            "{\"id\": 2, \"ok\": false, \"score\": 0.5, \"at\": \"2001-01-02 10:00:00\", \"geo\": {\"lat\": -2}}\r\n" +
            "\n" +
            "{\"name\": \"c\\u00e9\\n\", \"id\": 3, \"ok\": null}\n")).Table;

        Assert.Equal(new[] { "id", "name", "ok", "at", "geo.lat", "tags", "score" }, t.Schema.Names);
        Assert.Equal(
            new[] { DataType.Int64, DataType.String, DataType.Bool, DataType.Timestamp, DataType.Float64, DataType.String, DataType.Float64 },
            t.Schema.Select(f => f.Type));
        Assert.Equal(3, t.RowCount);
        Assert.Null(t.GetStringColumn("name")[1]);
        Assert.Equal("cé\n", t.GetStringColumn("name")[2]);
        Assert.True(t["ok"].IsNull(2));
        Assert.Equal(-2.0, t.GetColumn<double>("geo.lat")[1]);
        Assert.Equal("[1, \"x\"]", t.GetStringColumn("tags")[0]);
        Assert.True(t["score"].IsNull(0));
        Assert.Equal(new DateTime(2001, 1, 2, 10, 0, 0, DateTimeKind.Utc), t["at"].GetValue(1));
    }

    [Fact]
    public async Task A_string_among_numbers_in_a_later_chunk_makes_the_column_string_with_the_numbers_text()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            sb.Append("{\"v\": ").Append(i).Append(".50}\n");
        }

        sb.Append("{\"v\": \"n/a\"}\n");
        var result = await Read(sb.ToString(), new JsonLinesReadOptions { ChunkBytes = 1024 });

        var v = result.Table.GetStringColumn("v");
        Assert.Equal("0.50", v[0]);
        Assert.Equal("2999.50", v[2999]);
        Assert.Equal("n/a", v[3000]);
        Assert.NotEmpty(result.Report.Warnings);
    }

    [Fact]
    public async Task Same_result_whatever_the_chunk_size_and_thread_count()
    {
        var random = new Random(3);
        var sb = new StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            sb.Append("{\"k\": \"k").Append(random.Next(20)).Append('"');
            if (random.Next(4) > 0)
            {
                sb.Append(", \"x\": ").Append(random.Next(1000));
            }

            if (i % 700 == 699)
            {
                sb.Append(", \"late\": ").Append(i);
            }

            sb.Append("}\n");
        }

        var path = _folder.WriteText("d.jsonl", sb.ToString());
        var digests = new HashSet<string>();
        foreach (var (chunk, threads) in new[] { (1 << 20, 1), (1024, 1), (1024, 2), (3000, 4) })
        {
            digests.Add(TableAssert.Digest(await JsonLinesReader.ReadTableAsync(path, new JsonLinesReadOptions { ChunkBytes = chunk, MaxParallelism = threads })));
        }

        Assert.Single(digests);
    }

    [Fact]
    public async Task Batches_have_one_schema_and_the_same_rows_as_the_table()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < 2000; i++)
        {
            sb.Append(i == 1999 ? "{\"a\": 1, \"b\": 2.5}\n" : "{\"a\": 1}\n");
        }

        var path = _folder.WriteText("b.jsonl", sb.ToString());
        var options = new JsonLinesReadOptions { ChunkBytes = 2048 };
        var whole = await JsonLinesReader.ReadTableAsync(path, options);
        var batches = new List<Table>();
        await foreach (var b in JsonLinesReader.ReadBatchesAsync(path, options))
        {
            batches.Add(b);
        }

        Assert.All(batches, b => Assert.Equal(new[] { "a", "b" }, b.Schema.Names));
        TableAssert.Equal(whole, Table.Concat(batches));
    }

    [Theory]
    [InlineData("{\"a\": 1}\n{\"a\": 2,}\n", 2)]
    [InlineData("{\"a\": 1}\n[1, 2]\n", 2)]
    [InlineData("{\"a\": 1}\n\"text\"\n", 2)]
    [InlineData("{\"a\": 1}\n{\"a\": 2} {\"a\": 3}\n", 2)]
    [InlineData("{\"a\": 1}\n{\"a\": 2}\n{\"a\": \n", 3)]
    [InlineData("{\"a\": 1, \"a\": 2}\n", 1)]
    public async Task Malformed_lines_are_errors_naming_the_line(string text, long line)
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read(text));

        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
        Assert.Equal(line, e.Location.Line);
    }

    [Fact]
    public async Task Invalid_utf8_is_an_error_or_is_replaced()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"a\": \"ok\"}\n{\"a\": \"x").Concat(new byte[] { 0xFF }).Concat(Encoding.UTF8.GetBytes("\"}\n")).ToArray();
        var path = _folder.WriteBytes("u.jsonl", bytes);

        var e = await Assert.ThrowsAsync<DataFormatException>(() => JsonLinesReader.ReadAsync(path));
        Assert.Equal(ErrorCodes.DataEncoding, e.Code);
        Assert.Equal(2, e.Location.Line);

        var replaced = await JsonLinesReader.ReadAsync(path, new JsonLinesReadOptions { InvalidUtf8 = InvalidUtf8Handling.Replace });
        Assert.Equal("x\uFFFD", replaced.Table.GetStringColumn("a")[1]);
    }

    [Fact]
    public async Task Declared_types_are_enforced_with_located_errors()
    {
        var schema = new Schema(new Field("n", DataType.Int32), new Field("never", DataType.Float64));
        var ok = (await Read("{\"n\": 5}\n{\"n\": \"7\"}\n", new JsonLinesReadOptions { Schema = schema })).Table;
        Assert.Equal(new[] { 5, 7 }, ok.GetColumn<int>("n").Values.ToArray());
        Assert.Equal(2, ok["never"].NullCount);

        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read("{\"n\": 5}\n{\"n\": 3000000000}\n", new JsonLinesReadOptions { Schema = schema }));
        Assert.Equal(ErrorCodes.DataOutOfRange, e.Code);
        Assert.Equal(2, e.Location.Line);
        Assert.Equal("n", e.Location.Column);
    }

    [Fact]
    public async Task Empty_file_is_an_error_and_blank_lines_are_no_rows()
    {
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read(""));
        Assert.Equal(ErrorCodes.DataEmpty, e.Code);

        var t = (await Read("\n\n  \n")).Table;
        Assert.Equal(0, t.RowCount);
    }

    [Fact]
    public async Task A_line_longer_than_the_limit_is_an_error()
    {
        var text = "{\"a\": \"" + new string('x', 100_000) + "\"}\n";
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read(text, new JsonLinesReadOptions { MaxRecordBytes = 50_000, ChunkBytes = 4096 }));

        Assert.Equal(ErrorCodes.DataLimit, e.Code);
        Assert.Equal(1, e.Location.Line);
    }

    [Fact]
    public async Task Deep_nesting_beyond_the_limit_is_an_error()
    {
        var text = "{\"a\": " + new string('[', 100) + new string(']', 100) + "}\n";
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Read(text));

        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
    }

    [Fact]
    public async Task Written_tables_read_back_identically_for_random_content()
    {
        for (var seed = 1; seed <= 10; seed++)
        {
            var expected = RandomTables.Create(seed, rows: 200);
            var path = _folder.File($"rt{seed}.jsonl");
            await JsonLinesWriter.WriteAsync(expected, path);

            var actual = await JsonLinesReader.ReadTableAsync(path, new JsonLinesReadOptions { Schema = expected.Schema, ChunkBytes = 1024 + (seed * 31) });

            TableAssert.Equal(expected, actual);
        }
    }
}
