using System.Globalization;
using System.Text;

namespace Strata;

/// <summary>
/// The root of every error Strata raises on purpose. <see cref="Code"/> is stable across releases, so callers (the CLI's
/// exit codes, the server's problem+json) branch on it instead of on message text.
/// </summary>
public class StrataException : Exception
{
    /// <summary>Creates an error with a stable code.</summary>
    public StrataException(string code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>A stable, dotted error code from <see cref="ErrorCodes"/>.</summary>
    public string Code { get; }

    /// <summary>
    /// Seconds after which the same request may well succeed (something another process holds for a while is expected
    /// to be free by then); 0 gives no such advice. The server answers it as <c>Retry-After</c>.
    /// </summary>
    public int RetryAfterSeconds { get; init; }

    /// <summary>What a caller refused behind a lock that other work holds is told to wait before it tries again.</summary>
    public const int LockBusyRetryAfterSeconds = 5;

    /// <summary>
    /// The refusal of work that waited its bound for a lock other work still holds (a materialization, another replica's
    /// merge): a conflict that passes, so a 409 with a Retry-After at the HTTP edge. <paramref name="held"/> says what
    /// holds what; nothing was written.
    /// </summary>
    public static StrataException LockBusy(string held, TimeSpan waited, Exception? innerException = null) => new(
        ErrorCodes.Conflict,
        $"{held}; waited {waited.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s, nothing was written; retry shortly",
        innerException)
    { RetryAfterSeconds = LockBusyRetryAfterSeconds };

    /// <summary>True when the caller's input caused the error (a 4xx at the HTTP edge), false for Strata's own failures.</summary>
    public virtual bool IsCallerError => ErrorCodes.IsCallerError(Code);
}

/// <summary>
/// Bad input data: the message names the input, line, column and (unless the column is PII) the offending value, e.g.
/// <c>flights.csv:17: column 'delay': cannot read 'abc' as int64</c>.
/// </summary>
public sealed class DataFormatException : StrataException
{
    /// <summary>Creates an error located in an input.</summary>
    public DataFormatException(string code, string detail, DataLocation location, Exception? innerException = null)
        : base(code, Compose(detail, location), innerException)
    {
        Detail = detail;
        Location = location;
    }

    /// <summary>What is wrong, without the location prefix.</summary>
    public string Detail { get; }

    /// <summary>Where it is wrong.</summary>
    public DataLocation Location { get; }

    private static string Compose(string detail, DataLocation location)
    {
        var prefix = location.ToString();
        return prefix.Length == 0 ? detail : prefix + ": " + detail;
    }
}

/// <summary>A position in an input: its name, 1-based line, column name and byte offset, each optional.</summary>
public readonly record struct DataLocation(string? Input, long? Line = null, string? Column = null, long? ByteOffset = null)
{
    /// <summary>The same location in another column.</summary>
    public DataLocation InColumn(string? column) => this with { Column = column };

    /// <summary>Formats as <c>input:line: column 'c'</c> (parts that are unknown are left out).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Input is not null)
        {
            sb.Append(Input);
        }

        if (Line is { } line)
        {
            sb.Append(sb.Length > 0 ? ":" : "line ").Append(line.ToString(CultureInfo.InvariantCulture));
        }
        else if (ByteOffset is { } offset)
        {
            sb.Append(sb.Length > 0 ? ":" : "").Append("byte ").Append(offset.ToString(CultureInfo.InvariantCulture));
        }

        if (Column is not null)
        {
            sb.Append(sb.Length > 0 ? ": " : "").Append("column '").Append(Column).Append('\'');
        }

        return sb.ToString();
    }
}

/// <summary>Stable error codes. Codes under <c>data.</c>, <c>schema.</c>, <c>argument.</c> and <c>not_found</c> are the caller's mistakes.</summary>
public static class ErrorCodes
{
    /// <summary>Input that does not follow its format (unterminated quote, invalid JSON, bad Arrow metadata).</summary>
    public const string DataMalformed = "data.malformed";

    /// <summary>A value that cannot be read as its column's type.</summary>
    public const string DataType = "data.type_mismatch";

    /// <summary>A value outside the range of its type (an integer beyond int64).</summary>
    public const string DataOutOfRange = "data.out_of_range";

    /// <summary>A null where the schema forbids one.</summary>
    public const string DataNull = "data.null_not_allowed";

    /// <summary>Bytes that are not valid UTF-8.</summary>
    public const string DataEncoding = "data.encoding";

    /// <summary>An input with nothing in it.</summary>
    public const string DataEmpty = "data.empty";

    /// <summary>An input beyond a configured size limit (record length, column count, file size).</summary>
    public const string DataLimit = "data.limit_exceeded";

    /// <summary>A format feature Strata does not read (Arrow body compression, an unknown type).</summary>
    public const string DataUnsupported = "data.unsupported";

    /// <summary>A schema that contradicts itself or the data (duplicate names, a null in a non-nullable column).</summary>
    public const string SchemaInvalid = "schema.invalid";

    /// <summary>A bad argument from the caller.</summary>
    public const string ArgumentInvalid = "argument.invalid";

    /// <summary>Something named by the caller does not exist.</summary>
    public const string NotFound = "not_found";

    /// <summary>The request contradicts what is stored (a name already taken, a version already archived, a decided request).</summary>
    public const string Conflict = "conflict";

    /// <summary>The caller is not allowed to do this (a missing role, an unapproved move of a protected alias).</summary>
    public const string Forbidden = "forbidden";

    /// <summary>The caller is not identified (no or an unknown API key).</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary>An I/O failure in Strata's own storage.</summary>
    public const string Io = "io";

    /// <summary>True for the codes that describe the caller's mistake rather than Strata's failure.</summary>
    public static bool IsCallerError(string code) =>
        code.StartsWith("data.", StringComparison.Ordinal)
        || code.StartsWith("schema.", StringComparison.Ordinal)
        || code.StartsWith("argument.", StringComparison.Ordinal)
        || code is NotFound or Conflict or Forbidden or Unauthorized;
}
