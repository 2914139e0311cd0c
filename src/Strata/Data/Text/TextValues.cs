using System.Text;

namespace Strata.Data.Text;

/// <summary>How a raw value appears in a message: quoted, shortened, control characters escaped, PII withheld.</summary>
internal static class TextValues
{
    public const string Redacted = "<redacted: pii>";

    public static string Show(ReadOnlySpan<byte> value, bool pii)
    {
        if (pii)
        {
            return Redacted;
        }

        var text = Encoding.UTF8.GetString(value.Length > 200 ? value[..200] : value);
        var sb = new StringBuilder("'");
        foreach (var ch in text.Length > 60 ? text[..60] : text)
        {
            sb.Append(ch switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\'' => "\\'",
                _ when char.IsControl(ch) => $"\\u{(int)ch:x4}",
                _ => ch.ToString(),
            });
        }

        sb.Append(text.Length > 60 || value.Length > 200 ? "…'" : "'");
        return sb.ToString();
    }
}
