using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Primitives;
using Strata.Learning;
using Strata.Serving;

namespace Strata.Server.Serving;

// The binary tensor data extension (Triton's and KServe's): a tensor's values as little-endian bytes after the JSON,
// sized by its binary_data_size; Inference-Header-Content-Length gives the JSON's length. Triton's clients send
// inputs this way and ask for binary outputs by default, so without it they fail against a plain JSON server.
internal static partial class InferenceJson
{
    /// <summary>The header that gives the length of a body's JSON when binary tensor data follows it.</summary>
    public const string HeaderLengthHeader = "Inference-Header-Content-Length";

    /// <summary>The protocol's extension name, listed in the server metadata.</summary>
    public const string BinaryExtension = "binary_tensor_data";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Splits a body into its JSON and the binary tensor data after it, at the length <paramref name="header"/> gives
    /// (<see cref="HeaderLengthHeader"/>); without the header the whole body is JSON.
    /// </summary>
    /// <exception cref="StrataException">The header is not a length within the body.</exception>
    public static (ReadOnlySequence<byte> Json, ReadOnlySequence<byte> Binary) Split(ReadOnlySequence<byte> body, StringValues header)
    {
        if (header.Count == 0)
        {
            return (body, ReadOnlySequence<byte>.Empty);
        }

        if (header.Count > 1 || !long.TryParse(header[0], NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > body.Length)
        {
            var text = header.ToString();
            throw Invalid($"header '{HeaderLengthHeader}' must be the length of the body's JSON, a whole number from 0 to {body.Length} (the body's length), not '{(text.Length > 40 ? text[..40] + "…" : text)}'");
        }

        return (body.Slice(0, length), body.Slice(length));
    }

    /// <summary>Bytes a value of a fixed-size datatype takes as binary data (0 for BYTES, whose values carry their length).</summary>
    private static int ElementSize(string datatype) => datatype switch
    {
        "BOOL" or "UINT8" or "INT8" => 1,
        "UINT16" or "INT16" or "FP16" => 2,
        "UINT32" or "INT32" or "FP32" => 4,
        "UINT64" or "INT64" or "FP64" => 8,
        _ => 0,
    };

    /// <summary>A boolean parameter (<c>binary_data</c>, <c>binary_data_output</c>) of a <c>parameters</c> object; null when it is not given.</summary>
    private static bool? BinaryParameter(JsonElement parameters, string name, string where)
    {
        if (parameters.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{where} must be an object");
        }

        if (!parameters.TryGetProperty(name, out var value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid($"{where}: '{name}' must be true or false, not {PredictJson.Kind(value)}"),
        };
    }

    /// <summary>An input tensor's <c>parameters.binary_data_size</c>; null when its data is JSON.</summary>
    private static long? BinaryDataSize(JsonElement tensor, string name)
    {
        if (!tensor.TryGetProperty("parameters", out var parameters))
        {
            return null;
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"input tensor '{name}': field 'parameters' must be an object");
        }

        if (!parameters.TryGetProperty("binary_data_size", out var size))
        {
            return null;
        }

        return size.ValueKind == JsonValueKind.Number && size.TryGetInt64(out var bytes) && bytes >= 0
            ? bytes
            : throw Invalid($"input tensor '{name}': 'binary_data_size' must be a whole number of bytes, not {PredictJson.Kind(size)}");
    }

    /// <summary>Encodes the outputs asked for as binary data, in order, into <paramref name="into"/>; returns each one's size.</summary>
    private static Dictionary<string, long> WriteBinaryOutputs(ArrayBufferWriter<byte> into, IEnumerable<ModelOutput> outputs, PredictionOutput output)
    {
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var o in outputs)
        {
            var start = into.WrittenCount;
            var datatype = Datatype(o.Type);
            var values = new OutputValues(o, output);
            for (var r = 0; r < output.Rows; r++)
            {
                if (datatype == "BYTES")
                {
                    var text = values.Text(r) ?? values.Number(r).ToString("R", CultureInfo.InvariantCulture);
                    var length = Encoding.UTF8.GetByteCount(text);
                    BinaryPrimitives.WriteUInt32LittleEndian(into.GetSpan(4), (uint)length);
                    into.Advance(4);
                    into.Advance(Encoding.UTF8.GetBytes(text, into.GetSpan(length)));
                    continue;
                }

                var number = values.Number(r);
                var span = into.GetSpan(8);
                var size = ElementSize(datatype);
                switch (datatype)
                {
                    case "FP64": BinaryPrimitives.WriteDoubleLittleEndian(span, number); break;
                    case "FP32": BinaryPrimitives.WriteSingleLittleEndian(span, (float)number); break;
                    case "FP16": BinaryPrimitives.WriteHalfLittleEndian(span, (Half)number); break;
                    case "INT64": BinaryPrimitives.WriteInt64LittleEndian(span, (long)number); break;
                    case "INT32": BinaryPrimitives.WriteInt32LittleEndian(span, (int)number); break;
                    case "BOOL": span[0] = number != 0 ? (byte)1 : (byte)0; break;
                    default: throw new InvalidOperationException($"output '{o.Name}' has datatype {datatype}, which has no binary form here");
                }

                into.Advance(size);
            }

            sizes[o.Name] = into.WrittenCount - start;
        }

        return sizes;
    }

    /// <summary>The body after the JSON, taken in order by the tensors that declare binary data; every byte must be taken.</summary>
    private sealed class BinaryData(ReadOnlySequence<byte> rest)
    {
        private ReadOnlySequence<byte> _rest = rest;

        /// <summary>The next <paramref name="size"/> bytes, for tensor <paramref name="name"/>.</summary>
        public byte[] Take(long size, string name)
        {
            if (size > _rest.Length)
            {
                throw Invalid($"input tensor '{name}' declares {size} bytes of binary data, but the body holds {_rest.Length} more after the JSON and the tensors before it"
                    + " (binary data follows the JSON, whose length the header 'Inference-Header-Content-Length' gives)");
            }

            var bytes = _rest.Slice(0, size).ToArray();
            _rest = _rest.Slice(size);
            return bytes;
        }

        /// <summary>Refuses bytes no tensor declared (a wrong size or a wrong header).</summary>
        public void CheckAllTaken()
        {
            if (_rest.Length > 0)
            {
                throw Invalid($"the body holds {_rest.Length} bytes after the JSON that no input tensor's 'binary_data_size' accounts for");
            }
        }
    }

    /// <summary>A tensor's values read from binary data: numbers (NaN = missing), booleans as 1 and 0, or, for BYTES, UTF-8 text.</summary>
    private sealed class BinaryValues
    {
        private readonly double[]? _numbers;
        private readonly string[]? _texts;
        private readonly bool _booleans;

        private BinaryValues(double[]? numbers, string[]? texts, bool booleans = false)
        {
            _numbers = numbers;
            _texts = texts;
            _booleans = booleans;
        }

        /// <summary>Decodes <paramref name="bytes"/> as <paramref name="elements"/> values of <paramref name="datatype"/>, checking each.</summary>
        public static BinaryValues Read(string name, string datatype, long elements, byte[] bytes)
        {
            if (datatype == "BYTES")
            {
                return new BinaryValues(null, ReadTexts(name, elements, bytes));
            }

            var size = ElementSize(datatype);
            if (bytes.LongLength != elements * size)
            {
                throw Invalid($"input tensor '{name}' holds {elements} {datatype} values, which take {elements * size} bytes, but its 'binary_data_size' is {bytes.LongLength}");
            }

            var numbers = new double[elements];
            for (var i = 0; i < numbers.Length; i++)
            {
                var at = bytes.AsSpan(i * size, size);
                numbers[i] = datatype switch
                {
                    "BOOL" => at[0] switch
                    {
                        0 => 0,
                        1 => 1,
                        _ => throw Invalid($"input tensor '{name}': element {i} is the byte {at[0]}, not a BOOL value (0 or 1)"),
                    },
                    "UINT8" => at[0],
                    "INT8" => (sbyte)at[0],
                    "UINT16" => BinaryPrimitives.ReadUInt16LittleEndian(at),
                    "INT16" => BinaryPrimitives.ReadInt16LittleEndian(at),
                    "UINT32" => BinaryPrimitives.ReadUInt32LittleEndian(at),
                    "INT32" => BinaryPrimitives.ReadInt32LittleEndian(at),
                    "UINT64" => BinaryPrimitives.ReadUInt64LittleEndian(at),
                    "INT64" => BinaryPrimitives.ReadInt64LittleEndian(at),
                    "FP16" => (double)BinaryPrimitives.ReadHalfLittleEndian(at),
                    "FP32" => BinaryPrimitives.ReadSingleLittleEndian(at),
                    _ => BinaryPrimitives.ReadDoubleLittleEndian(at),
                };

                // NOTE: NaN is a missing value, as numpy arrays given to XGBoost mark one; an infinity is no feature value.
                if (double.IsInfinity(numbers[i]))
                {
                    throw Invalid($"input tensor '{name}': element {i} is {(numbers[i] > 0 ? "+" : "-")}infinity, not a finite {datatype} value");
                }
            }

            return new BinaryValues(numbers, null, booleans: datatype == "BOOL");
        }

        public void SetInto(PredictJson.ColumnBuilder builder, int element, int row)
        {
            if (_texts is not null)
            {
                builder.SetText(row, _texts[element]);
            }
            else if (_booleans)
            {
                builder.SetBoolean(row, _numbers![element] != 0);
            }
            else if (!double.IsNaN(_numbers![element]))
            {
                builder.SetNumber(row, _numbers[element]);
            }
        }

        /// <summary>BYTES values: each a 4-byte little-endian length and that many bytes, which must be UTF-8 text here.</summary>
        private static string[] ReadTexts(string name, long elements, byte[] bytes)
        {
            var texts = new List<string>((int)Math.Min(elements, 1 << 16));
            var at = 0;
            while (at < bytes.Length)
            {
                if (texts.Count == elements)
                {
                    throw Invalid($"input tensor '{name}' holds {elements} BYTES values, but its binary data goes on after them ({bytes.Length - at} more bytes)");
                }

                if (bytes.Length - at < 4)
                {
                    throw Invalid($"input tensor '{name}': element {texts.Count} has a cut-off length (each BYTES value is a 4-byte length and its bytes)");
                }

                var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
                at += 4;
                if (length > bytes.Length - at)
                {
                    throw Invalid($"input tensor '{name}': element {texts.Count} declares {length} bytes, but its binary data holds {bytes.Length - at} more");
                }

                try
                {
                    texts.Add(StrictUtf8.GetString(bytes, at, (int)length));
                }
                catch (DecoderFallbackException e)
                {
                    throw new StrataException(ErrorCodes.DataEncoding, $"input tensor '{name}': element {texts.Count} is not UTF-8 text", e);
                }

                at += (int)length;
            }

            return texts.Count == elements
                ? [.. texts]
                : throw Invalid($"input tensor '{name}' holds {elements} BYTES values by its shape, but its binary data holds {texts.Count}");
        }
    }
}
