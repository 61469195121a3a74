using TorchSharp;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>The decoder stack (HF prefix <c>model.</c>): embeddings, blocks, final norm.</summary>
public sealed class LlamaModel : nn.Module
{
    private readonly RotaryEmbedding _rope;
#pragma warning disable IDE0044, CA1051 // registered by RegisterComponents; names mirror the checkpoint keys
    private TokenEmbedding embed_tokens;
    private ModuleList<LlamaDecoderLayer> layers;
    private RmsNorm norm;
#pragma warning restore IDE0044, CA1051

    public LlamaModel(LlamaConfig config, ScalarType dtype, Device? device)
        : base(nameof(LlamaModel))
    {
        _rope = new RotaryEmbedding(config);
        embed_tokens = new TokenEmbedding(config.VocabSize, config.HiddenSize, dtype, device);
        layers = new ModuleList<LlamaDecoderLayer>([.. Enumerable.Range(0, config.NumHiddenLayers).Select(i => new LlamaDecoderLayer(config, i, dtype, device))]);
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype, device);
        ActiveDepth = config.NumHiddenLayers;
        RegisterComponents();
    }

    public TokenEmbedding EmbedTokens => embed_tokens;

    internal RotaryEmbedding Rope => _rope;

    internal RmsNorm FinalNorm => norm;

    internal LlamaDecoderLayer Layer(int index) => layers[index];

    public IReadOnlyList<LlamaDecoderLayer> Layers => [.. layers];

    /// <summary>Blocks in use: the sub-network keeps the first N.</summary>
    public int ActiveDepth { get; private set; }

    /// <summary>Hidden features in use: the sub-network keeps the first d.</summary>
    public int ActiveHiddenSize => embed_tokens.ActiveDim;

    /// <summary>
    /// Selects a validated sub-network (see <see cref="LlamaForCausalLM.ActivateSubnetwork"/>). Blocks past its depth
    /// do not run; they are reset to the <paramref name="full"/> sizes.
    /// </summary>
    internal void Activate(SubnetworkArchitecture active, SubnetworkArchitecture full)
    {
        ActiveDepth = active.Depth;
        embed_tokens.Activate(active.HiddenSize);
        for (var i = 0; i < layers.Count; i++)
        {
            var a = i < active.Depth ? active : full;
            layers[i].Activate(a.HiddenSize, a.IntermediateSizes[i], a.AttentionHeads[i], a.KeyValueHeads[i]);
        }
    }

    /// <summary>Final hidden states [B, T, hidden] (after the last norm).</summary>
    /// <param name="inputIds">[B, T] token ids.</param>
    /// <param name="attentionMask">[B, past + T], 1 for real tokens and 0 for padding; null when nothing is padded.</param>
    /// <param name="cache">Cache holding the past positions; it is advanced by T.</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask, KvCache? cache) => Forward(inputIds, attentionMask, cache, null);

    /// <summary>The forward pass; an <paramref name="observer"/> sees every active block's intermediate activations.</summary>
    internal Tensor Forward(Tensor inputIds, Tensor? attentionMask, KvCache? cache, IActivationObserver? observer)
    {
        using var scope = NewDisposeScope();
        var (h, blocks) = Begin(inputIds, attentionMask, cache);
        for (var i = 0; i < ActiveDepth; i++)
        {
            h = Block(i, h, blocks, cache, observer);
        }

        cache?.Advance(inputIds.shape[1]);
        return End(h).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The start of a forward pass over the active sub-network: token embeddings and what every block shares (RoPE
    /// tables, attention mask). With <see cref="Block"/> and <see cref="End"/> it is exactly <see cref="Forward(Tensor, Tensor?, KvCache?)"/>,
    /// split so that callers can reuse the states after a block (sub-networks with a common prefix of blocks).
    /// </summary>
    internal (Tensor Hidden, BlockInputs Shared) Begin(Tensor inputIds, Tensor? attentionMask, KvCache? cache)
    {
        long b = inputIds.shape[0], t = inputIds.shape[1];
        var past = cache?.Length ?? 0;
        var total = past + t;
        var device = inputIds.device;

        // Positions count real tokens only, so a left-padded row sees the same positions as its unpadded self.
        using var one = 1.ToScalar(); // disposed here, not on the GC's finalizer thread (see RmsNorm)
        using var zero = 0.ToScalar();
        using var first = past.ToScalar(); // arange's bounds too: implicit conversions would be Scalars left to the finalizer
        using var end = total.ToScalar();
        var positions = attentionMask is null
            ? arange(first, end, int64, device).unsqueeze(0).expand(b, t)
            : attentionMask.to(int64).cumsum(1).sub_(one).clamp_min_(zero).narrow(1, past, t);

        Tensor? mask = null;
        if (attentionMask is not null || (past > 0 && t > 1))
        {
            var queryPos = arange(first, end, int64, device).view(1, 1, t, 1);
            var keyPos = arange(zero, end, int64, device).view(1, 1, 1, total);
            mask = (keyPos <= queryPos).expand(b, 1, t, total);
            if (attentionMask is not null)
            {
                // Padding rows may attend to themselves only, which keeps every softmax row finite.
                mask = (mask & attentionMask.to(@bool).view(b, 1, 1, total)) | (keyPos == queryPos);
            }
        }

        var h = embed_tokens.forward(inputIds);
        var (cos, sin) = _rope.Compute(positions, h.dtype);
        return (h, new BlockInputs(cos, sin, mask));
    }

    /// <summary>Block <paramref name="index"/>, as the active sub-network configures it, applied to <paramref name="hidden"/>.</summary>
    internal Tensor Block(int index, Tensor hidden, BlockInputs shared, KvCache? cache = null, IActivationObserver? observer = null) =>
        layers[index].Forward(hidden, shared.Cos, shared.Sin, shared.Mask, cache, observer);

    /// <summary>The first half of block <paramref name="index"/> (x + attention), as the active sub-network configures it.</summary>
    internal Tensor BlockAttention(int index, Tensor hidden, BlockInputs shared) => layers[index].AttentionResidual(hidden, shared.Cos, shared.Sin, shared.Mask, null);

    /// <summary>The second half of block <paramref name="index"/> (h + MLP) on <see cref="BlockAttention"/>'s output.</summary>
    internal Tensor BlockMlp(int index, Tensor attended) => layers[index].MlpResidual(attended);

    /// <summary>The final norm: hidden states after the last block → the model's final hidden states.</summary>
    internal Tensor End(Tensor hidden) => norm.forward(hidden);
}

/// <summary>What every block of one forward pass reads besides the hidden states.</summary>
internal sealed record BlockInputs(Tensor Cos, Tensor Sin, Tensor? Mask);

/// <summary>
/// A Llama-family causal language model whose parameter names are exactly the Hugging Face checkpoint keys
/// (<c>model.layers.0.self_attn.q_proj.weight</c>, …). The lm_head is tied to the embeddings when the config says so.
/// It is also an elastic super-network: see <see cref="ActivateSubnetwork"/> and <see cref="ExtractSubnetwork"/>.
/// </summary>
public sealed partial class LlamaForCausalLM : nn.Module
{
#pragma warning disable IDE0044, CA1051 // registered by RegisterComponents; names mirror the checkpoint keys
    private LlamaModel model;
    private Linear? lm_head;
#pragma warning restore IDE0044, CA1051

    private LlamaForCausalLM(LlamaConfig config, ScalarType dtype, Device? device)
        : base(nameof(LlamaForCausalLM))
    {
        Config = config;
        Dtype = dtype;
        model = new LlamaModel(config, dtype, device);
        lm_head = config.TieWordEmbeddings ? null : nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, device, dtype);
        FullArchitecture = ArchitectureOf(config);
        ActiveArchitecture = FullArchitecture;
        RegisterComponents();
    }

    public LlamaConfig Config { get; }

    public ScalarType Dtype { get; }

    public LlamaModel Model => model;

    /// <summary>The untied LM head; null when it is the embedding table.</summary>
    internal Linear? LmHead => lm_head;

    /// <summary>Creates a model with HF's initialisation (normal(0, 0.02), norms at 1), deterministic for a seed.</summary>
    public static LlamaForCausalLM CreateRandom(LlamaConfig config, ScalarType dtype = ScalarType.Float32, long seed = 0, Device? device = null, double std = 0.02)
    {
        var m = new LlamaForCausalLM(config, dtype, device);
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed, device ?? CPU);
        foreach (var (name, p) in m.named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                p.fill_(1.0);
            }
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                p.zero_();
            }
            else
            {
                p.normal_(0, std, generator);
            }
        }

        return m;
    }

    /// <summary>
    /// Creates the model and fills every parameter from <paramref name="read"/> (name, compute dtype) → tensor,
    /// one tensor at a time so that peak memory stays one model plus one tensor.
    /// </summary>
    public static LlamaForCausalLM Create(LlamaConfig config, ScalarType dtype, Func<string, ScalarType, Tensor> read, Device? device = null)
    {
        var m = new LlamaForCausalLM(config, dtype, device);
        using var noGrad = no_grad();
        foreach (var (name, p) in m.named_parameters())
        {
            using var source = read(name, dtype);
            if (!source.shape.SequenceEqual(p.shape))
            {
                throw new InvalidOperationException($"tensor {name} has shape [{string.Join(", ", source.shape)}], expected [{string.Join(", ", p.shape)}]"); // LlamaCheckpoint validates shapes first
            }

            p.copy_(source);
        }

        return m;
    }

    /// <summary>Loads a Hugging Face checkpoint directory (validated by <see cref="LlamaCheckpoint"/>) into <paramref name="dtype"/>.</summary>
    public static LlamaForCausalLM Load(string directory, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        using var checkpoint = LlamaCheckpoint.Open(directory);
        return Create(checkpoint.Config, dtype, checkpoint.Load, device);
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>Logits in fp32: [B, T, vocab], or [B, 1, vocab] for the last position only.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null, bool lastPositionOnly = false)
    {
        cache?.BindTo(ActiveArchitecture);
        if (cache is not null && attentionMask is null && DecodeStep.TryForward(this, inputIds, cache) is { } step)
        {
            return step;
        }

        using var scope = NewDisposeScope();
        var h = model.Forward(inputIds, attentionMask, cache);
        if (lastPositionOnly)
        {
            h = h.narrow(1, h.shape[1] - 1, 1);
        }

        return Logits(h).MoveToOuterDisposeScope();
    }

    /// <summary>Final hidden states [B, T, hidden]; with <see cref="Logits"/>, lets callers project only the positions they need.</summary>
    public Tensor Hidden(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null)
    {
        cache?.BindTo(ActiveArchitecture);
        return model.Forward(inputIds, attentionMask, cache);
    }

    /// <summary>
    /// Runs the active network over <paramref name="inputIds"/> [B, T] (unpadded, no cache, no gradients) and shows
    /// <paramref name="observer"/> each block's head outputs, MLP activations, input and output.
    /// </summary>
    internal void Observe(Tensor inputIds, IActivationObserver observer)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        model.Forward(inputIds, null, null, observer);
    }

    /// <summary>fp32 vocabulary logits for hidden states [..., active hidden width].</summary>
    public Tensor Logits(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var d = hidden.shape[^1];
        var tiedLora = lm_head is null ? model.EmbedTokens.Lora : null;
        var logits = lm_head is null ? MatVec.Linear(hidden, Slicing.Leading(model.EmbedTokens.Weight, 1, d), fp32Result: tiedLora is null) : Slicing.Linear(hidden, lm_head, Config.VocabSize, d, _lmHeadLora);
        if (tiedLora is { } tied)
        {
            logits = logits.add(tied.Forward(hidden, Config.VocabSize, d), Scalars.One);
        }

        return logits.to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>A cache for one decoding run of the active sub-network (its KV heads size the stored keys and values).</summary>
    public KvCache NewCache(long capacity) => new(Config.NumHiddenLayers, capacity);
}
