namespace LlamaNas.Core.Search;

/// <summary>
/// Sub-networks of one super-network arranged by shared prefixes: candidates with the same hidden width whose first k
/// blocks are configured alike (MLP width, heads, KV heads) compute the same hidden states after block k, so a node
/// at depth k stands for that computation, done once for every candidate below it. Each root is one hidden width;
/// children keep the order in which candidates first reach them, so a walk is deterministic. Children whose blocks
/// differ in their MLP width alone also share the block's first half (x + attention(norm(x))): see
/// <see cref="Node.ChildrenByAttention"/>.
/// </summary>
public sealed class LayerPrefixTree
{
    private LayerPrefixTree(IReadOnlyList<Node> roots, long blocks, long unshared)
    {
        (Roots, Blocks, UnsharedBlocks) = (roots, blocks, unshared);
        AttentionBlocks = Count(roots);

        static long Count(IReadOnlyList<Node> nodes) => nodes.Sum(n => n.ChildrenByAttention.Count + Count(n.Children));
    }

    /// <summary>One node per distinct hidden width: the embeddings, before any block.</summary>
    public IReadOnlyList<Node> Roots { get; }

    /// <summary>Block forwards a walk of the tree runs (one per non-root node).</summary>
    public long Blocks { get; }

    /// <summary>Block forwards candidate by candidate (the sum of the depths).</summary>
    public long UnsharedBlocks { get; }

    /// <summary>Attention halves of blocks a walk runs: one per group of <see cref="Node.ChildrenByAttention"/>.</summary>
    public long AttentionBlocks { get; }

    public static LayerPrefixTree Build(IReadOnlyList<SubnetworkArchitecture> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var roots = new List<Node>();
        long blocks = 0, unshared = 0;
        for (var c = 0; c < candidates.Count; c++)
        {
            var arch = candidates[c];
            unshared += arch.Depth;
            var node = roots.Find(r => r.HiddenSize == arch.HiddenSize);
            if (node is null)
            {
                node = new Node(arch.HiddenSize, null, c);
                roots.Add(node);
            }

            for (var l = 0; l < arch.Depth; l++)
            {
                var block = new BlockConfig(arch.IntermediateSizes[l], arch.AttentionHeads[l], arch.KeyValueHeads[l]);
                var child = node.ChildList.Find(n => n.Block == block);
                if (child is null)
                {
                    child = new Node(arch.HiddenSize, block, c);
                    node.ChildList.Add(child);
                    blocks++;
                }

                node = child;
            }

            node.EndingList.Add(c);
        }

        return new LayerPrefixTree(roots, blocks, unshared);
    }

    /// <summary>The configuration of one block: MLP width, attention heads, KV heads.</summary>
    public readonly record struct BlockConfig(int IntermediateSize, int AttentionHeads, int KeyValueHeads);

    /// <summary>
    /// The hidden states after <c>depth</c> blocks for every candidate below. <see cref="Representative"/> is a
    /// candidate whose architecture runs this node's block (any candidate below would do: they agree up to here).
    /// </summary>
    public sealed class Node(int hiddenSize, BlockConfig? block, int representative)
    {
        internal List<Node> ChildList { get; } = [];

        internal List<int> EndingList { get; } = [];

        public int HiddenSize { get; } = hiddenSize;

        /// <summary>The block this node runs (null for a root).</summary>
        public BlockConfig? Block { get; } = block;

        public int Representative { get; } = representative;

        public IReadOnlyList<Node> Children => ChildList;

        /// <summary>
        /// <see cref="Children"/> grouped by heads and KV heads (in order of first appearance): the children of a group
        /// compute the same first half of their block, x + attention(norm(x)), and differ from there on.
        /// </summary>
        public IReadOnlyList<IReadOnlyList<Node>> ChildrenByAttention =>
            field ??= [.. ChildList.GroupBy(c => (c.Block!.Value.AttentionHeads, c.Block!.Value.KeyValueHeads)).Select(g => (IReadOnlyList<Node>)[.. g])];

        /// <summary>Candidates (indices into the built list) whose last block is this node's.</summary>
        public IReadOnlyList<int> Ending => EndingList;
    }
}
