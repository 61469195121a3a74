using TorchSharp;
using LlamaNas.Core.Models;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    private readonly int _index;
#pragma warning disable IDE0044, CA1051 // registered by RegisterComponents; names mirror the checkpoint keys
    private LlamaAttention self_attn;
    private LlamaMlp mlp;
    private RmsNorm input_layernorm;
    private RmsNorm post_attention_layernorm;
#pragma warning restore IDE0044, CA1051

    public LlamaDecoderLayer(LlamaConfig config, int index, ScalarType dtype, Device? device)
        : base(nameof(LlamaDecoderLayer))
    {
        _index = index;
        self_attn = new LlamaAttention(config, index, dtype, device);
        mlp = new LlamaMlp(config.HiddenSize, config.IntermediateSizes[index], config.MlpBias, dtype, device);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        RegisterComponents();
    }

    public LlamaMlp Mlp => mlp;

    public LlamaAttention SelfAttention => self_attn;

    internal RmsNorm InputNorm => input_layernorm;

    internal RmsNorm PostAttentionNorm => post_attention_layernorm;

    /// <summary>Selects the sub-network's widths of this block; the norms follow the hidden width of their input.</summary>
    internal void Activate(int hidden, int intermediate, int heads, int kvHeads)
    {
        self_attn.Activate(hidden, heads, kvHeads);
        mlp.Activate(hidden, intermediate);
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache) => Forward(x, cos, sin, mask, cache, null);

    /// <summary>The block's forward; an <paramref name="observer"/> also sees its head outputs, MLP activations, input and output.</summary>
    internal Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, IActivationObserver? observer)
    {
        using var scope = NewDisposeScope();
        var output = MlpResidual(AttentionResidual(x, cos, sin, mask, cache, observer), observer);
        observer?.OnBlock(_index, x, output);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>The block's first half, x + attn(norm(x)): the same for blocks that differ in their MLP width alone.</summary>
    internal Tensor AttentionResidual(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, IActivationObserver? observer = null)
    {
        using var scope = NewDisposeScope();
        var heads = self_attn.HeadOutputs(input_layernorm.forward(x), cos, sin, mask, cache, _index);
        observer?.OnAttention(_index, heads, self_attn);
        return x.add(self_attn.Project(heads), Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>The block's second half, h + mlp(norm(h)), on the output of <see cref="AttentionResidual"/>.</summary>
    internal Tensor MlpResidual(Tensor h, IActivationObserver? observer = null)
    {
        using var scope = NewDisposeScope();
        var activations = mlp.Activations(post_attention_layernorm.forward(h));
        observer?.OnMlp(_index, activations, mlp);
        return h.add(mlp.Down(activations), Scalars.One).MoveToOuterDisposeScope();
    }
}
