using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Strata.Benchmarks;

/// <summary>Single measured operations that bench/peers scripts time against a peer in the same run.</summary>
internal static class PeerMeasurements
{
    private static readonly Dictionary<string, Func<string[], Task<Dictionary<string, object>>>> Operations = new(StringComparer.Ordinal);

    public static void Register(string name, Func<string[], Task<Dictionary<string, object>>> operation) => Operations[name] = operation;

    public static async Task<int> RunAsync(string[] args)
    {
        PeerOperations.RegisterAll();
        if (args.Length == 0 || !Operations.TryGetValue(args[0], out var operation))
        {
            await Console.Error.WriteLineAsync($"usage: peer <{string.Join('|', Operations.Keys)}> ARGS").ConfigureAwait(false);
            return 2;
        }

        var result = await operation(args[1..]).ConfigureAwait(false);
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        result["peak_rss_mb"] = Math.Round(process.PeakWorkingSet64 / (1024.0 * 1024.0), 1);
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>Seconds of a timed action, as a rounded number for JSON.</summary>
    public static double Seconds(Stopwatch watch) => Math.Round(watch.Elapsed.TotalSeconds, 4);

    public static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>Each stratum's folder adds its peer operations here.</summary>
internal static partial class PeerOperations
{
    public static void RegisterAll()
    {
        RegisterCsv();
        RegisterArrow();
        RegisterProfile();
        RegisterProfileFile();
        RegisterRegistryScale();
        RegisterPredict();
        RegisterGbdt();
        RegisterGbdtKernels();
        RegisterPitJoin();
        RegisterPitJoinPostgres();
        RegisterPitJoinStore();
        RegisterOnlineLatency();
        RegisterOnlineLatencyPostgres();
        RegisterOnlineHttp();
        RegisterMaterialize();
        RegisterServing();
        RegisterPacedLoad();
        RegisterServeAlloc();
        RegisterDrift();
        RegisterSkew();
    }
}
