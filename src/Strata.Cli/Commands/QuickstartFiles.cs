using System.Globalization;

namespace Strata.Cli.Commands;

/// <summary>
/// The files the quickstart writes into its home: the training and retraining pipelines (samples/flights/pipeline.yaml
/// with the quickstart's data, features, a small tuning budget and a logistic-regression baseline) and strata.yaml
/// (the endpoint and its monitor). They are ordinary files, so the commands the quickstart prints work on them.
/// </summary>
internal static class QuickstartFiles
{
    /// <summary>The features the model reads: the flight's own, the origin's last hour and the origin's recent delays.</summary>
    public static readonly string[] ModelFeatures = ["distance", "origin", .. Quickstart.HourlyFeatures, .. Quickstart.WindowFeatures];

    /// <summary>The monitored inputs: what the request brings and what the stream changes.</summary>
    public static readonly string[] MonitoredFeatures = ["distance", "mean_delay_1h", "mean_delay_1d", "max_delay_1d"];

    /// <summary>A pipeline over <paramref name="data"/> (a file beside it) that trains, compares and promotes flights-delay.</summary>
    public static string Pipeline(string name, string data, int trials, int maxRounds, string championMargin, double test = 0.2) => string.Create(CultureInfo.InvariantCulture, $$"""
        # Written by `strata quickstart` from samples/flights/pipeline.yaml (see docs/pipelines.md):
        #   strata pipelines run {{name}}.yaml --home HOME
        pipeline: {{name}}
        project: {{Quickstart.Project}}
        parallelism: 2
        steps:
          - name: ingest
            type: ingest
            parameters: { path: {{data}} }

          - name: validate
            type: validate
            inputs: { data: ingest.table }
            parameters: { schema_file: flights.schema.yaml }

          # Flights as entity rows, with the origin's features known when each flight left (point in time).
          - name: training-set
            type: training-set
            inputs: { entities: ingest.table }
            after: [validate]
            parameters:
              service: {{Quickstart.Service}}
              timestamp: date
              label: { name: late, column: delay, above: 15 }

          # The latest flights are the test set ({{test:0%}}), the 10% before them the validation set.
          - name: split
            type: split
            inputs: { data: training-set.table }
            parameters: { method: time, column: date, test: {{test}}, valid: 0.1 }

          - name: tune
            type: tune
            inputs: { train: split.train, valid: split.valid }
            time_limit: 10m
            parameters:
              label: late
              features: [{{string.Join(", ", ModelFeatures)}}]
              algorithm: asha
              trials: {{trials}}
              min_rounds: 10
              max_rounds: {{maxRounds}}
              eta: 3
              seed: 2001
              metric: auc
              settings: { max_bin: 63 }
              space:
                max_depth: int 3 7
                learning_rate: log-uniform 0.05 0.4
                min_child_weight: log-uniform 0.5 50
                subsample: uniform 0.7 1

          - name: train
            type: train
            inputs: { train: split.train, valid: split.valid, config: tune.config }
            parameters:
              label: late
              features: [{{string.Join(", ", ModelFeatures)}}]
              seed: 2001

          # The simple model to beat: a logistic regression on the same features.
          - name: baseline
            type: train
            inputs: { train: split.train }
            parameters:
              label: late
              features: [{{string.Join(", ", ModelFeatures)}}]
              learner: logistic

          - name: evaluate
            type: evaluate
            inputs: { model: train.model, data: split.test, baseline: baseline.model }
            parameters: { label: late, slice: origin, model_name: {{Quickstart.ModelName}} }

          - name: bless
            type: bless
            inputs: { evaluation: evaluate.evaluation, model: train.model, data: split.test }
            parameters:
              thresholds:
                - auc > baseline.auc
                - auc >= champion.auc - {{championMargin}}
              slice_max_drop: { metric: auc, drop: 0.15, min_rows: 500 }
              latency_p99_ms: 5

          - name: register
            type: register
            inputs: { model: train.model, blessing: bless.blessing, evaluation: evaluate.evaluation }
            parameters: { model_name: {{Quickstart.ModelName}} }

          # A blessed version becomes `challenger` at once; `champion` waits for a deployer's approval.
          - name: promote
            type: promote
            inputs: { version: register.version }
        """);

    /// <summary>strata.yaml: the endpoint (model@champion, enriched by the feature service) and its drift monitor.</summary>
    public static string Config(string webhook, string window, long minSamples, int windows, double delayThreshold, double maxDelayThreshold) => string.Create(CultureInfo.InvariantCulture, $$"""
        # Written by `strata quickstart`: `strata serve --config strata.yaml --home HOME` serves the endpoint again.
        endpoints:
          - name: {{Quickstart.Endpoint}}
            project: {{Quickstart.Project}}
            model: {{Quickstart.ModelName}}@champion
            feature_service: {{Quickstart.Service}}
            log_sample_rate: 1.0
            limits: { max_concurrency: 64, max_queue: 1024, timeout_ms: 5000, max_rows: 1000 }

        monitors:
          - name: delays-drift
            endpoint: {{Quickstart.Endpoint}}
            model: {{Quickstart.ModelName}}
            window: {{window}}
            min_samples: {{minSamples}}
            features: [{{string.Join(", ", MonitoredFeatures)}}]
            checks: [data_drift, quality]
            # A window drifts when half the features move; a delay feature moves when its Wasserstein distance to the
            # training set exceeds {{delayThreshold}} standard deviations ({{maxDelayThreshold}} for the widely spread maximum): spring's
            # milder delays stay below, a shifted stream does not.
            drift:
              share: 0.5
              features:
                mean_delay_1h: { method: wasserstein, threshold: {{delayThreshold}} }
                mean_delay_1d: { method: wasserstein, threshold: {{delayThreshold}} }
                max_delay_1d: { method: wasserstein, threshold: {{maxDelayThreshold}} }
            alerts:
              - name: sustained-drift
                check: data_drift
                windows: {{windows}}
                actions: [{ webhook: "{{webhook}}" }, log, { pipeline: retrain }]
        """);
}
