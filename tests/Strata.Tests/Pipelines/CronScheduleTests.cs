using Strata.Pipelines;

namespace Strata.Tests.Pipelines;

public sealed class CronScheduleTests
{
    private static DateTimeOffset At(string text) => DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("* * * * *", "2026-03-01T10:00:30Z", "2026-03-01T10:01:00Z")]
    [InlineData("30 2 * * *", "2026-03-01T02:30:00Z", "2026-03-02T02:30:00Z")]
    [InlineData("*/15 * * * *", "2026-03-01T10:16:00Z", "2026-03-01T10:30:00Z")]
    [InlineData("0 9-17/4 * * mon-fri", "2026-03-06T17:01:00Z", "2026-03-09T09:00:00Z")]
    [InlineData("0 0 1 jan,jul *", "2026-03-01T00:00:00Z", "2026-07-01T00:00:00Z")]
    [InlineData("0 0 * * 7", "2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z")]
    [InlineData("0 0 13 * 5", "2026-03-01T00:00:00Z", "2026-03-06T00:00:00Z")]
    [InlineData("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z")]
    public void The_next_due_minute_follows_cron_rules(string cron, string after, string expected) =>
        Assert.Equal(At(expected), CronSchedule.Parse(cron).Next(At(after)));

    [Theory]
    [InlineData("* * * *", "has 4 fields")]
    [InlineData("60 * * * *", "minute '60': 60 is outside 0-59")]
    [InlineData("* 5-2 * * *", "hour '5-2': '5-2' runs backwards")]
    [InlineData("*/0 * * * *", "minute '*/0': '0' is not a positive step")]
    [InlineData("* * * smarch *", "month 'smarch': 'smarch' is not a number")]
    [InlineData("* * 0 * *", "day-of-month '0': 0 is outside 1-31")]
    public void A_bad_expression_is_refused_naming_the_field(string cron, string message)
    {
        var e = Assert.Throws<StrataException>(() => CronSchedule.Parse(cron));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_schedule_that_can_never_be_due_has_no_next_time() =>
        Assert.Null(CronSchedule.Parse("0 0 31 2 *").Next(At("2026-01-01T00:00:00Z")));
}
