using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Strata.Api;

namespace Strata.Tests.Core;

/// <summary>The serializer's failures, told in the document's terms: the field's path and what it must be, never a .NET type.</summary>
public sealed class JsonErrorsTests
{
    private static readonly JsonSerializerOptions Options = new()
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    [Theory]
    [InlineData("""{"id": 1, "count": "many"}""", "field 'count' must be a whole number")]
    [InlineData("""{"id": 1, "score": true}""", "field 'score' must be a number")]
    [InlineData("""{"id": 1, "label": 5}""", "field 'label' must be text")]
    [InlineData("""{"id": 1, "tags": "a"}""", "field 'tags' must be a list")]
    [InlineData("""{"id": 1, "params": [1]}""", "field 'params' must be an object")]
    [InlineData("""{"id": 1, "params": {"a": [1]}}""", "field 'params.a' must be text")]
    [InlineData("""{"id": 1, "at": "soon"}""", "field 'at' must be a date and time (ISO 8601)")]
    [InlineData("""{"id": 1, "on": 1}""", "field 'on' must be true or false")]
    [InlineData("""{"id": 1, "inner": {"size": 1.5}}""", "field 'inner.size' must be a whole number")]
    [InlineData("""{"label": "x"}""", "field 'id' is required")]
    [InlineData("""{"id": 1, "inner": {}}""", "field 'inner.size' is required")]
    [InlineData("""{"id": 1, "lable": "x"}""", "unknown field 'lable' (known: id, count, score, label, tags, params, at, on, inner)")]
    [InlineData("""{"id": 1, "inner": {"sise": 2, "size": 1}}""", "unknown field 'inner.sise' (known: size)")]
    [InlineData("""[1]""", "the document must be an object")]
    [InlineData("{\"id\": 1,\n  \"count\": }", "the document is not valid JSON: '}' is an invalid start of a value (line 2, byte 12)")]
    public void A_failure_names_the_field_and_what_it_must_be(string json, string message)
    {
        var e = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<Document>(json, Options));

        Assert.Equal(message, JsonErrors.Describe(e, "the document", Options.GetTypeInfo(typeof(Document))));
        Assert.DoesNotContain("System.", JsonErrors.Describe(e, "the document"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"id": 1, "label": "a", "label": "b"}""", "field 'label' appears more than once")]
    [InlineData("""{"id": 1, "inner": {"size": 1, "size": 2}}""", "field 'inner.size' appears more than once")]
    [InlineData("""{"id": 1, "params": {"a": "x", "a": "y"}}""", "field 'params.a' appears more than once")]
    public void A_repeated_field_is_named_by_its_path(string json, string message)
    {
        var strict = new JsonSerializerOptions(Options) { AllowDuplicateProperties = false };

        var e = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<Document>(json, strict));

        Assert.True(JsonErrors.IsRepeatedField(e));
        Assert.Equal(message, JsonErrors.Describe(e, "the document", strict.GetTypeInfo(typeof(Document))));
    }

    [Theory]
    [InlineData("""{"a": 1, "a": 2}""", "a")]
    [InlineData("""{"labels": [{"x": 1}, {"x": 1, "label": 1, "label": 2}]}""", "labels[1].label")]
    [InlineData("""[[{"q": {"r": 1, "r": 2}}]]""", "[0][0].q.r")]
    [InlineData("""{"a": {"b": 1}, "c": {"b": 2}, "d": [{"b": 1}, {"b": 2}]}""", null)]
    public void A_document_s_repeated_field_is_found_by_its_path(string json, string? path)
    {
        using var document = JsonDocument.Parse(json);

        Assert.Equal(path, JsonErrors.RepeatedField(document.RootElement));
        var e = Record.Exception(() => JsonDocument.Parse(json, new JsonDocumentOptions { AllowDuplicateProperties = false }).Dispose());
        Assert.Equal(path is not null, e is JsonException refused && JsonErrors.IsRepeatedField(refused));
    }

    [Fact]
    public void A_record_read_through_its_constructor_is_told_from_the_document_s_type()
    {
        var e = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<Pair>("""{"name": 5, "size": 1}""", Options));

        Assert.Equal("field 'name' holds a value of the wrong kind", JsonErrors.Describe(e, "the document"));
        Assert.Equal("field 'name' must be text", JsonErrors.Describe(e, "the document", Options.GetTypeInfo(typeof(Pair))));
    }

    [Theory]
    [InlineData("int", "a whole number")]
    [InlineData("Nullable<int>", "a whole number")]
    [InlineData("System.Int64", "a whole number")]
    [InlineData("System.Nullable`1[System.Double]", "a number")]
    [InlineData("System.Nullable`1[[System.Boolean, System.Private.CoreLib, Version=10.0.0.0]]", "true or false")]
    [InlineData("System.Collections.Generic.IReadOnlyList`1[System.String]", "a list")]
    [InlineData("System.String[]", "a list")]
    [InlineData("Strata.Api.CreateProjectRequest", null)]
    public void A_type_is_told_as_what_its_values_are(string type, string? words) => Assert.Equal(words, ValueWords.Of(type));

    private sealed record Document
    {
        public required int Id { get; init; }

        public int Count { get; set; }

        public double Score { get; set; }

        public string? Label { get; set; }

        public List<string>? Tags { get; set; }

        public Dictionary<string, string>? Params { get; set; }

        public DateTimeOffset? At { get; set; }

        public bool On { get; set; }

        public Inner? Inner { get; set; }
    }

    private sealed record Pair(string Name, int Size);

    private sealed record Inner
    {
        public required int Size { get; init; }
    }
}
