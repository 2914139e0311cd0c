using System.Globalization;
using Strata.Data.Profiling;

namespace Strata.Tests.Data.Profiling;

public sealed class PiiProfileTests
{
    private static readonly string[] Emails = ["alice.smith@example.com", "bob.jones@example.org", "carol.white@example.net", "dave.brown@example.com"];
    private static readonly double[] Salaries = [123456.789, 98765.4321, 55555.125, 77777.0625];
    private static readonly long[] Ids = [987654321987, 123123123123, 555000555000, 424242424242];
    private static readonly long[] Births = [-123456789012345, 456789012345678, 111222333444555, 666777888999000];

    [Fact]
    public void Profile_of_a_pii_column_never_contains_its_values()
    {
        var table = PiiTable(rows: 4_000);
        var profile = Profiler.Profile(table, new ProfileOptions { SliceRows = 1024 });
        var plain = Profiler.Profile(table.WithSchema(new Schema(table.Schema.Select(f => f.WithTags([])))));

        // Merged, reloaded, and merged with a profile that did hold the values: none may leak them.
        var variants = new[]
        {
            profile,
            profile.Merge(profile),
            TableProfile.FromJson(profile.ToJson()),
            profile.Merge(plain),
            plain.Merge(profile),
        };
        foreach (var variant in variants)
        {
            foreach (var json in new[] { variant.ToJson(), variant.ToJson(indented: true) })
            {
                foreach (var raw in RawValueSpellings())
                {
                    Assert.DoesNotContain(raw, json, StringComparison.Ordinal);
                }
            }

            Assert.All(variant.Columns, c => Assert.True(c.IsPii));
        }

        // The same table without the tags does show them, so the check above can fail.
        Assert.Contains(Emails[0], plain.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Pii_profile_keeps_counts_nulls_distinct_and_string_lengths_only()
    {
        var profile = Profiler.Profile(PiiTable(rows: 1_000));

        var email = (StringColumnProfile)profile["email"];
        Assert.Equal((1_000L, 250L), (email.Count, email.NullCount));
        Assert.Equal(4, email.DistinctEstimate, 0.5);
        Assert.Null(email.TopValues());
        Assert.Null(email.FrequenciesAreExact);
        Assert.Null(email.Frequency(Emails[0]));
        Assert.Equal((21L, 23L), (email.MinLength, email.MaxLength));

        var salary = (NumericColumnProfile)profile["salary"];
        Assert.False(salary.HasValues);
        Assert.Equal(4, salary.DistinctEstimate, 0.5);
        Assert.Null(salary.Min);
        Assert.Null(salary.Mean);
        Assert.Null(salary.Quantile(0.5));
        Assert.Null(salary.Histogram());
        Assert.Null(salary.Moments);
        Assert.Null(salary.NanCount);

        var id = (NumericColumnProfile)profile["id"];
        Assert.Null(id.IntegerMin);
        Assert.Equal(4, id.DistinctEstimate, 0.5);

        var consent = (BoolColumnProfile)profile["consent"];
        Assert.Null(consent.TrueCount);
        Assert.Equal(2, consent.DistinctEstimate);
    }

    [Fact]
    public void Merging_a_pii_profile_with_a_plain_one_is_pii()
    {
        var table = PiiTable(rows: 500);
        var pii = Profiler.Profile(table);
        var plain = Profiler.Profile(table.WithSchema(new Schema(table.Schema.Select(f => f.WithTags([])))));

        var merged = plain.Merge(pii);

        Assert.True(merged["email"].IsPii);
        Assert.Null(((StringColumnProfile)merged["email"]).TopValues());
        Assert.Equal(1_000, merged["email"].Count);
        Assert.Equal(4, merged["email"].DistinctEstimate, 0.5);
    }

    [Fact]
    public void Builder_treats_a_column_as_pii_once_any_batch_tags_it()
    {
        var table = PiiTable(rows: 800);
        var untagged = table.WithSchema(new Schema(table.Schema.Select(f => f.WithTags([]))));
        var builder = new ProfileBuilder(untagged.Schema);
        builder.Add(untagged.Slice(0, 400));

        builder.Add(table.Slice(400, 400));
        var profile = builder.Build();

        Assert.All(profile.Columns, c => Assert.True(c.IsPii));
        Assert.Equal(800, profile["email"].Count);
        Assert.DoesNotContain(Emails[0], profile.ToJson(), StringComparison.Ordinal);
    }

    private static Table PiiTable(int rows)
    {
        var email = new StringColumnBuilder();
        var salary = new PrimitiveColumnBuilder<double>(DataType.Float64);
        var id = new PrimitiveColumnBuilder<long>(DataType.Int64);
        var birth = new PrimitiveColumnBuilder<long>(DataType.Timestamp);
        var consent = new PrimitiveColumnBuilder<bool>(DataType.Bool);
        for (var i = 0; i < rows; i++)
        {
            if (i % 4 == 3)
            {
                email.AppendNull();
            }
            else
            {
                email.Append(Emails[i % 3 == 0 ? 0 : (i % 7 == 0 ? 3 : (i % 2) + 1)]);
            }

            salary.Append(Salaries[i % 4]);
            id.Append(Ids[i % 4]);
            birth.Append(Births[i % 4]);
            consent.Append(i % 5 == 0);
        }

        var schema = new Schema(
            new Field("email", DataType.String, tags: ["pii:email"]),
            new Field("salary", DataType.Float64, tags: ["PII"]),
            new Field("id", DataType.Int64, tags: ["pii"]),
            new Field("birth", DataType.Timestamp, tags: ["pii:birthdate"]),
            new Field("consent", DataType.Bool, tags: ["pii"]));
        return new Table(schema, [email.Build(), salary.Build(), id.Build(), birth.Build(), consent.Build()]);
    }

    private static IEnumerable<string> RawValueSpellings()
    {
        foreach (var e in Emails)
        {
            yield return e;
        }

        foreach (var s in Salaries)
        {
            yield return s.ToString("R", CultureInfo.InvariantCulture);
            yield return s.ToString("G17", CultureInfo.InvariantCulture);
            yield return Math.Truncate(s).ToString(CultureInfo.InvariantCulture);
        }

        foreach (var n in Ids.Concat(Births))
        {
            yield return n.ToString(CultureInfo.InvariantCulture);
            yield return ((double)n).ToString("R", CultureInfo.InvariantCulture);
            yield return Timestamp.Format(n);
        }
    }
}
