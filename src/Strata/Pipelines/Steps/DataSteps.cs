using System.Text.Json.Nodes;
using Strata.Data;
using Strata.Data.Validation;

namespace Strata.Pipelines.Steps;

/// <summary>
/// <c>ingest</c>: a file inside the pipeline's folder (no path may leave it) or the rows of a PostgreSQL query with
/// declared <c>columns</c> (the connection string from an environment variable the spec names, never from the spec) → a table.
/// </summary>
internal sealed class IngestStep : StepBase
{
    public override string Type => "ingest";

    public override IReadOnlyList<Port> Inputs => [];

    public override IReadOnlyList<Port> Outputs => [new("table", ArtifactKind.Table)];

    public override IReadOnlyList<string> Optional => ["path", "format", "query", "connection_env", "columns", "max_rows"];

    public override StepTraits Traits => StepTraits.External;

    /// <summary>The file's SHA-256 (so a changed file is read again) or the query text.</summary>
    public override async Task<string?> FingerprintAsync(StepContext context, CancellationToken cancellationToken)
    {
        if (context.String("path") is not { } path)
        {
            // A query reads a database that changes under it: its rows are read again on every run.
            return "query:" + Guid.NewGuid().ToString("N");
        }

        return await FileDigestAsync(context, "path", path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>file:</c> and the SHA-256 of a file in the pipeline's folder, for a step's cache key.</summary>
    internal static async Task<string> FileDigestAsync(StepContext context, string parameter, string path, CancellationToken cancellationToken)
    {
        var file = File.OpenRead(SafePath(context, path, parameter));
        await using (file.ConfigureAwait(false))
        {
            return "file:" + Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
        }
    }

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var path = context.String("path");
        var query = context.String("query");
        if ((path is null) == (query is null))
        {
            throw context.Bad("parameters", "give either 'path' (a file in the pipeline's folder) or 'query' (with 'connection_env')");
        }

        Table table;
        if (path is not null)
        {
            var file = SafePath(context, path);
            var format = context.String("format") switch
            {
                null => (DataFormat?)null,
                "csv" => DataFormat.Csv,
                "jsonl" => DataFormat.JsonLines,
                "arrow" => DataFormat.Arrow,
                var other => throw context.Bad("parameters.format", $"must be csv, jsonl or arrow, not '{other}'"),
            };
            var maxRows = context.Int("max_rows", 0);
            table = (await DataFiles.ReadAsync(file, new DataReadOptions { Format = format, MaxRows = maxRows > 0 ? maxRows : null }, cancellationToken).ConfigureAwait(false)).Table;
        }
        else
        {
            var variable = context.String("connection_env") ?? throw context.Bad("parameters.connection_env", "a query needs the name of the environment variable holding the connection string");
            var connection = Environment.GetEnvironmentVariable(variable) ?? throw context.Bad("parameters.connection_env", $"environment variable '{variable}' is not set");
            var reader = context.Services.Postgres ?? throw context.Bad("parameters.query", "this host cannot read PostgreSQL queries");
            var columns = context.Map("columns");
            if (columns.Count == 0)
            {
                throw context.Bad("parameters.columns", "a query needs its columns declared (name: type)");
            }

            var schema = new Schema(columns.Select(c => DataTypes.TryParse(c.Value, out var type)
                ? new Field(c.Key, type, nullable: true)
                : throw context.Bad($"parameters.columns.{c.Key}", $"unknown type '{c.Value}'")));
            table = await reader(connection, query!, schema, cancellationToken).ConfigureAwait(false);
        }

        context.Log($"{table.RowCount:N0} rows × {table.ColumnCount} columns");
        await context.WriteTableAsync("table", table, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A relative path (of parameter <paramref name="parameter"/>) resolved inside the pipeline's folder; anything that would leave it is refused.</summary>
    internal static string SafePath(StepContext context, string path, string parameter = "path")
    {
        var folder = context.Pipeline.Folder ?? throw context.Bad("parameters." + parameter, "this pipeline has no folder to read files from");
        var root = Path.GetFullPath(folder);
        if (path.Length > 1024 || Path.IsPathRooted(path) || path.Contains('\0', StringComparison.Ordinal) || path.Replace('\\', '/').Split('/').Any(s => s is ".."))
        {
            throw context.Bad("parameters." + parameter, $"'{path}' must be a relative path inside the pipeline's folder");
        }

        var full = Path.GetFullPath(Path.Combine(root, path));
        var inside = full.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        var info = new FileInfo(full);
        if (inside && info.LinkTarget is not null)
        {
            var target = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
            inside = target is not null && target.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal);
        }

        if (!inside)
        {
            throw context.Bad("parameters." + parameter, $"'{path}' leads outside the pipeline's folder");
        }

        return info.Exists ? full : throw context.Bad("parameters." + parameter, $"no file '{path}' in the pipeline's folder");
    }
}

/// <summary><c>profile</c>: a table → its mergeable profile (counts, quantiles, histograms, top values).</summary>
internal sealed class ProfileStep : StepBase
{
    public override string Type => "profile";

    public override IReadOnlyList<Port> Inputs => [new("data", ArtifactKind.Table)];

    public override IReadOnlyList<Port> Outputs => [new("profile", ArtifactKind.Profile)];

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var table = await context.TableAsync("data", cancellationToken).ConfigureAwait(false);
        var profile = Data.Profiling.Profiler.Profile(table);
        await context.WriteJsonAsync("profile", ArtifactKind.Profile, JsonNode.Parse(profile.ToJson())!, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary><c>infer-schema</c>: a table → an editable schema (types, nullability, roles, categories).</summary>
internal sealed class InferSchemaStep : StepBase
{
    public override string Type => "infer-schema";

    public override IReadOnlyList<Port> Inputs => [new("data", ArtifactKind.Table)];

    public override IReadOnlyList<Port> Outputs => [new("schema", ArtifactKind.Schema)];

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        var table = await context.TableAsync("data", cancellationToken).ConfigureAwait(false);
        var schema = SchemaInference.Infer(table.Schema, Data.Profiling.Profiler.Profile(table));
        await context.WriteJsonAsync("schema", ArtifactKind.Schema, new JsonObject { ["yaml"] = SchemaFile.ToYaml(schema) }, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// <c>validate</c>: a table against a schema (an input, or a schema file in the pipeline's folder) → a report of
/// anomalies; any anomaly fails the step unless <c>allow_anomalies</c> is true.
/// </summary>
internal sealed class ValidateStep : StepBase
{
    public override string Type => "validate";

    public override IReadOnlyList<Port> Inputs => [new("data", ArtifactKind.Table), new("schema", ArtifactKind.Schema, Optional: true)];

    public override IReadOnlyList<Port> Outputs => [new("report", ArtifactKind.Report)];

    public override IReadOnlyList<string> Optional => ["schema_file", "allow_anomalies"];

    /// <summary>The schema file's SHA-256 when the schema comes from one, so an edited schema file validates again.</summary>
    public override async Task<string?> FingerprintAsync(StepContext context, CancellationToken cancellationToken) =>
        !context.HasInput("schema") && context.String("schema_file") is { } file
            ? await IngestStep.FileDigestAsync(context, "schema_file", file, cancellationToken).ConfigureAwait(false)
            : null;

    public override async Task RunAsync(StepContext context, CancellationToken cancellationToken)
    {
        Schema schema;
        if (context.HasInput("schema"))
        {
            var yaml = (await context.JsonAsync("schema", cancellationToken).ConfigureAwait(false))["yaml"]?.GetValue<string>() ?? "";
            schema = SchemaFile.Parse(yaml, $"{context.Step.Name}.schema");
        }
        else if (context.String("schema_file") is { } file)
        {
            schema = await SchemaFile.ReadAsync(IngestStep.SafePath(context, file, "schema_file"), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            throw context.Bad("parameters.schema_file", "validate needs a schema: connect input 'schema' or name a 'schema_file'");
        }

        var path = await context.Io.ToFileAsync(context.Input("data").Digest, ".arrow", cancellationToken).ConfigureAwait(false);
        ValidationReport report;
        try
        {
            report = (await DataValidator.ValidateAsync(path, schema, new ValidationOptions { Read = new DataReadOptions { Format = DataFormat.Arrow } }, cancellationToken).ConfigureAwait(false)).Report;
        }
        finally
        {
            File.Delete(path);
        }

        var anomalies = new JsonArray(report.Anomalies.Select(a => (JsonNode)new JsonObject { ["column"] = a.Column, ["code"] = a.Code, ["description"] = a.Description }).ToArray());
        await context.WriteJsonAsync("report", ArtifactKind.Report, new JsonObject { ["rows"] = report.Rows, ["anomalies"] = anomalies }, cancellationToken).ConfigureAwait(false);
        context.Log($"{report.Rows:N0} rows, {report.Anomalies.Count} anomalies");
        if (report.HasAnomalies && !context.Bool("allow_anomalies", false))
        {
            throw new StrataException(ErrorCodes.ArgumentInvalid,
                $"the data has {report.Anomalies.Count} anomalies: {string.Join("; ", report.Anomalies.Take(5).Select(a => $"{a.Column}: {a.Description}"))} (set allow_anomalies: true to go on)");
        }
    }
}
