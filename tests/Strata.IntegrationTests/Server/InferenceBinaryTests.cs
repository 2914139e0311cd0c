using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Strata.IntegrationTests.Server;

/// <summary>
/// The Open Inference Protocol's binary tensor data extension, as Triton's clients use it: tensors as little-endian
/// bytes after the JSON (<c>Inference-Header-Content-Length</c> gives its length), outputs asked back as binary data.
/// </summary>
public sealed class InferenceBinaryTests(ServingServerFixture fixture) : IClassFixture<ServingServerFixture>
{
    private const string HeaderLength = "Inference-Header-Content-Length";

    private ServingServer Server => fixture.Server;

    [Theory]
    [InlineData("/v2/models/oip-binary/infer")]
    [InlineData("/v2/models/oip%2Dbinary/infer")] // an escaped path goes the general pipeline's way
    public async Task Binary_inputs_with_missing_values_give_xgboost_predictions_as_binary_outputs(string path)
    {
        await Server.DeployAsync("oip-binary", new { project = "flights", model = "delay/1" });
        var (header, sample) = ServingServer.Sample();
        // Rows with missing values (sent as NaN) and rows without.
        var rows = sample.Where(r => r.Take(11).Any(double.IsNaN)).Take(20).Concat(sample.Take(20)).ToList();
        Assert.Equal(40, rows.Count);
        var pred = Array.IndexOf(header, "xgb_pred");
        var tensors = Enumerable.Range(0, 11).Select(f => Fp32(rows.Select(r => (float)r[f]))).ToArray();
        var inputs = Enumerable.Range(0, 11).Select(f => new
        {
            name = header[f],
            shape = new[] { rows.Count },
            datatype = "FP32",
            parameters = new { binary_data_size = tensors[f].Length },
        });
        using var http = Server.Http();

        // As Triton's Python client asks when no outputs are named: every output as binary data.
        using var response = await http.SendAsync(Binary(path, new { id = "bin-1", inputs, parameters = new { binary_data_output = true } }, tensors));

        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, Encoding.UTF8.GetString(body));
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        var length = int.Parse(response.Headers.GetValues(HeaderLength).Single(), CultureInfo.InvariantCulture);
        var json = JsonDocument.Parse(body.AsMemory(0, length)).RootElement;
        Assert.Equal("bin-1", json.GetProperty("id").GetString());
        var probability = json.GetProperty("outputs")[0];
        var label = json.GetProperty("outputs")[1];
        Assert.Equal(["datatype", "name", "parameters", "shape"], Keys(probability));
        Assert.Equal(("probability", "FP64"), (probability.GetProperty("name").GetString(), probability.GetProperty("datatype").GetString()));
        Assert.Equal(8 * rows.Count, probability.GetProperty("parameters").GetProperty("binary_data_size").GetInt32());
        var labelSize = label.GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
        Assert.Equal(length + (8 * rows.Count) + labelSize, body.Length);

        var worst = 0.0;
        for (var r = 0; r < rows.Count; r++)
        {
            var p = BinaryPrimitives.ReadDoubleLittleEndian(body.AsSpan(length + (8 * r)));
            worst = Math.Max(worst, Math.Abs(p - rows[r][pred]));
        }

        Assert.True(worst <= 1e-6, $"max |Δ probability| {worst:G3}");
        var labels = Texts(body.AsSpan(length + (8 * rows.Count), labelSize));
        Assert.Equal(rows.Count, labels.Count);
        Assert.All(labels, l => Assert.Contains(l, new[] { "0", "1" }));
    }

    [Fact]
    public async Task Binary_and_json_tensors_mix_and_each_output_chooses_its_form()
    {
        await Server.DeployAsync("oip-binary-mix", new { project = "flights", model = "delay/1" });
        var (header, rows) = ServingServer.Sample(3);
        var values = rows.Select(r => r.Take(11).Select(v => double.IsNaN(v) ? 0 : v).ToArray()).ToArray();
        // The first input as JSON data, the rest as FP64 binary data; then the same rows as JSON only.
        var tensors = Enumerable.Range(1, 10).Select(f => Fp64(values.Select(r => r[f]))).ToArray();
        var inputs = new List<object> { new { name = header[0], shape = new[] { 3 }, datatype = "FP64", data = values.Select(r => r[0]).ToArray() } };
        inputs.AddRange(Enumerable.Range(1, 10).Select(f => (object)new { name = header[f], shape = new[] { 3, 1 }, datatype = "FP64", parameters = new { binary_data_size = 24 } }));
        var outputs = new object[] { new { name = "probability", parameters = new { binary_data = true } }, new { name = "label", parameters = new { binary_data = false } } };
        using var http = Server.Http();

        using var mixed = await http.SendAsync(Binary("/v2/models/oip-binary-mix/infer", new { inputs, outputs }, tensors));
        using var plain = await http.PostAsync("/v2/models/oip-binary-mix/infer", Json(new
        {
            inputs = Enumerable.Range(0, 11).Select(f => new { name = header[f], shape = new[] { 3 }, datatype = "FP64", data = values.Select(r => r[f]).ToArray() }),
            outputs = Array.Empty<object>(), // an empty list asks for every output, as an absent one does
        }));

        var body = await mixed.Content.ReadAsByteArrayAsync();
        Assert.True(mixed.StatusCode == HttpStatusCode.OK, Encoding.UTF8.GetString(body));
        var length = int.Parse(mixed.Headers.GetValues(HeaderLength).Single(), CultureInfo.InvariantCulture);
        Assert.Equal(length + 24, body.Length);
        var json = JsonDocument.Parse(body.AsMemory(0, length)).RootElement;
        var expected = await ServingServer.JsonAsync(plain);
        Assert.Equal(2, expected.GetProperty("outputs").GetArrayLength());
        var probabilities = expected.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(p => p.GetDouble()).ToArray();
        Assert.Equal(probabilities, Enumerable.Range(0, 3).Select(r => BinaryPrimitives.ReadDoubleLittleEndian(body.AsSpan(length + (8 * r)))));
        Assert.Equal(
            expected.GetProperty("outputs")[1].GetProperty("data").EnumerateArray().Select(l => l.GetString()),
            json.GetProperty("outputs")[1].GetProperty("data").EnumerateArray().Select(l => l.GetString()));
        Assert.False(json.GetProperty("outputs")[1].TryGetProperty("parameters", out _));
        Assert.Equal("application/json", plain.Content.Headers.ContentType?.MediaType);
        Assert.False(plain.Headers.Contains(HeaderLength));
    }

    [Fact]
    public async Task The_server_metadata_lists_the_binary_extension()
    {
        using var http = Server.Http();
        var metadata = await ServingServer.JsonAsync(await http.GetAsync("/v2"));
        Assert.Contains("binary_tensor_data", metadata.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("FP32", 1, "00000000", "abc", "header 'Inference-Header-Content-Length' must be the length of the body's JSON")]
    [InlineData("FP32", 1, "00000000", "99999", "from 0 to")]
    [InlineData("FP32", 2, "00000000", null, "holds 2 FP32 values, which take 8 bytes, but its 'binary_data_size' is 4")]
    [InlineData("FP32", 1, "0000000000", null, "the body holds 1 bytes after the JSON that no input tensor's 'binary_data_size' accounts for")]
    [InlineData("FP32", 1, "0000807f", null, "element 0 is +infinity, not a finite FP32 value")]
    [InlineData("BOOL", 1, "02", null, "element 0 is the byte 2, not a BOOL value (0 or 1)")]
    [InlineData("BYTES", 1, "02000000c328", null, "element 0 is not UTF-8 text")]
    [InlineData("BYTES", 1, "0900000061", null, "element 0 declares 9 bytes, but its binary data holds 1 more")]
    [InlineData("BYTES", 2, "0100000061", null, "holds 2 BYTES values by its shape, but its binary data holds 1")]
    [InlineData("BYTES", 2, "010000006100", null, "element 1 has a cut-off length")]
    [InlineData("BYTES", 1, "010000006100", null, "holds 1 BYTES values, but its binary data goes on after them (1 more bytes)")]
    public async Task Bad_binary_data_gets_400_naming_the_tensor(string datatype, int count, string hex, string? header, string message)
    {
        await Server.DeployAsync("oip-binary-bad", new { project = "flights", model = "delay/1" });
        var bytes = Convert.FromHexString(hex);
        // The last byte is extra in one case: the declared size leaves it out.
        var declared = message.Contains("accounts for", StringComparison.Ordinal) ? bytes.Length - 1 : bytes.Length;
        using var http = Server.Http();

        using var response = await http.SendAsync(Binary(
            "/v2/models/oip-binary-bad/infer",
            new { inputs = new[] { new { name = "distance", shape = new[] { count }, datatype, parameters = new { binary_data_size = declared } } } },
            [bytes],
            header));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var json = await ServingServer.JsonAsync(response);
        Assert.Contains(message, json.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}}]}""", "has both 'data' and a 'binary_data_size'")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]}""", "declares 4 bytes of binary data, but the body holds 0 more")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": -4}}]}""", "'binary_data_size' must be a whole number of bytes")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "parameters": 4}]}""", "input tensor 'distance': field 'parameters' must be an object")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"binary_data_output": "yes"}}""", "'binary_data_output' must be true or false, not text")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "label", "parameters": {"binary_data": 1}}]}""", "output 'label': field 'parameters': 'binary_data' must be true or false")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "label"}, {"name": "label"}]}""", "output 'label' is asked for twice")]
    [InlineData("""{"inputs": [{"name": "distance", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "probability", "parameters": {"classification": 2}}]}""", "output 'probability': parameter 'classification' (top-k class names) is not supported")]
    public async Task Bad_binary_parameters_get_400(string body, string message)
    {
        await Server.DeployAsync("oip-binary-bad", new { project = "flights", model = "delay/1" });
        using var http = Server.Http();

        using var response = await http.PostAsync("/v2/models/oip-binary-bad/infer", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(message, (await ServingServer.JsonAsync(response)).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    private static HttpRequestMessage Binary(string path, object json, byte[][] tensors, string? header = null)
    {
        var head = JsonSerializer.SerializeToUtf8Bytes(json);
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent([.. head, .. tensors.SelectMany(t => t)]) };
        request.Content.Headers.ContentType = new("application/octet-stream");
        request.Headers.Add(HeaderLength, header ?? head.Length.ToString(CultureInfo.InvariantCulture));
        return request;
    }

    private static byte[] Fp32(IEnumerable<float> values) => Pack(values, 4, (span, v) => BinaryPrimitives.WriteSingleLittleEndian(span, v));

    private static byte[] Fp64(IEnumerable<double> values) => Pack(values, 8, (span, v) => BinaryPrimitives.WriteDoubleLittleEndian(span, v));

    /// <summary>Values of a fixed-size datatype as binary data: little-endian, one after another.</summary>
    private static byte[] Pack<T>(IEnumerable<T> values, int size, SpanAction<byte, T> write)
    {
        var list = values.ToList();
        var bytes = new byte[size * list.Count];
        for (var i = 0; i < list.Count; i++)
        {
            write(bytes.AsSpan(size * i, size), list[i]);
        }

        return bytes;
    }

    /// <summary>BYTES binary data: each value a 4-byte little-endian length and its bytes.</summary>
    private static List<string> Texts(ReadOnlySpan<byte> bytes)
    {
        var texts = new List<string>();
        while (bytes.Length > 0)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes);
            texts.Add(Encoding.UTF8.GetString(bytes.Slice(4, length)));
            bytes = bytes[(4 + length)..];
        }

        return texts;
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static List<string> Keys(JsonElement element) => [.. element.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal)];
}
