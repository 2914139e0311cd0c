using System.Diagnostics;

namespace Strata.Serving.Metrics;

/// <summary>The standard process and runtime metrics (start time, resident memory, GC collections, allocations and pauses), read at scrape time.</summary>
public static class ProcessMetrics
{
    /// <summary>Adds the process metrics to <paramref name="registry"/>.</summary>
    public static void Register(MetricRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var start = registry.CreateGauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
        var resident = registry.CreateGauge("process_resident_memory_bytes", "Resident memory size in bytes.");
        var collections = registry.CreateCounter("dotnet_gc_collections_total", "Garbage collections since the process started, by generation.", "generation");
        var allocated = registry.CreateCounter("dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since the process started.").Unlabelled;
        var paused = registry.CreateCounter("dotnet_gc_pause_seconds_total", "Time the process was paused for garbage collection since it started.").Unlabelled;
        using (var process = Process.GetCurrentProcess())
        {
            start.Set(new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        }

        var generations = Enumerable.Range(0, GC.MaxGeneration + 1)
            .Select(g => collections.Labels(g.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .ToArray();
        registry.OnCollect(() =>
        {
            resident.Set(Environment.WorkingSet);
            allocated.IncTo(GC.GetTotalAllocatedBytes());
            paused.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
            for (var g = 0; g < generations.Length; g++)
            {
                generations[g].IncTo(GC.CollectionCount(g));
            }
        });
    }
}
