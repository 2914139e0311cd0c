using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using Strata.Serving;

namespace Strata.Server.Serving;

// The usual request, read without a JSON reader.
internal static partial class PredictJson
{
    // Powers of ten a double holds exactly: a number of at most 2^53 in its digits, scaled by one of them, is rounded
    // once, so it comes out as the correctly rounded double, the same one the full parser finds (Clinger's fast path).
    private static readonly double[] ExactPowers =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    /// <summary>
    /// Reads the usual body, <c>{"rows": [{"name": value, …}]}</c>: one row, its names and text plain printable ASCII
    /// without escapes, its values finite numbers, text or null, JSON's whitespace anywhere between. It is most requests,
    /// and a JSON reader's token-by-token checks were most of their parsing. False for anything else (more rows, escapes,
    /// other characters, malformed JSON): <see cref="TryParseRows"/> reads those, and what this accepts it reads alike.
    /// </summary>
    internal static bool TryReadOneRow(ReadOnlySpan<byte> body, [NotNullWhen(true)] out PredictionInput? input)
    {
        input = null;
        var i = 0;
        if (!Punctuation(body, ref i, (byte)'{') || !Text(body, ref i, out var key) || !key.SequenceEqual("rows"u8)
            || !Punctuation(body, ref i, (byte)':') || !Punctuation(body, ref i, (byte)'[') || !Punctuation(body, ref i, (byte)'{'))
        {
            return false;
        }

        var row = StartRow();
        if (!Punctuation(body, ref i, (byte)'}'))
        {
            while (true)
            {
                if (!Text(body, ref i, out var nameBytes) || FieldNames.Get(nameBytes, row.Count) is not { } name
                    || !Punctuation(body, ref i, (byte)':'))
                {
                    return false;
                }

                Whitespace(body, ref i);
                if (i >= body.Length)
                {
                    return false;
                }

                var added = body[i] switch
                {
                    (byte)'"' => Text(body, ref i, out var text) && row.Add(name, double.NaN, System.Text.Encoding.ASCII.GetString(text)),
                    (byte)'n' => Null(body, ref i) && row.Add(name, double.NaN, null),
                    _ => Number(body, ref i, out var number) && row.Add(name, number, null),
                };
                if (!added)
                {
                    return false;
                }

                if (Punctuation(body, ref i, (byte)'}'))
                {
                    break;
                }

                if (!Punctuation(body, ref i, (byte)','))
                {
                    return false;
                }
            }
        }

        if (!Punctuation(body, ref i, (byte)']') || !Punctuation(body, ref i, (byte)'}'))
        {
            return false;
        }

        Whitespace(body, ref i);
        input = i == body.Length ? row.Take() : null;
        return input is not null; // else more after the body, or a repeated name: the JSON reader's way says what is wrong
    }

    private static bool Null(ReadOnlySpan<byte> body, ref int i)
    {
        if (!body[i..].StartsWith("null"u8))
        {
            return false;
        }

        i += 4;
        return true;
    }

    /// <summary>Skips whitespace, then takes <paramref name="expected"/> if it is next.</summary>
    private static bool Punctuation(ReadOnlySpan<byte> body, ref int i, byte expected)
    {
        Whitespace(body, ref i);
        if (i < body.Length && body[i] == expected)
        {
            i++;
            return true;
        }

        return false;
    }

    private static void Whitespace(ReadOnlySpan<byte> body, ref int i)
    {
        while (i < body.Length && body[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            i++;
        }
    }

    /// <summary>Skips whitespace, then takes a string of printable ASCII without escapes; its bytes are what it holds.</summary>
    private static bool Text(ReadOnlySpan<byte> body, ref int i, out ReadOnlySpan<byte> text)
    {
        text = default;
        Whitespace(body, ref i);
        if (i >= body.Length || body[i] != (byte)'"')
        {
            return false;
        }

        var start = i + 1;
        var length = body[start..].IndexOfAny((byte)'"', (byte)'\\');
        if (length < 0 || body[start + length] != (byte)'"' || body.Slice(start, length).ContainsAnyExceptInRange((byte)' ', (byte)'~'))
        {
            return false; // no end, an escape, or a control character or non-ASCII byte
        }

        text = body.Slice(start, length);
        i = start + length + 1;
        return true;
    }

    /// <summary>
    /// Takes a JSON number (<c>-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?</c>) that is finite as a double. Most are a few
    /// digits, computed exactly here; the rest go to the same parser the JSON reader uses.
    /// </summary>
    private static bool Number(ReadOnlySpan<byte> body, ref int i, out double value)
    {
        value = 0;
        var start = i;
        var negative = i < body.Length && body[i] == (byte)'-';
        if (negative)
        {
            i++;
        }

        if (i >= body.Length || !char.IsAsciiDigit((char)body[i]))
        {
            return false;
        }

        // The digits as a whole number (while it stays exact), and the power of ten the point and exponent scale it by.
        ulong digits = 0;
        var significant = 0;
        var scale = 0;
        if (body[i] == (byte)'0')
        {
            i++;
            if (i < body.Length && char.IsAsciiDigit((char)body[i]))
            {
                return false; // JSON has no leading zeros
            }
        }
        else
        {
            Digits(body, ref i, ref digits, ref significant, ref scale, fraction: false);
        }

        if (i < body.Length && body[i] == (byte)'.')
        {
            i++;
            if (i >= body.Length || !char.IsAsciiDigit((char)body[i]))
            {
                return false;
            }

            Digits(body, ref i, ref digits, ref significant, ref scale, fraction: true);
        }

        if (i < body.Length && body[i] is (byte)'e' or (byte)'E')
        {
            i++;
            var exponentNegative = i < body.Length && body[i] == (byte)'-';
            if (i < body.Length && body[i] is (byte)'-' or (byte)'+')
            {
                i++;
            }

            if (i >= body.Length || !char.IsAsciiDigit((char)body[i]))
            {
                return false;
            }

            var exponent = 0;
            while (i < body.Length && char.IsAsciiDigit((char)body[i]))
            {
                exponent = Math.Min((exponent * 10) + (body[i] - '0'), 100_000); // far beyond any double either way
                i++;
            }

            scale += exponentNegative ? -exponent : exponent;
        }

        if (significant <= 19 && digits <= (1UL << 53) && scale is >= -22 and <= 22)
        {
            value = scale >= 0 ? digits * ExactPowers[scale] : digits / ExactPowers[-scale];
            value = negative ? -value : value;
            return true;
        }

        // Too many digits, or a scale beyond the exact powers: the full parser, which rounds any length correctly.
        return Utf8Parser.TryParse(body[start..i], out value, out var consumed) && consumed == i - start && double.IsFinite(value);
    }

    /// <summary>Reads a run of digits into <paramref name="digits"/>, counting those after the first non-zero one.</summary>
    private static void Digits(ReadOnlySpan<byte> body, ref int i, ref ulong digits, ref int significant, ref int scale, bool fraction)
    {
        while (i < body.Length && char.IsAsciiDigit((char)body[i]))
        {
            var digit = (uint)(body[i] - '0');
            if (significant < 19)
            {
                digits = (digits * 10) + digit;
                significant += digits == 0 ? 0 : 1;
                scale -= fraction ? 1 : 0;
            }
            else
            {
                significant++; // past what is exact: the full parser takes this one
            }

            i++;
        }
    }
}
