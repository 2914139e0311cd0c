using System.Text;
using Strata.Data;
using Strata.Data.Csv;
using Strata.Data.Profiling;
using Strata.Data.Validation;
using Strata.Testing;

namespace Strata.Tests.Data.Validation;

public sealed class DataValidatorTests : IDisposable
{
    private readonly TempFolder _folder = new("validate");

    public void Dispose() => _folder.Dispose();

    private static readonly Schema Contract = new(
        new Field("id", DataType.Int64, nullable: false, FieldRole.Id),
        new Field("city", DataType.String, nullable: false, constraints: new FieldConstraints { Categories = ["Lima", "Oslo", "Paris"], Skew = new SkewCheck(SkewMethod.LInfinity, 0.1) }),
        new Field("amount", DataType.Float64, constraints: new FieldConstraints { MaxNullFraction = 0.2, Min = 0, Max = 100, Skew = new SkewCheck(SkewMethod.JensenShannon, 0.1) }),
        new Field("score", DataType.Int64));

    private string Write(string name, int rows, Func<int, string> line)
    {
        var sb = new StringBuilder("id,city,amount,score\n");
        for (var i = 0; i < rows; i++)
        {
            sb.Append(line(i)).Append('\n');
        }

        return _folder.WriteText(name, sb.ToString());
    }

    private static readonly string[] Cities = ["Lima", "Oslo", "Paris"];

    [Fact]
    public async Task Clean_data_has_no_anomalies()
    {
        var path = Write("ok.csv", 1000, i => $"{i},{Cities[i % 3]},{i % 100}.5,{i % 7}");

        var (report, profile) = await DataValidator.ValidateAsync(path, Contract);

        Assert.Empty(report.Anomalies);
        Assert.Equal(1000, report.Rows);
        Assert.Equal(1000, profile.RowCount);
    }

    [Fact]
    public async Task Reports_each_kind_of_anomaly_with_counts_and_examples()
    {
        // Missing 'score', extra 'note', a text value in 'id', nulls in 'city', values out of range, unknown cities.
        var sb = new StringBuilder("id,city,amount,note\n");
        for (var i = 0; i < 100; i++)
        {
            var id = i == 42 ? "forty-two" : i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var city = i % 25 == 0 ? "" : i % 10 == 0 ? "Quito" : Cities[i % 3];
            var amount = i % 3 == 0 ? "" : i < 5 ? "250" : "50";
            sb.Append($"{id},{city},{amount},x\n");
        }

        var path = _folder.WriteText("bad.csv", sb.ToString());

        var (report, _) = await DataValidator.ValidateAsync(path, Contract);

        var byKind = report.Anomalies.ToDictionary(a => (a.Column, a.Kind));
        Assert.Contains("'forty-two' at line 44", byKind[("id", AnomalyKind.TypeMismatch)].Description, StringComparison.Ordinal);
        Assert.Equal(0.04, byKind[("city", AnomalyKind.NullFraction)].Observed);
        var unknown = byKind[("city", AnomalyKind.UnknownCategory)];
        Assert.Equal(new[] { "Quito" }, unknown.Examples);
        Assert.Equal(0.34, byKind[("amount", AnomalyKind.NullFraction)].Observed!.Value, 2);
        Assert.Contains("outside [0, 100]", byKind[("amount", AnomalyKind.OutOfRange)].Description, StringComparison.Ordinal);
        Assert.True(byKind.ContainsKey(("score", AnomalyKind.MissingColumn)));
        Assert.True(byKind.ContainsKey(("note", AnomalyKind.ExtraColumn)));
        Assert.Equal(7, report.Anomalies.Count);
    }

    [Fact]
    public async Task Skew_against_a_reference_profile_is_measured_per_column()
    {
        var reference = await CsvReader.ReadTableAsync(Write("ref.csv", 3000, i => $"{i},{Cities[i % 3]},{i % 100},{i % 7}"));
        var shifted = Write("new.csv", 3000, i => $"{i},{(i % 10 < 8 ? "Paris" : Cities[i % 3])},{Math.Min(99, 50 + (i % 50))},{i % 7}");

        var (report, _) = await DataValidator.ValidateAsync(shifted, Contract, new ValidationOptions { Reference = Profiler.Profile(reference) });

        var city = Assert.Single(report.Anomalies, a => a.Column == "city" && a.Kind == AnomalyKind.DistributionSkew);
        Assert.Contains("'Paris'", city.Description, StringComparison.Ordinal);
        Assert.True(report.SkewDistances["city"] > 0.4);
        Assert.Single(report.Anomalies, a => a.Column == "amount" && a.Kind == AnomalyKind.DistributionSkew);
        Assert.DoesNotContain(report.Anomalies, a => a.Column == "score");
        Assert.True(report.SkewDistances["score"] < 0.05);
    }

    [Fact]
    public async Task Pii_values_never_appear_in_anomalies()
    {
        var schema = new Schema(new Field("email", DataType.String, tags: ["pii:email"], constraints: new FieldConstraints { Categories = ["a@x.org"] }));
        var path = _folder.WriteText("p.csv", "email\na@x.org\nsecret@y.org\n");

        var (report, profile) = await DataValidator.ValidateAsync(path, schema);

        var anomaly = Assert.Single(report.Anomalies);
        Assert.Equal(AnomalyKind.UnknownCategory, anomaly.Kind);
        Assert.DoesNotContain("secret", anomaly.Description, StringComparison.Ordinal);
        Assert.Empty(anomaly.Examples!);
        Assert.DoesNotContain("secret", profile.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Arrow_files_are_validated_with_their_own_types()
    {
        var table = Table.From(("id", Columns.Int32(1, 2, 3)), ("city", Columns.String("Lima", "Rome", null)), ("amount", Columns.String("a", "b", "c")), ("score", Columns.Int64(1, 2, 3)));
        var path = _folder.File("t.arrow");
        await DataFiles.WriteAsync(table, path);

        var (report, _) = await DataValidator.ValidateAsync(path, Contract);

        Assert.Contains(report.Anomalies, a => a.Column == "amount" && a.Kind == AnomalyKind.TypeMismatch);
        Assert.DoesNotContain(report.Anomalies, a => a.Column == "id");
        Assert.Contains(report.Anomalies, a => a.Column == "city" && a.Kind == AnomalyKind.UnknownCategory);
        Assert.Contains(report.Anomalies, a => a.Column == "city" && a.Kind == AnomalyKind.NullFraction);
    }
}
