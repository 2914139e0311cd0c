using BenchmarkDotNet.Attributes;
using Strata.Features;
using Strata.Features.Definitions;
using Strata.Features.OnlineStore;
using Strata.Features.Streaming;

namespace Strata.Benchmarks.Features;

/// <summary>
/// The compute an online read of an aggregation view adds per entity: count, sum and mean over 1 h and mean over 1 d,
/// from a stored window of one event a minute (so a 1 d window holds up to 1,440 events), as of the read time. The cost
/// should barely grow with the events: a read decodes only the bytes its binary searches and table entries touch.
/// </summary>
[MemoryDiagnoser]
public class WindowReadBenchmarks
{
    private const long Minute = 60_000_000;

    private readonly FeatureValue[] _results = new FeatureValue[4];
    private StreamingAggregator _aggregator = null!;
    private FeatureValue _window;
    private int[] _asked = [];
    private long _now;

    /// <summary>Events in the stored window.</summary>
    [Params(10, 100, 1_440)]
    public int Events { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var events = new FeatureViewLayout("clicks", [new Field("user", DataType.Int64)], "ts", [new Field("amount", DataType.Float64)]);
        _aggregator = new StreamingAggregator(events,
        [
            new("n_1h", AggregationFunction.Count, null, TimeSpan.FromHours(1)),
            new("sum_1h", AggregationFunction.Sum, "amount", TimeSpan.FromHours(1)),
            new("mean_1h", AggregationFunction.Mean, "amount", TimeSpan.FromHours(1)),
            new("mean_1d", AggregationFunction.Mean, "amount", TimeSpan.FromDays(1)),
        ]);
        _asked = [0, 1, 2, 3];
        var random = new Random(1);
        var table = Table.From(
            ("user", Columns.Int64([.. Enumerable.Repeat((long?)1, Events)])),
            ("ts", Columns.Timestamp([.. Enumerable.Range(0, Events).Select(i => (long?)(i * Minute))])),
            ("amount", Columns.Float64([.. Enumerable.Range(0, Events).Select(_ => (double?)Math.Round(random.NextDouble() * 100, 2))])));
        _now = Events * Minute;
        var row = _aggregator.Build(table, long.MinValue, _now);
        _window = new FeatureValue(FeatureStatus.Present, DataType.String, (Events - 1) * Minute, 0, ((StringColumn)row[_aggregator.WindowColumn])[0]);
    }

    /// <summary>A count: binary searches over the event times alone.</summary>
    [Benchmark]
    public FeatureStatus CountOnly()
    {
        _aggregator.Evaluate(_window, _now, [0], _results);
        return _results[0].Status;
    }

    /// <summary>A mean over the widest window: a binary search and one suffix table entry.</summary>
    [Benchmark]
    public FeatureStatus MeanDayOnly()
    {
        _aggregator.Evaluate(_window, _now, [3], _results);
        return _results[0].Status;
    }

    /// <summary>Four aggregates of one entity.</summary>
    [Benchmark]
    public FeatureStatus FourAggregates()
    {
        _aggregator.Evaluate(_window, _now, _asked, _results);
        return _results[0].Status;
    }
}
