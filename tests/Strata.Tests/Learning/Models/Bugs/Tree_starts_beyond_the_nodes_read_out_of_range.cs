using Strata.Learning;

namespace Strata.Tests.Learning.Models.Bugs;

/// <summary>
/// Found by the model package fuzzer: tree starts [0, 100, 5] over 5 nodes passed validation (each tree "has nodes"
/// and the last start is the node count), and validation itself then read node 5 and beyond.
/// </summary>
public sealed class Tree_starts_beyond_the_nodes_read_out_of_range
{
    [Fact]
    public void A_tree_that_ends_beyond_the_nodes_is_malformed()
    {
        var e = Assert.Throws<StrataException>(() => new TreeEnsemble(
            1, [0.0], [0, 100, 5], [0, 0],
            [-1, -1, -1, -1, -1], new float[5], [-1, -1, -1, -1, -1], [-1, -1, -1, -1, -1], new byte[5],
            new double[5], new double[5], new double[5], [-1, -1, -1, -1, -1], new int[5], []));
        Assert.Equal(ErrorCodes.DataMalformed, e.Code);
        Assert.Contains("tree 0", e.Message, StringComparison.Ordinal);
    }
}
