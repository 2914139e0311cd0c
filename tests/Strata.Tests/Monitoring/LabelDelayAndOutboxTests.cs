using Strata.Monitoring;
using Strata.Stores;

namespace Strata.Tests.Monitoring;

public sealed class LabelDelayAndOutboxTests
{
    private const long Hour = 3_600_000_000L;

    private static string Yaml(string labelDelay) => $$"""
        monitors:
          - { name: q, endpoint: flights, model: delays, window: 1h, {{labelDelay}} checks: [quality] }
        """;

    [Fact]
    public void A_monitor_waits_one_window_for_labels_unless_its_label_delay_says_otherwise()
    {
        var byDefault = Assert.Single(MonitorConfig.Parse(Yaml("")));
        var declared = Assert.Single(MonitorConfig.Parse(Yaml("label_delay: 6h,")));
        var none = Assert.Single(MonitorConfig.Parse(Yaml("label_delay: 0s,")));

        Assert.Equal((null, TimeSpan.FromHours(1)), (byDefault.LabelDelay, byDefault.EffectiveLabelDelay));
        Assert.Equal(TimeSpan.FromHours(6), declared.EffectiveLabelDelay);
        Assert.Equal(TimeSpan.Zero, none.EffectiveLabelDelay);
    }

    [Theory]
    [InlineData("label_delay: soon,", "label_delay 'soon'")]
    [InlineData("label_delay: 91d,", "label_delay")]
    public void A_bad_label_delay_is_an_error_naming_it(string labelDelay, string expected)
    {
        var e = Assert.Throws<DataFormatException>(() => MonitorConfig.Parse(Yaml(labelDelay), "strata.yaml"));

        Assert.Equal(ErrorCodes.SchemaInvalid, e.Code);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Outbox_retries_back_off_doubling_up_to_the_cap()
    {
        var options = new AlertOptions { OutboxRetryDelay = TimeSpan.FromSeconds(5), OutboxMaxRetryDelay = TimeSpan.FromMinutes(1) };

        var delays = Enumerable.Range(1, 6).Select(attempt => AlertOutbox.Backoff(options, attempt).TotalSeconds);

        Assert.Equal([5.0, 10, 20, 40, 60, 60], delays);
    }

    [Fact]
    public void An_alert_has_the_same_id_and_entries_whenever_its_window_fires_it()
    {
        var spec = Assert.Single(MonitorConfig.Parse("""
            monitors:
              - name: q
                endpoint: flights
                model: delays
                checks: [quality]
                alerts: [{ name: low-auc, check: quality.auc, below: 0.7, actions: [{ webhook: "http://127.0.0.1:1/h" }, log, { pipeline: retrain }] }]
            """));
        var alert = new AlertEvent("low-auc", "q", "flights", "delays", "quality.auc", Hour, 2 * Hour, 0.4, "low");

        var first = AlertOutbox.Entries("p", spec, alert);
        var again = AlertOutbox.Entries("p", spec, alert with { Score = 0.41 });
        var otherWindow = AlertOutbox.Entries("p", spec, alert with { WindowStart = 2 * Hour });

        Assert.Equal(["webhook", "log", "pipeline"], first.Select(e => e.Kind));
        Assert.Equal(first.Select(e => e.Id), again.Select(e => e.Id));
        Assert.NotEqual(first[0].AlertId, otherWindow[0].AlertId);
        Assert.Contains($"\"id\":\"{first[0].AlertId}\"", first[0].Event, StringComparison.Ordinal);
    }

    [Fact]
    public void A_new_result_fires_only_the_rules_over_its_own_check()
    {
        var spec = Assert.Single(MonitorConfig.Parse("""
            monitors:
              - name: m
                endpoint: flights
                model: delays
                checks: [data_drift, quality]
                alerts:
                  - { name: drifted, check: data_drift }
                  - { name: low-auc, check: quality.auc, below: 0.7 }
            """));
        MonitorResult Result(string check, string status, double score) => new("m", "flights", "delays", 0, 0, Hour, check, status, score, 100, null);
        var drift = Result("data_drift", "drift", 0.9);
        var auc = Result("quality.auc", "ok", 0.5);

        var atDriftTime = AlertDispatcher.Fired(spec, [], [drift]);
        var atQualityTime = AlertDispatcher.Fired(spec, [drift], [auc]);

        Assert.Equal(["drifted"], atDriftTime.Select(a => a.Rule));
        Assert.Equal(["low-auc"], atQualityTime.Select(a => a.Rule));
    }
}
