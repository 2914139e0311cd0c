using BenchmarkDotNet.Running;
using Strata.Benchmarks;

// `peer <name> …` runs one measured operation for the whole-process comparisons in bench/peers and prints one JSON
// line; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "peer")
{
    return await PeerMeasurements.RunAsync(args[1..]).ConfigureAwait(false);
}

BenchmarkSwitcher.FromAssembly(typeof(PeerMeasurements).Assembly).Run(args);
return 0;
