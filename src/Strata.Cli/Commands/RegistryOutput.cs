using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using SpectreTable = Spectre.Console.Table;

namespace Strata.Cli.Commands;

/// <summary>How the registry commands print: JSON (snake_case, enums as words) with --json, tables otherwise.</summary>
internal static class RegistryOutput
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>Prints a value as JSON on stdout.</summary>
    public static void WriteRegistryJson<T>(this CliContext context, T value) => context.WriteJsonText(JsonSerializer.Serialize(value, Json));

    /// <summary>A table with bold headers.</summary>
    public static SpectreTable Table(params string[] columns)
    {
        var table = new SpectreTable().Border(TableBorder.Rounded);
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn($"[bold]{Markup.Escape(column)}[/]"));
        }

        return table;
    }

    /// <summary>Adds a row of plain text (escaped).</summary>
    public static SpectreTable Row(this SpectreTable table, params string?[] cells)
    {
        table.AddRow(cells.Select(c => Markup.Escape(c ?? "")).ToArray());
        return table;
    }

    /// <summary>A word for an enum value.</summary>
    public static string Word<T>(T value)
        where T : struct, Enum => value.ToString().ToLowerInvariant();
}
