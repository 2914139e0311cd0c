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
    public void A_bad_value_is_an_error_naming_the_file_line_and_value(string good, string bad, string expected)
    {
        var e = Assert.Throws<DataFormatException>(() => MonitorConfig.Parse(Yaml.Replace(good, bad, StringComparison.Ordinal), "strata.yaml"));

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
