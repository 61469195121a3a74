using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Elastic LoRA: adapters on every attention and MLP projection and on the LM head (for tied embeddings, on the
/// shared table, which the LM head reads), sliced with their weights so every sub-network trains and runs its
/// leading block of ΔW. The base weights are frozen while adapters are attached; <see cref="MergeLora"/> folds ΔW
/// into them for export. <see cref="ExtractSubnetwork"/> and checkpoint writers see base weights only: merge first.
/// </summary>
public sealed partial class LlamaForCausalLM
{
    private readonly List<LoraAdapter> _lora = [];
    private LoraAdapter? _lmHeadLora;
    private LoraDropout? _loraDropout;

    /// <summary>The attached adapters (none without LoRA), in parameter-name order.</summary>
    public IReadOnlyList<LoraAdapter> LoraAdapters => _lora;

    internal bool HasLora => _lora.Count > 0;

    public LoraOptions? Lora { get; private set; }

    /// <summary>
    /// Attaches a fresh adapter to every attention and MLP projection and the LM head, A drawn from
    /// <paramref name="seed"/> and B zero (the model's function is unchanged until training), and freezes the base
    /// weights so only adapters train.
    /// </summary>
    public void AttachLora(LoraOptions options, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Lora is not null)
        {
            throw new InvalidOperationException("LoRA adapters are already attached; merge them first");
        }

        if (!options.IsValid)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "LoRA needs rank ≥ 1, alpha > 0 and dropout in [0, 1)");
        }

        var device = model.EmbedTokens.Weight.device;
        _loraDropout = new LoraDropout(options.Dropout, device);
        using var generator = new Generator(seed, device);
        LoraAdapter Adapter(string name, Tensor weight) =>
            new(name, weight.shape[0], weight.shape[1], options, _loraDropout, Dtype, device, generator);

        foreach (var (name, module) in named_modules())
        {
            var host = module switch
            {
                LlamaAttention a => a.Lora,
                LlamaMlp m => m.Lora,
                _ => null,
            };
            foreach (var (child, linear) in host is null ? [] : module.named_children().Where(c => c.module is Linear).Select(c => (c.name, (Linear)c.module)))
            {
                host![child] = Adapter($"{name}.{child}", linear.weight!);
                _lora.Add(host[child]);
            }
        }

        if (lm_head is null)
        {
            model.EmbedTokens.Lora = Adapter("model.embed_tokens", model.EmbedTokens.Weight);
            _lora.Add(model.EmbedTokens.Lora);
        }
        else
        {
            _lmHeadLora = Adapter("lm_head", lm_head.weight!);
            _lora.Add(_lmHeadLora);
        }

        _lora.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        foreach (var p in parameters())
        {
            p.requires_grad = false;
        }

        Lora = options;
    }

    /// <summary>Adds every adapter's ΔW into its weight, detaches the adapters and unfreezes the base weights.</summary>
    public void MergeLora()
    {
        var weights = named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        foreach (var adapter in _lora)
        {
            adapter.MergeInto(weights[adapter.Name + ".weight"]);
            adapter.Dispose();
        }

        _lora.Clear();
        foreach (var (_, module) in named_modules())
        {
            (module as LlamaAttention)?.Lora.Clear();
            (module as LlamaMlp)?.Lora.Clear();
        }

        model.EmbedTokens.Lora = null;
        _lmHeadLora = null;
        _loraDropout?.Dispose();
        _loraDropout = null;
        foreach (var p in parameters())
        {
            p.requires_grad = true;
        }

        Lora = null;
    }

    /// <summary>
    /// What training updates, by name: the base weights that require gradients (none while LoRA is attached),
    /// then the adapters as <c>&lt;weight&gt;.lora_A</c> / <c>.lora_B</c>.
    /// </summary>
    public IEnumerable<(string Name, Parameter Parameter)> TrainableParameters() =>
        named_parameters().Where(p => p.parameter.requires_grad)
            .Concat(_lora.SelectMany(a => new[] { (a.Name + ".lora_A", a.A), (a.Name + ".lora_B", a.B) }));

    /// <summary>Turns adapter dropout on for one training step, with masks drawn from (seed, step) alone.</summary>
    public void BeginLoraStep(ulong seed, long step) => _loraDropout?.Begin(seed, step);

    /// <summary>Turns adapter dropout off (evaluation and generation never drop).</summary>
    public void EndLoraStep() => _loraDropout?.End();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var adapter in _lora)
            {
                adapter.Dispose();
            }

            _loraDropout?.Dispose();
        }

        base.Dispose(disposing);
    }
}
