using Strata.Monitoring;
using Strata.Monitoring.Drift;

namespace Strata.Tests.Monitoring;

public sealed class MonitorConfigTests
{
    private const string Yaml = """
        project: flights
        monitors:
          - name: delays-drift
            endpoint: flights
            model: delays
            window: 30m
            min_samples: 200
            features: [dep_delay, carrier]
            checks: [data_drift, quality]
            drift:
              share: 0.4
              features:
                dep_delay: { method: psi, threshold: 0.2 }
            alerts:
              - name: sustained-drift
                check: data_drift
                windows: 2
                actions: [{ webhook: "http://127.0.0.1:9000/hook" }, log, { pipeline: retrain-delays }]
              - { name: low-auc, check: quality.auc, below: 0.7 }
        """;

    [Fact]
    public void The_monitors_section_of_strata_yaml_declares_checks_windows_thresholds_and_alerts()
    {
        var spec = Assert.Single(MonitorConfig.Parse(Yaml));

        Assert.Equal(("delays-drift", "flights", "delays"), (spec.Name, spec.Endpoint, spec.Model));
        Assert.Equal(TimeSpan.FromMinutes(30), spec.Window);
        Assert.Equal(200, spec.Drift.MinimumSampleSize);
        Assert.Equal(0.4, spec.Drift.DriftShare);
        Assert.Equal(new FeatureDriftOptions(DriftMethod.Psi, 0.2), spec.Drift.Features["dep_delay"]);
        Assert.Equal(["dep_delay", "carrier"], spec.Features);
        Assert.Equal([MonitorChecks.DataDrift, MonitorChecks.Quality], spec.Checks);
        Assert.Equal(2, spec.Alerts[0].ConsecutiveWindows);
        Assert.Equal([AlertActionKind.Webhook, AlertActionKind.Log, AlertActionKind.TriggerPipeline], spec.Alerts[0].Actions.Select(a => a.Kind));
        Assert.Equal((AlertComparison.Below, 0.7), (spec.Alerts[1].Comparison, spec.Alerts[1].Threshold));
    }

    [Theory]
    [InlineData("window: 30m", "window: soon", "window 'soon'")]
    [InlineData("method: psi", "method: magic", "drift method 'magic'")]
    [InlineData("windows: 2", "windowz: 2", "unknown key 'windowz'")]
    [InlineData("\"http://127.0.0.1:9000/hook\"", "\"file:///etc/passwd\"", "webhook URL")]
    [InlineData("min_samples: 200", "min_samples: 0", "field 'min_samples': 0 must be at least 1")]
    [InlineData("min_samples: 200", "min_samples: 2.5", "'min_samples' must be a whole number, not '2.5'")]
    [InlineData("min_samples: 200", "min_samples: 1e30", "'min_samples' must be a whole number, not '1e30'")]
    [InlineData("share: 0.4", "share: 1.5", "field 'drift.share': 1.5 must be within (0, 1]")]
    [InlineData("share: 0.4", "bins: 1", "field 'drift.bins': 1 must be within [2, 1000]")]
    [InlineData("share: 0.4", "bins: 1e10", "field 'drift.bins': 2147483647 must be within [2, 1000]")]
    [InlineData("share: 0.4", "large_reference_rows: -1", "field 'drift.large_reference_rows': -1 must be at least 0")]
    [InlineData("threshold: 0.2", "threshold: -0.2", "field 'drift.features.dep_delay.threshold': -0.2 must be a finite number")]
    public void A_bad_value_is_an_error_naming_the_file_line_and_value(string good, string bad, string expected)
    {
        var e = Assert.Throws<DataFormatException>(() => MonitorConfig.Parse(Yaml.Replace(good, bad, StringComparison.Ordinal), "strata.yaml"));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains("strata.yaml", e.Message, StringComparison.Ordinal);
    }

    private const string SkewYaml = """
        monitors:
          - name: fares-skew
            endpoint: fares
            model: fare
            checks: [skew]
            skew: { threshold: 0.02, min_rows: 50, max_rows: 1000, relative_tolerance: 0.001, absolute_tolerance: 0.01, service: pricing, features: { fare_mean_1d: 0.1 } }
            alerts:
              - { name: skewed, check: skew, actions: [{ webhook: "http://127.0.0.1:9000/hook" }] }
        """;

    [Fact]
    public void A_skew_check_declares_its_thresholds_tolerances_minimum_of_matched_rows_and_service()
    {
        var spec = Assert.Single(MonitorConfig.Parse(SkewYaml));

        Assert.Equal([MonitorChecks.Skew], spec.Checks);
        Assert.Equal((0.02, 50, 1000, 0.001, 0.01), (spec.Skew.MaxMismatchShare, spec.Skew.MinRows, spec.Skew.MaxRows, spec.Skew.RelativeTolerance, spec.Skew.AbsoluteTolerance));
        Assert.Equal(0.1, spec.Skew.Thresholds["fare_mean_1d"]);
        Assert.Equal("pricing", spec.SkewService);
        Assert.Equal((MonitorChecks.Skew, AlertComparison.Drifted), (spec.Alerts[0].Check, spec.Alerts[0].Comparison));
    }

    [Fact]
    public void A_skew_check_takes_its_minimum_from_min_samples_unless_it_sets_its_own()
    {
        var spec = Assert.Single(MonitorConfig.Parse(SkewYaml.Replace("checks: [skew]", "min_samples: 80\n    checks: [skew]", StringComparison.Ordinal)
            .Replace("min_rows: 50, ", "", StringComparison.Ordinal)));
        var defaults = Assert.Single(MonitorConfig.Parse(SkewYaml.Replace("min_rows: 50, ", "", StringComparison.Ordinal)));

        Assert.Equal(80, spec.Skew.MinRows);
        Assert.Equal(30, defaults.Skew.MinRows);
    }

    [Theory]
    [InlineData("threshold: 0.02", "threshold: 2", "field 'skew.threshold'")]
    [InlineData("fare_mean_1d: 0.1", "fare_mean_1d: -0.1", "field 'skew.features.fare_mean_1d'")]
    [InlineData("fare_mean_1d: 0.1", "fare_mean_1d: lots", "'fare_mean_1d' must be a number")]
    [InlineData("min_rows: 50", "min_rows: 0", "field 'skew.min_rows'")]
    [InlineData("min_rows: 50", "min_rows: 50.5", "'min_rows' must be a whole number, not '50.5'")]
    [InlineData("max_rows: 1000", "max_rows: 10", "field 'skew.max_rows'")]
    [InlineData("absolute_tolerance: 0.01", "absolute_tolerance: -1", "field 'skew.tolerance'")]
    [InlineData("service: pricing", "servise: pricing", "unknown key 'servise'")]
    [InlineData("checks: [skew]", "checks: [skewness]", "unknown check 'skewness'")]
    public void A_bad_skew_setting_is_an_error_naming_the_file_and_the_field(string good, string bad, string expected)
    {
        var e = Assert.Throws<DataFormatException>(() => MonitorConfig.Parse(SkewYaml.Replace(good, bad, StringComparison.Ordinal), "strata.yaml"));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains("strata.yaml", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_without_monitors_declares_none()
    {
        Assert.Empty(MonitorConfig.Parse("project: flights\n"));
    }
}
