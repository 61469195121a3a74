using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Token embedding table. TorchSharp's own Embedding allocates a new weight handle on every access (a leak per
/// forward until finalisation), so the parameter is held directly here. An active sub-network of hidden width d
/// looks up the first d columns.
/// </summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE0044, CA1051 // registered by RegisterComponents; name mirrors the checkpoint key
    private TorchSharp.Modules.Parameter weight;
#pragma warning restore IDE0044, CA1051

    public TokenEmbedding(long vocab, long dim, ScalarType dtype, Device? device)
        : base(nameof(TokenEmbedding))
    {
        weight = new TorchSharp.Modules.Parameter(empty(vocab, dim, dtype, device));
        ActiveDim = (int)dim;
        RegisterComponents();
    }

    public TorchSharp.Modules.Parameter Weight => weight;

    /// <summary>Embedding columns in use (the sub-network's hidden width).</summary>
    public int ActiveDim { get; private set; }

    /// <summary>Selects the sub-network's hidden width; the caller (<see cref="LlamaForCausalLM.ActivateSubnetwork"/>) has validated it.</summary>
    internal void Activate(int dim) => ActiveDim = dim;

    /// <summary>A LoRA adapter of the table (tied models: it adapts the LM head too, so it merges exactly); null without.</summary>
    internal LoraAdapter? Lora { get; set; }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        long[] shape = [.. input.shape, ActiveDim];
        var ids = input.flatten();
        var rows = Slicing.Leading(weight, 1, ActiveDim).index_select(0, ids);
        if (Lora is not null)
        {
            rows = rows.add(Lora.Rows(ids, ActiveDim), Scalars.One);
        }

        return rows.view(shape).MoveToOuterDisposeScope();
    }
}
