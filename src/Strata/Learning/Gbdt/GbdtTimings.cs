namespace Strata.Learning.Gbdt;

/// <summary>Seconds spent in each phase of training (for benchmarks and profiling).</summary>
internal sealed class GbdtTimings
{
    public double Binning;
    public double Gradients;
    public double Histograms;
    public double Subtraction;
    public double Splits;
    public double Partition;
    public double Update;
    public double Total;
    public long HistogramRows;

    public Dictionary<string, double> ToDictionary() => new(StringComparer.Ordinal)
    {
        ["binning_s"] = Math.Round(Binning, 3),
        ["gradients_s"] = Math.Round(Gradients, 3),
        ["histograms_s"] = Math.Round(Histograms, 3),
        ["subtraction_s"] = Math.Round(Subtraction, 3),
        ["splits_s"] = Math.Round(Splits, 3),
        ["partition_s"] = Math.Round(Partition, 3),
        ["update_s"] = Math.Round(Update, 3),
        ["total_s"] = Math.Round(Total, 3),
        ["histogram_rows"] = HistogramRows,
    };
}
