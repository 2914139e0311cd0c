using System.Globalization;
using Strata.Testing;

namespace Strata.Tests.Learning.Linear;

/// <summary>
/// Reads the small CSV fixtures under tests/fixtures (no quoting; an empty cell is null) into a table with exact
/// values: a column of integers becomes int64, of other numbers float64 (parsed by double.Parse, which round-trips the
/// generator's repr), anything else string.
/// </summary>
internal static class FixtureCsv
{
    public static string PathOf(params string[] parts) => SharedData.InRepository(["tests", "fixtures", .. parts]);

    public static Table Read(params string[] parts)
    {
        var lines = File.ReadAllLines(PathOf(parts));
        var names = lines[0].Split(',');
        var cells = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
        var columns = new List<(string, Column)>();
        for (var c = 0; c < names.Length; c++)
        {
            var values = cells.Select(row => row[c].Length == 0 ? null : row[c]).ToArray();
            var present = values.Where(v => v is not null).ToArray();
            if (present.Length > 0 && present.All(v => long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)))
            {
                columns.Add((names[c], Columns.Int64([.. values.Select(v => v is null ? (long?)null : long.Parse(v, CultureInfo.InvariantCulture))])));
            }
            else if (present.Length > 0 && present.All(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            {
                columns.Add((names[c], Columns.Float64([.. values.Select(v => v is null ? (double?)null : double.Parse(v, CultureInfo.InvariantCulture))])));
            }
            else
            {
                columns.Add((names[c], Columns.String(values)));
            }
        }

        return Table.From([.. columns]);
    }
}
