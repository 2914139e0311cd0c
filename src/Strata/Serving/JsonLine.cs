using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;

namespace Strata.Serving;

/// <summary>
/// Writes JSON by hand into a byte buffer, for the prediction log's lines and the predict response: the caller writes
/// the punctuation and the property names (escaped once, see <see cref="Name"/>); values are formatted and escaped
/// here, as <see cref="Utf8JsonWriter"/> would. Its per-call state checks were half the log's encoding time, at one
/// record per prediction.
/// </summary>
public readonly struct JsonLine(ArrayBufferWriter<byte> buffer)
{
    // The longest text of a double ("-2.2250738585072014E-308") or a long, with room to spare.
    private const int MaxNumberBytes = 32;

    /// <summary>The bytes of <c>"name":</c>, escaped as <see cref="Utf8JsonWriter"/> escapes a property name.</summary>
    public static byte[] Name(string name) => Quoted(name, ":"u8);

    /// <summary>The bytes of a JSON string holding <paramref name="text"/> (quotes included).</summary>
    public static byte[] Quoted(string text) => Quoted(text, default);

    private static byte[] Quoted(string text, ReadOnlySpan<byte> after)
    {
        var encoded = Encode(text);
        var bytes = new byte[encoded.Length + 2 + after.Length];
        bytes[0] = (byte)'"';
        encoded.CopyTo(bytes.AsSpan(1));
        bytes[encoded.Length + 1] = (byte)'"';
        after.CopyTo(bytes.AsSpan(encoded.Length + 2));
        return bytes;
    }

    /// <summary>Bytes as they are: punctuation, names and values encoded before.</summary>
    public void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(buffer.GetSpan(bytes.Length));
        buffer.Advance(bytes.Length);
    }

    /// <summary>A whole number.</summary>
    public void Number(long value)
    {
        var span = buffer.GetSpan(MaxNumberBytes);
        Utf8Formatter.TryFormat(value, span, out var written);
        buffer.Advance(written);
    }

    /// <summary>
    /// A number as <see cref="Utf8JsonWriter.WriteNumberValue(double)"/> writes it (the shortest text that reads back
    /// as the same double), whole numbers through the integer formatter: most inputs are codes and counts, and the
    /// shortest round-trip search is the costly part. Same text either way ("258", never "258.0"); -0 and values from
    /// 1e15 up keep the double's form. NaN and infinities, which JSON cannot hold, are written as null.
    /// </summary>
    public void Number(double value)
    {
        if (Math.Abs(value) < 1e15 && value == Math.Truncate(value) && !(value == 0 && double.IsNegative(value)))
        {
            Number((long)value);
            return;
        }

        if (!double.IsFinite(value))
        {
            Raw("null"u8);
            return;
        }

        if (TryShortDecimal(value))
        {
            return;
        }

        // A prediction's probabilities are written twice on its thread (its log line, then its response), so the
        // thread's last few results of the search are kept.
        var bits = BitConverter.DoubleToInt64Bits(value);
        var recent = t_recent ??= new Recent();
        for (var i = 0; i < Recent.Size; i++)
        {
            if (recent.Bits[i] == bits && recent.Lengths[i] > 0)
            {
                Raw(recent.Texts[i].AsSpan(0, recent.Lengths[i]));
                return;
            }
        }

        var span = buffer.GetSpan(MaxNumberBytes);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        var slot = recent.Next;
        recent.Next = (slot + 1) % Recent.Size;
        recent.Bits[slot] = bits;
        recent.Lengths[slot] = written;
        span[..written].CopyTo(recent.Texts[slot]);
        buffer.Advance(written);
    }

    [ThreadStatic]
    private static Recent? t_recent;

    // 10^0 to 10^18, all exact as doubles.
    private static readonly double[] Powers = [.. Enumerable.Range(0, 19).Select(e => double.Parse($"1e{e}", CultureInfo.InvariantCulture))];

    // 1e-4 to 1e15, the bounds of the first digit's place in TryShortDecimal.
    private static readonly double[] Decades = [.. Enumerable.Range(-4, 20).Select(e => double.Parse($"1e{e}", CultureInfo.InvariantCulture))];

    /// <summary>
    /// Writes a number that 15 significant digits hold exactly, between 1e-4 and 1e15 (where the shortest text has no
    /// exponent), without the shortest round-trip search: most inputs are measurements of a few digits. Its digits are
    /// the number scaled to 15 digits and rounded; when that decimal reads back as the same double (one exactly rounded
    /// division) it is the only decimal of at most 15 digits that does, so, less its trailing zeros, it is the shortest.
    /// False (nothing written) for any other number.
    /// </summary>
    private bool TryShortDecimal(double value)
    {
        var magnitude = Math.Abs(value);
        if (!(magnitude >= 1e-4 && magnitude < 1e15))
        {
            return false;
        }

        // The power of ten of the first digit: from the binary exponent (it may come out one low), then checked.
        var first = (Math.ILogB(magnitude) * 1233) >> 12;
        if (first < 14 && magnitude >= Decades[first + 1 + 4])
        {
            first++;
        }

        var places = 14 - first;
        if (places is < 0 or > 18)
        {
            return false;
        }

        // Fifteen digits exactly (else the first digit's place was misjudged), reading back as the same double.
        var scaled = Math.Round(magnitude * Powers[places]);
        if (scaled < 1e14 || scaled >= 1e15 || scaled / Powers[places] != magnitude)
        {
            return false;
        }

        var digits = (long)scaled;
        while (places >= 4 && digits % 10_000 == 0)
        {
            digits /= 10_000;
            places -= 4;
        }

        while (places > 0 && digits % 10 == 0)
        {
            digits /= 10;
            places--;
        }

        // The digits, then the point put in place: inside them (1418.5), or before them after zeros (0.0455).
        var span = buffer.GetSpan(MaxNumberBytes);
        var at = 0;
        if (value < 0)
        {
            span[at++] = (byte)'-';
        }

        if (first < 0)
        {
            "0."u8.CopyTo(span[at..]);
            span.Slice(at + 2, -first - 1).Fill((byte)'0');
            at += 1 - first;
            Utf8Formatter.TryFormat(digits, span[at..], out var written);
            at += written;
        }
        else
        {
            Utf8Formatter.TryFormat(digits, span[at..], out var written);
            if (places > 0)
            {
                var point = at + first + 1;
                span.Slice(point, places).CopyTo(span[(point + 1)..]);
                span[point] = (byte)'.';
                written++;
            }

            at += written;
        }

        buffer.Advance(at);
        return true;
    }

    /// <summary>The last doubles a thread formatted the long way, with their text.</summary>
    private sealed class Recent
    {
        public const int Size = 4;
        public readonly long[] Bits = new long[Size];
        public readonly int[] Lengths = new int[Size];
        public readonly byte[][] Texts = [new byte[MaxNumberBytes], new byte[MaxNumberBytes], new byte[MaxNumberBytes], new byte[MaxNumberBytes]];
        public int Next;
    }

    /// <summary>
    /// A JSON string. Text of plain ASCII (letters, digits, most punctuation) is copied as it is; anything else is
    /// escaped as <see cref="Utf8JsonWriter"/> escapes it by default, so the two write the same bytes.
    /// </summary>
    public void String(string text)
    {
        if (!IsPlain(text))
        {
            Raw(Quoted(text));
            return;
        }

        var span = buffer.GetSpan(text.Length + 2);
        span[0] = (byte)'"';
        System.Text.Ascii.FromUtf16(text, span[1..], out _);
        span[text.Length + 1] = (byte)'"';
        buffer.Advance(text.Length + 2);
    }

    /// <summary>
    /// A number of milliseconds rounded to 4 decimals, as <see cref="Number(double)"/> writes <c>Math.Round(value, 4)</c>
    /// (below 1e10 its text has at most 14 digits, so it takes the short-decimal way, not the round-trip search).
    /// </summary>
    public void Milliseconds(double value) => Number(Math.Round(value, 4));

    /// <summary>
    /// Escapes text as the JSON writer does. A lone surrogate (which JSON's UTF-8 cannot hold, and the encoder refuses) is
    /// written as U+FFFD, the replacement character: one odd value must not stop the log.
    /// </summary>
    private static ReadOnlySpan<byte> Encode(string text)
    {
        try
        {
            return JsonEncodedText.Encode(text).EncodedUtf8Bytes;
        }
        catch (ArgumentException)
        {
            var chars = text.ToCharArray();
            for (var i = 0; i < chars.Length; i++)
            {
                if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
                {
                    i++;
                }
                else if (char.IsSurrogate(chars[i]))
                {
                    chars[i] = '\uFFFD';
                }
            }

            return JsonEncodedText.Encode(new string(chars)).EncodedUtf8Bytes;
        }
    }

    // What the default encoder leaves as it is: printable ASCII but for JSON's and HTML's specials.
    private static readonly SearchValues<char> Plain = SearchValues.Create(
        " !#$%()*,-./0123456789:;=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~");

    private static bool IsPlain(string text) => text.AsSpan().IndexOfAnyExcept(Plain) < 0;
}
