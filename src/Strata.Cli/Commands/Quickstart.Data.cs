using System.Globalization;
using Strata.Data;
using Strata.Data.Profiling;
using Strata.Data.Validation;

namespace Strata.Cli.Commands;

// Stage 1: read the sample, profile it, infer a schema from the training months and validate the later months against it.
internal sealed partial class Quickstart
{
    private TableProfile? _trainingProfile;

    private async Task IngestAndValidateAsync(QuickstartStage stage, CancellationToken cancellationToken)
    {
        var sample = Path.Combine(_options.Sample, "flights-2001-sample.csv.gz");
        _progress.Step($"reading {sample}");
        var read = await DataFiles.ReadAsync(sample, cancellationToken: cancellationToken).ConfigureAwait(false);
        var all = read.Table;
        _flights = _options.Stride == 1 ? all : all.Take(Enumerable.Range(0, all.RowCount).Where(i => i % _options.Stride == 0).ToArray());

        var builder = new ProfileBuilder(Flights.Schema);
        builder.Add(Flights);
        var profile = builder.Build();
        var data = Folder("data");
        await profile.SaveAsync(Path.Combine(data, "flights.profile.json"), cancellationToken).ConfigureAwait(false);
        var delay = (NumericColumnProfile)profile["delay"];
        var origins = profile["origin"].DistinctEstimate;

        // The schema is what the training months look like (types, ranges, categories); the later months are checked against it.
        var training = Between(Flights, SampleStart, TrainingEnd);
        var later = Between(Flights, TrainingEnd, Micros(2001, 7, 1));
        var trainingPath = Path.Combine(data, "flights-jan-apr.arrow");
        var laterPath = Path.Combine(data, "flights-may-jun.arrow");
        await DataFiles.WriteAsync(training, trainingPath, cancellationToken: cancellationToken).ConfigureAwait(false);
        await DataFiles.WriteAsync(later, laterPath, cancellationToken: cancellationToken).ConfigureAwait(false);
        var trainingBuilder = new ProfileBuilder(training.Schema);
        trainingBuilder.Add(training);
        _trainingProfile = trainingBuilder.Build();
        var schema = SchemaInference.Infer(training.Schema, _trainingProfile, new SchemaInferenceOptions { InferRanges = true });
        var schemaPath = Path.Combine(data, "flights.schema.yaml");
        await SchemaFile.WriteAsync(schema, schemaPath, "Inferred by `strata quickstart` from the flights of January to April 2001.", cancellationToken).ConfigureAwait(false);
        _progress.Step($"schema inferred from {training.RowCount:N0} flights (Jan-Apr): {schemaPath}");

        var (report, _) = await DataValidator.ValidateAsync(laterPath, schema, new ValidationOptions { Reference = _trainingProfile }, cancellationToken).ConfigureAwait(false);
        foreach (var anomaly in report.Anomalies)
        {
            _progress.Step($"anomaly in May-Jun: {anomaly.Column} {anomaly.Code}: {anomaly.Description}");
        }

        stage.Figures["rows"] = Flights.RowCount;
        stage.Figures["columns"] = Flights.ColumnCount;
        stage.Figures["origins"] = (long)Math.Round(origins);
        stage.Figures["delay_mean"] = Math.Round(delay.Mean ?? 0, 2);
        stage.Figures["delay_p95"] = delay.Quantile(0.95);
        stage.Figures["schema_rows"] = training.RowCount;
        stage.Figures["validated_rows"] = report.Rows;
        stage.Figures["anomalies"] = report.Anomalies.Select(a => new Dictionary<string, object?>
        {
            ["column"] = a.Column, ["kind"] = a.Code, ["description"] = a.Description, ["observed"] = a.Observed, ["limit"] = a.Limit,
        }).ToList();
        stage.Figures["profile"] = Path.Combine(data, "flights.profile.json");
        stage.Figures["schema"] = schemaPath;
        // New airports say most; the time column is out of the training range by construction, so it says least.
        var first = report.Anomalies.OrderBy(a => a.Kind == AnomalyKind.UnknownCategory ? 0 : a.Column == "date" ? 2 : 1).FirstOrDefault();
        stage.Headline = string.Create(CultureInfo.InvariantCulture, $"{Flights.RowCount:N0} flights profiled; May-Jun vs Jan-Apr schema: {report.Anomalies.Count} anomalies")
            + (first is null ? "" : $" (first: {first.Column} {first.Code})");
    }
}
