using System.Text;

namespace Strata.Tests.Core.Bugs;

// Utf8StringTable.Add grew its hash and offset arrays out of step and threw past twice the starting capacity.
public sealed class Utf8StringTable_grows_past_twice_its_capacity
{
    [Fact]
    public void Thousands_of_distinct_values_of_every_length_keep_their_codes()
    {
        var table = new Utf8StringTable(4);
        var values = Enumerable.Range(0, 5000).Select(i => new string('x', i % 20) + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        for (var i = 0; i < values.Length; i++)
        {
            Assert.Equal(i, table.GetOrAdd(Encoding.UTF8.GetBytes(values[i])));
        }

        for (var i = 0; i < values.Length; i++)
        {
            Assert.True(table.TryGet(Encoding.UTF8.GetBytes(values[i]), out var code));
            Assert.Equal(i, code);
            Assert.Equal(values[i], Encoding.UTF8.GetString(table[code]));
        }

        Assert.False(table.TryGet("absent"u8, out _));
        var dictionary = table.ToDictionary();
        Assert.Equal(values.Length, dictionary.Count);
        Assert.Equal(4321, dictionary.IndexOf(values[4321]));
    }
}
