namespace LlamaNas.Core.Search;

/// <summary>
/// A decoded sub-network: the first <see cref="Depth"/> layers of the base model, each keeping its first
/// <see cref="IntermediateSizes"/>[l] MLP neurons and first <see cref="KeyValueHeads"/>[l] KV groups (with all of
/// their <see cref="AttentionHeads"/>[l] query heads), at hidden width <see cref="HiddenSize"/>.
/// Equality is by value.
/// </summary>
public sealed record SubnetworkArchitecture(
    int HiddenSize,
    IReadOnlyList<int> IntermediateSizes,
    IReadOnlyList<int> AttentionHeads,
    IReadOnlyList<int> KeyValueHeads)
{
    public int Depth => IntermediateSizes.Count;

    /// <summary>The whole model that <paramref name="config"/> describes, as an architecture.</summary>
    public static SubnetworkArchitecture Of(Models.LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var layers = Enumerable.Range(0, config.NumHiddenLayers).ToList();
        return new SubnetworkArchitecture(config.HiddenSize, [.. config.IntermediateSizes], [.. layers.Select(config.AttentionHeadsOf)], [.. layers.Select(config.KeyValueHeadsOf)]);
    }

    public bool Equals(SubnetworkArchitecture? other) =>
        other is not null
        && HiddenSize == other.HiddenSize
        && IntermediateSizes.SequenceEqual(other.IntermediateSizes)
        && AttentionHeads.SequenceEqual(other.AttentionHeads)
        && KeyValueHeads.SequenceEqual(other.KeyValueHeads);

    public override int GetHashCode() => HashCode.Combine(
        HiddenSize,
        GenesComparer.Instance.GetHashCode(IntermediateSizes),
        GenesComparer.Instance.GetHashCode(AttentionHeads),
        GenesComparer.Instance.GetHashCode(KeyValueHeads));

    public override string ToString() =>
        $"depth {Depth}, hidden {HiddenSize}, mlp [{string.Join(',', IntermediateSizes)}], heads [{string.Join(',', AttentionHeads)}], kv [{string.Join(',', KeyValueHeads)}]";
}

/// <summary>
/// Bytes per stored element, per kind of tensor. Decoder-block linear weights may be INT8 with one scale per
/// output channel; embeddings, the LM head, norms and biases keep their own width.
/// </summary>
public sealed record SizeModel(int EmbeddingBytes, int NormBytes, int LinearWeightBytes, int LinearScaleBytes, int BiasBytes)
{
    public static SizeModel Fp32 { get; } = new(4, 4, 4, 0, 4);

    public static SizeModel Fp16 { get; } = new(2, 2, 2, 0, 2);

    /// <summary>INT8 decoder linears with a per-output-channel scale of <paramref name="scaleBytes"/> (2 = fp16, 4 = fp32).</summary>
    public static SizeModel Int8Linear(int scaleBytes = 2) => new(2, 2, 1, scaleBytes, 2);
}
