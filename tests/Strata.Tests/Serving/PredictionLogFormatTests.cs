using System.Buffers;
using System.Text;
using System.Text.Json;
using Strata.Serving;

namespace Strata.Tests.Serving;

public sealed class PredictionLogFormatTests
{
    [Fact]
    public void Whole_numbers_are_written_as_the_double_formatter_writes_them()
    {
        var values = new List<double>
        {
            0, -0.0, 1, -1, 258, 1418.5, 2.77270007, 0.0454999991, 1e14, -1e14, 999_999_999_999_999, 1e15, -1e15, 1e16, 123456789012345,
            double.Epsilon, -double.Epsilon, 4503599627370496, 9007199254740993, 1e300, -1e-300, 0.1, 1.0 / 3,
        };
        var random = new Random(7);
        for (var i = 0; i < 10_000; i++)
        {
            values.Add(Math.Round((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(0, 18)), random.Next(0, 3)));
        }

        var field = JsonEncodedText.Encode("x");
        foreach (var value in values)
        {
            Assert.Equal(Write(json => json.WriteNumber(field, value)), Write(json => PredictionLog.WriteNumber(json, field, value)));
        }
    }

    private static string Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
