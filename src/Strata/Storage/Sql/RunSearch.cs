using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Strata.Stores;

namespace Strata.Storage.Sql;

/// <summary>
/// Parses MLflow-style run filters and orders and turns them into one SQL query with keyset paging. When the order is a
/// metric or a parameter, the query walks that index in order and stops at the page size, so a sorted top-100 over a
/// million runs reads a few hundred index entries, not the table.
/// </summary>
internal static class RunSearch
{
    private enum Scope
    {
        Metric,
        Param,
        Tag,
        Attribute,
    }

    private sealed record Clause(Scope Scope, string Key, string Op, object Value);

    private sealed record Order(Scope Scope, string Key, bool Descending);

    /// <summary>The SQL (selecting run columns plus SortValue) and its parameters for one page.</summary>
    public static (string Sql, DynamicParameters Parameters, Func<RunRow, string> NextToken) Build(SqlDialect dialect, string project, RunQuery query)
    {
        var clauses = ParseFilter(query.Filter);
        var order = ParseOrder(query.OrderBy);
        var limit = Math.Clamp(query.MaxResults, 1, 10_000);
        var fingerprint = Fingerprint(project, query);
        var p = new DynamicParameters();
        p.Add("project", project);
        p.Add("limit", limit + 1);
        var where = new List<string>();
        string from;
        string sortValue;
        string sortColumn;
        string idColumn;
        if (order.Scope is Scope.Metric or Scope.Param)
        {
            var table = order.Scope == Scope.Metric ? "latest_metrics" : "run_params";
            from = $"{table} o JOIN runs r ON r.id = o.run_id";
            where.Add(order.Scope == Scope.Metric ? "o.project = @project" : "r.project = @project");
            where.Add("o.key = @orderKey");
            p.Add("orderKey", order.Key);
            sortValue = "o.value";
            sortColumn = "o.value";

            // Ties break on the driving index's own run id, so the index gives the order and no sort is needed.
            idColumn = "o.run_id";

            // Filters on the ordering metric narrow the index range instead of probing it again.
            foreach (var c in clauses.Where(c => c.Scope == order.Scope && c.Key == order.Key && c.Op != "!=" && c.Op != "LIKE").ToList())
            {
                var name = $"o{where.Count}";
                where.Add($"o.value {c.Op} @{name}");
                p.Add(name, c.Value);
                clauses.Remove(c);
            }
        }
        else
        {
            from = "runs r";
            where.Add("r.project = @project");
            sortColumn = AttributeColumn(order.Key);
            sortValue = sortColumn;
            idColumn = "r.id";
        }

        if (query.ExperimentIds.Count == 1)
        {
            where.Add("r.experiment_id = @experiment");
            p.Add("experiment", query.ExperimentIds[0]);
        }
        else if (query.ExperimentIds.Count > 1)
        {
            where.Add(dialect.InList("r.experiment_id", "experiments"));
            p.Add("experiments", query.ExperimentIds.ToArray());
        }

        for (var i = 0; i < clauses.Count; i++)
        {
            where.Add(Condition(clauses[i], $"f{i}", p));
        }

        if (query.PageToken is { Length: > 0 } token)
        {
            var (value, id) = ReadToken(token, fingerprint);
            p.Add("afterValue", value);
            p.Add("afterId", id);
            var cmp = order.Descending ? "<" : ">";

            // A row-value comparison is one index range in both SQLite and PostgreSQL (an OR of two conditions is not).
            where.Add($"({sortColumn}, {idColumn}) {cmp} (@afterValue, @afterId)");
        }

        var direction = order.Descending ? "DESC" : "ASC";
        var sql =
            $"SELECT {RunColumns}, {sortValue} AS SortValue FROM {from} WHERE {string.Join(" AND ", where)} " +
            $"ORDER BY {sortColumn} {direction}, {idColumn} {direction} LIMIT @limit";
        return (sql, p, row => WriteToken(fingerprint, row.SortValue, row.Id));
    }

    /// <summary>Run columns with the aliases <see cref="RunRow"/> reads.</summary>
    public const string RunColumns =
        "r.id AS Id, r.project AS Project, r.experiment_id AS ExperimentId, r.name AS Name, r.status AS Status, r.start_time AS StartTime, " +
        "r.end_time AS EndTime, r.source AS Source, r.created_by AS CreatedBy, r.parent_run_id AS ParentRunId";

    private static string Condition(Clause c, string name, DynamicParameters p)
    {
        p.Add(name, c.Value);
        p.Add(name + "k", c.Key);
        var op = c.Op;
        return c.Scope switch
        {
            Scope.Metric => $"EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.id AND m.key = @{name}k AND m.value {op} @{name})",
            Scope.Param => $"EXISTS (SELECT 1 FROM run_params q WHERE q.run_id = r.id AND q.key = @{name}k AND q.value {op} @{name})",
            Scope.Tag => $"EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.key = @{name}k AND t.value {op} @{name})",
            _ => $"{AttributeColumn(c.Key)} {op} @{name}",
        };
    }

    private static string AttributeColumn(string key) => key switch
    {
        "start_time" => "r.start_time",
        "end_time" => "COALESCE(r.end_time, 0)", // running runs have no end: they sort first (as 0) so keyset paging stays total
        "status" => "r.status",
        "run_name" or "name" => "r.name",
        "run_id" or "id" => "r.id",
        "created_by" or "user" => "r.created_by",
        _ => throw Invalid($"unknown run attribute '{key}' (start_time, end_time, status, run_name, run_id, created_by)"),
    };

    private static List<Clause> ParseFilter(string? filter)
    {
        var clauses = new List<Clause>();
        if (string.IsNullOrWhiteSpace(filter))
        {
            return clauses;
        }

        if (filter.Length > 4000)
        {
            throw Invalid("the filter is longer than 4000 characters");
        }

        var tokens = Tokenize(filter);
        var i = 0;
        while (i < tokens.Count)
        {
            if (i + 3 > tokens.Count)
            {
                throw Invalid($"incomplete condition at '{string.Join(" ", tokens.Skip(i))}' (expected e.g. metrics.auc > 0.8)");
            }

            var (scope, key) = Identifier(tokens[i]);
            var op = tokens[i + 1].ToUpperInvariant() switch
            {
                "=" or "==" => "=",
                "!=" or "<>" => "!=",
                "<" => "<",
                "<=" => "<=",
                ">" => ">",
                ">=" => ">=",
                "LIKE" when scope is not Scope.Metric => "LIKE",
                var other => throw Invalid($"unknown operator '{other}' after '{tokens[i]}'"),
            };
            var literal = tokens[i + 2];
            object value;
            if (scope == Scope.Metric || (scope == Scope.Attribute && key is "start_time" or "end_time"))
            {
                if (!double.TryParse(literal, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    throw Invalid($"'{tokens[i]}' compares with numbers, not {literal}");
                }

                value = scope == Scope.Metric ? number : (long)number;
            }
            else
            {
                if (literal.Length < 2 || literal[0] is not ('\'' or '"') || literal[^1] != literal[0])
                {
                    throw Invalid($"'{tokens[i]}' compares with a quoted string, not {literal}");
                }

                var text = literal[1..^1];
                value = key == "status" && scope == Scope.Attribute ? text.ToLowerInvariant() : text;
            }

            clauses.Add(new Clause(scope, key, op, value));
            i += 3;
            if (i < tokens.Count)
            {
                if (!tokens[i].Equals("and", StringComparison.OrdinalIgnoreCase))
                {
                    throw Invalid($"expected AND between conditions, found '{tokens[i]}' (OR is not supported)");
                }

                i++;
                if (i == tokens.Count)
                {
                    throw Invalid("the filter ends with AND");
                }
            }
        }

        if (clauses.Count > 20)
        {
            throw Invalid("at most 20 conditions");
        }

        return clauses;
    }

    private static Order ParseOrder(string? orderBy)
    {
        if (string.IsNullOrWhiteSpace(orderBy))
        {
            return new Order(Scope.Attribute, "start_time", true);
        }

        var parts = orderBy.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > 2)
        {
            throw Invalid($"order '{orderBy}' is one key and an optional ASC or DESC");
        }

        var descending = parts.Length == 2 && parts[1].ToUpperInvariant() switch
        {
            "DESC" => true,
            "ASC" => false,
            var other => throw Invalid($"unknown direction '{other}' (ASC or DESC)"),
        };
        var (scope, key) = Identifier(parts[0]);
        if (scope == Scope.Tag)
        {
            throw Invalid("runs cannot be ordered by a tag");
        }

        if (scope == Scope.Attribute)
        {
            _ = AttributeColumn(key);
        }

        return new Order(scope, key, descending);
    }

    private static (Scope Scope, string Key) Identifier(string token)
    {
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return (Scope.Attribute, token.ToLowerInvariant());
        }

        var prefix = token[..dot].ToLowerInvariant();
        var key = token[(dot + 1)..].Trim('`', '"');
        var scope = prefix switch
        {
            "metrics" or "metric" => Scope.Metric,
            "params" or "param" or "parameters" => Scope.Param,
            "tags" or "tag" => Scope.Tag,
            "attributes" or "attribute" or "attr" or "run" => Scope.Attribute,
            _ => throw Invalid($"unknown prefix '{prefix}' in '{token}' (metrics., params., tags., attributes.)"),
        };
        if (scope != Scope.Attribute)
        {
            Names.Check("filter key", key, NameKind.Key);
        }

        return (scope, scope == Scope.Attribute ? key.ToLowerInvariant() : key);
    }

    private static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var ch = text[i];
            if (char.IsWhiteSpace(ch))
            {
                i++;
            }
            else if (ch is '\'' or '"')
            {
                var end = text.IndexOf(ch, i + 1);
                if (end < 0)
                {
                    throw Invalid($"unterminated string starting at character {i + 1}");
                }

                tokens.Add(text[i..(end + 1)]);
                i = end + 1;
            }
            else if (ch is '<' or '>' or '=' or '!')
            {
                var two = i + 1 < text.Length && text[i + 1] is '=' or '>' ? 2 : 1;
                tokens.Add(text.Substring(i, two));
                i += two;
            }
            else
            {
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not ('<' or '>' or '=' or '!' or '\'' or '"'))
                {
                    i++;
                }

                tokens.Add(text[start..i]);
            }
        }

        return tokens;
    }

    private static string Fingerprint(string project, RunQuery query) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{project}\n{query.Filter}\n{query.OrderBy}\n{string.Join(",", query.ExperimentIds)}")))[..16];

    private static string WriteToken(string fingerprint, object? value, string id)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["q"] = fingerprint,
            ["t"] = value switch { double => "d", long or int => "l", null => "n", _ => "s" },
            ["v"] = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
            ["id"] = id,
        }, PageTokenJson.Default.DictionaryStringString);
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static (object? Value, string Id) ReadToken(string token, string fingerprint)
    {
        try
        {
            var padded = token.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - (padded.Length % 4)) % 4);
            var map = JsonSerializer.Deserialize(Encoding.UTF8.GetString(Convert.FromBase64String(padded)), PageTokenJson.Default.DictionaryStringString)!;
            if (map["q"] != fingerprint)
            {
                throw Invalid("the page token belongs to another query");
            }

            var text = map["v"];
            object? value = map["t"] switch
            {
                "d" => double.Parse(text, CultureInfo.InvariantCulture),
                "l" => long.Parse(text, CultureInfo.InvariantCulture),
                "n" => null,
                _ => text,
            };
            return (value, map["id"]);
        }
        catch (Exception e) when (e is FormatException or JsonException or KeyNotFoundException or NullReferenceException or OverflowException)
        {
            throw Invalid("the page token is malformed");
        }
    }

    private static StrataException Invalid(string message) => new(ErrorCodes.ArgumentInvalid, "run search: " + message);

    /// <summary>One run row as selected (plus the value it was sorted by).</summary>
    internal sealed class RunRow
    {
        public string Id { get; init; } = "";

        public string Project { get; init; } = "";

        public long ExperimentId { get; init; }

        public string Name { get; init; } = "";

        public string Status { get; init; } = "";

        public long StartTime { get; init; }

        public long? EndTime { get; init; }

        public string? Source { get; init; }

        public string CreatedBy { get; init; } = "";

        public string? ParentRunId { get; init; }

        public object? SortValue { get; init; }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class PageTokenJson : System.Text.Json.Serialization.JsonSerializerContext;
