using LlamaNas.Core.Search;

namespace LlamaNas.Core.Tests.Search;

public class LayerPrefixTreeTests
{
    private static SubnetworkArchitecture Arch(int hidden, params int[] mlp) => new(hidden, mlp, [.. mlp.Select(_ => 8)], [.. mlp.Select(_ => 4)]);

    [Fact]
    public void Candidates_with_common_leading_blocks_share_nodes_and_end_where_their_depth_ends()
    {
        SubnetworkArchitecture[] candidates =
        [
            Arch(64, 86, 172, 43),
            Arch(64, 86, 172, 129, 43),
            Arch(64, 86, 172, 43), // a duplicate ends on the same node
            Arch(64, 43, 172, 43),
            Arch(32, 86, 172, 43), // another hidden width shares nothing
            Arch(64, 86, 172),
        ];
        var tree = LayerPrefixTree.Build(candidates);

        Assert.Equal(3 + 4 + 3 + 3 + 3 + 2, tree.UnsharedBlocks);
        // hidden 64: 86 → 172 → {43, 129 → 43}, 43 → 172 → 43; hidden 32: 86 → 172 → 43.
        Assert.Equal(5 + 3 + 3, tree.Blocks);
        // Attention halves: one per group of siblings with the same heads. 86 and 43 under the root share one, and so
        // do 43 and 129 after 86 → 172, which leaves 6 for the 8 blocks of hidden 64.
        Assert.Equal(6 + 3, tree.AttentionBlocks);
        Assert.Equal([64, 32], tree.Roots.Select(r => r.HiddenSize));

        var wide = tree.Roots[0];
        Assert.Equal([86, 43], wide.Children.Select(c => c.Block!.Value.IntermediateSize));
        var shared = wide.Children[0].Children.Single();
        Assert.Equal([5], shared.Ending);
        Assert.Equal(0, shared.Representative);
        Assert.Equal([0, 2], shared.Children[0].Ending);
        Assert.Equal(1, shared.Children[1].Representative);
        Assert.Equal([1], shared.Children[1].Children.Single().Ending);
        Assert.Equal([3], wide.Children[1].Children.Single().Children.Single().Ending);
        Assert.Equal(4, tree.Roots[1].Representative);
        Assert.Empty(wide.Ending);
    }

    [Fact]
    public void Blocks_differing_in_heads_alone_are_different_nodes()
    {
        var a = new SubnetworkArchitecture(64, [172, 172], [8, 8], [4, 4]);
        var b = new SubnetworkArchitecture(64, [172, 172], [8, 4], [4, 2]);
        var tree = LayerPrefixTree.Build([a, b]);
        Assert.Equal(3, tree.Blocks);
        var first = tree.Roots.Single().Children.Single();
        Assert.Equal([new LayerPrefixTree.BlockConfig(172, 8, 4), new LayerPrefixTree.BlockConfig(172, 4, 2)], first.Children.Select(c => c.Block!.Value));
        Assert.Equal([[0], [1]], first.Children.Select(c => c.Ending.ToArray()));
        Assert.Equal(2, first.ChildrenByAttention.Count);
        Assert.Equal(3, tree.AttentionBlocks);
    }

    [Fact]
    public void Siblings_are_grouped_by_heads_in_order_of_first_appearance()
    {
        SubnetworkArchitecture[] candidates =
        [
            new(64, [43], [8], [4]),
            new(64, [86], [4], [2]),
            new(64, [129], [8], [4]),
            new(64, [172], [4], [2]),
        ];
        var root = LayerPrefixTree.Build(candidates).Roots.Single();
        Assert.Equal([[43, 129], [86, 172]], root.ChildrenByAttention.Select(g => g.Select(c => c.Block!.Value.IntermediateSize).ToArray()));
    }
}
