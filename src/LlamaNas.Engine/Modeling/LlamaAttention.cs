using TorchSharp;
using LlamaNas.Core.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Grouped-query self-attention with RoPE, computed by scaled_dot_product_attention. An active sub-network keeps
/// the first g KV groups with all their query heads (h = g · heads per group): rows [0, h·D) of q_proj and columns
/// [0, h·D) of o_proj, rows [0, g·D) of k_proj and v_proj, and the first d hidden features, by views of the weights.
/// </summary>
public sealed class LlamaAttention : nn.Module
{
    private readonly int _headDim;
#pragma warning disable IDE0044, CA1051 // registered by RegisterComponents; names mirror the checkpoint keys
    private Linear q_proj;
    private Linear k_proj;
    private Linear v_proj;
    private Linear o_proj;
#pragma warning restore IDE0044, CA1051

    public LlamaAttention(LlamaConfig config, int layer, ScalarType dtype, Device? device)
        : base(nameof(LlamaAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        HiddenSize = ActiveHiddenSize = config.HiddenSize;
        Heads = ActiveHeads = config.AttentionHeadsOf(layer);
        KeyValueHeads = ActiveKeyValueHeads = config.KeyValueHeadsOf(layer);
        _headDim = config.HeadDim;
        q_proj = nn.Linear(config.HiddenSize, Heads * _headDim, config.AttentionBias, device, dtype);
        k_proj = nn.Linear(config.HiddenSize, KeyValueHeads * _headDim, config.AttentionBias, device, dtype);
        v_proj = nn.Linear(config.HiddenSize, KeyValueHeads * _headDim, config.AttentionBias, device, dtype);
        o_proj = nn.Linear(Heads * _headDim, config.HiddenSize, config.AttentionBias, device, dtype);
        RegisterComponents();
    }

    public int HiddenSize { get; }

    /// <summary>Query heads of this layer.</summary>
    public int Heads { get; }

    /// <summary>KV heads (groups) of this layer.</summary>
    public int KeyValueHeads { get; }

    public int ActiveHiddenSize { get; private set; }

    public int ActiveHeads { get; private set; }

    public int ActiveKeyValueHeads { get; private set; }

    /// <summary>Selects the sub-network's widths; the caller (<see cref="LlamaForCausalLM.ActivateSubnetwork"/>) has validated them.</summary>
    internal void Activate(int hidden, int heads, int kvHeads)
    {
        ActiveHiddenSize = hidden;
        ActiveHeads = heads;
        ActiveKeyValueHeads = kvHeads;
    }

    /// <param name="x">[B, T, active hidden].</param>
    /// <param name="mask">Boolean [B, 1, T, S] (true = attend), or null for plain causal attention without a cache.</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layerIndex)
    {
        using var scope = NewDisposeScope();
        return Project(HeadOutputs(x, cos, sin, mask, cache, layerIndex)).MoveToOuterDisposeScope();
    }

    /// <summary>The active heads' attention outputs before o_proj, [B, T, h·D] (head i in columns [i·D, (i + 1)·D)).</summary>
    internal Tensor HeadOutputs(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layerIndex)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = ActiveHiddenSize;
        int h = ActiveHeads, g = ActiveKeyValueHeads;
        var q = Slicing.Linear(x, q_proj, h * _headDim, d, Lora.GetValueOrDefault("q_proj")).view(b, t, h, _headDim).transpose(1, 2);
        var k = Slicing.Linear(x, k_proj, g * _headDim, d, Lora.GetValueOrDefault("k_proj")).view(b, t, g, _headDim).transpose(1, 2);
        var v = Slicing.Linear(x, v_proj, g * _headDim, d, Lora.GetValueOrDefault("v_proj")).view(b, t, g, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null)
        {
            (k, v) = cache.Append(layerIndex, k, v);
        }

        if (t == 1 && DecodeAttention.Applies(q, k, v, mask))
        {
            return DecodeAttention.Forward(q, k, v, mask).MoveToOuterDisposeScope();
        }

        if (g != h)
        {
            k = k.repeat_interleave(h / g, dim: 1);
            v = v.repeat_interleave(h / g, dim: 1);
        }

        var o = F.scaled_dot_product_attention(q, k, v, mask, 0.0, mask is null && t > 1);
        return o.transpose(1, 2).reshape(b, t, h * _headDim).MoveToOuterDisposeScope();
    }

    /// <summary>o_proj over the active slice: [B, T, h·D] → [B, T, d].</summary>
    internal Tensor Project(Tensor headOutputs) => Slicing.Linear(headOutputs, o_proj, ActiveHiddenSize, ActiveHeads * _headDim, Lora.GetValueOrDefault("o_proj"));

    /// <summary>Attached LoRA adapters by projection name (<c>q_proj</c> …); empty without LoRA.</summary>
    internal Dictionary<string, LoraAdapter> Lora { get; } = new(StringComparer.Ordinal);

    internal int HeadDim => _headDim;

    internal Linear QProj => q_proj;

    internal Linear KProj => k_proj;

    internal Linear VProj => v_proj;

    internal Linear OProj => o_proj;

    /// <summary>The o_proj weight [hidden, heads·D] (columns [i·D, (i + 1)·D) carry head i to the output).</summary>
    internal Tensor OutputWeight => o_proj.weight!;

    /// <summary>
    /// Reorders whole KV groups so that new group i is old group <paramref name="order"/>[i], with its query heads:
    /// rows of q_proj (per group, its heads' rows), k_proj and v_proj (and biases), columns of o_proj. Query head j
    /// still pairs with KV head j / (heads per group), and RoPE acts on each head alike, so the full layer computes
    /// exactly the same function.
    /// </summary>
    internal void PermuteGroups(long[] order)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var device = q_proj.weight!.device;
        long group = Heads / KeyValueHeads;
        var kvIndex = tensor(Permutation.Expand(order, _headDim), device: device);
        var qIndex = tensor(Permutation.Expand(order, group * _headDim), device: device);
        Permutation.Reorder(q_proj.weight!, 0, qIndex);
        Permutation.Reorder(q_proj.bias, 0, qIndex);
        Permutation.Reorder(k_proj.weight!, 0, kvIndex);
        Permutation.Reorder(k_proj.bias, 0, kvIndex);
        Permutation.Reorder(v_proj.weight!, 0, kvIndex);
        Permutation.Reorder(v_proj.bias, 0, kvIndex);
        Permutation.Reorder(o_proj.weight!, 1, qIndex);
    }
}
