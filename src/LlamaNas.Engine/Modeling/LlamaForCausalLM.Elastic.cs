using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// The model as an elastic super-network. A sub-network keeps the first N blocks and, in each sliced matrix, the
/// first k neurons, heads (whole KV groups) and hidden features. Activating one only records its sizes: every forward
/// then runs on views of the weights, so switching allocates no weight memory. Extracting one copies those views
/// into a standalone, smaller model.
/// </summary>
public sealed partial class LlamaForCausalLM
{
    /// <summary>The architecture of the whole model, as a sub-network that keeps everything.</summary>
    public SubnetworkArchitecture FullArchitecture { get; }

    /// <summary>The sub-network that <see cref="Forward"/> runs (<see cref="FullArchitecture"/> unless another is active).</summary>
    public SubnetworkArchitecture ActiveArchitecture { get; private set; }

    /// <summary>
    /// Runs <paramref name="architecture"/> from now on: no weight is copied or allocated. Coded errors (LNAS0400-0405)
    /// when it is not a sub-network of this model; the active sub-network is then left as it was.
    /// </summary>
    public void ActivateSubnetwork(SubnetworkArchitecture architecture)
    {
        Validate(architecture);
        if (_quantized is not null && !architecture.Equals(ActiveArchitecture))
        {
            throw new InvalidOperationException("the active sub-network runs quantized; dispose the quantization scope before switching");
        }

        ActiveArchitecture = architecture.Equals(FullArchitecture)
            ? FullArchitecture
            : new SubnetworkArchitecture(architecture.HiddenSize, [.. architecture.IntermediateSizes], [.. architecture.AttentionHeads], [.. architecture.KeyValueHeads]);
        model.Activate(ActiveArchitecture, FullArchitecture);
    }

    /// <summary>Runs the whole model again.</summary>
    public void ActivateFull() => ActivateSubnetwork(FullArchitecture);

    /// <summary>
    /// A new standalone model of <paramref name="architecture"/> (same dtype and device) whose weights are contiguous
    /// copies of the slices this model runs for it, with a config that describes it (per-layer head counts when
    /// layers differ). Its logits equal this model's with <paramref name="architecture"/> active.
    /// </summary>
    public LlamaForCausalLM ExtractSubnetwork(SubnetworkArchitecture architecture)
    {
        Validate(architecture);
        var config = Config.WithLayers(architecture.HiddenSize, architecture.IntermediateSizes, architecture.AttentionHeads, architecture.KeyValueHeads);
        var shapes = config.ExpectedTensors();
        var source = named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        return Create(config, Dtype, (name, _) => LeadingBlock(source[name], shapes[name]), model.EmbedTokens.Weight.device);
    }

    /// <summary>
    /// Every parameter of <paramref name="architecture"/> as (name, view of the leading block it keeps), the slices
    /// its forward runs on; the views are new handles (dispose them, or call inside a dispose scope).
    /// </summary>
    public IEnumerable<(string Name, Tensor Slice)> SubnetworkSlices(SubnetworkArchitecture architecture)
    {
        Validate(architecture);
        var shapes = Config.WithLayers(architecture.HiddenSize, architecture.IntermediateSizes, architecture.AttentionHeads, architecture.KeyValueHeads).ExpectedTensors();
        var source = named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        return shapes.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => (s.Key, LeadingBlock(source[s.Key], s.Value)));
    }

    private static SubnetworkArchitecture ArchitectureOf(LlamaConfig config) => SubnetworkArchitecture.Of(config);

    /// <summary>A new view of the first <paramref name="shape"/> block of <paramref name="t"/> (never <paramref name="t"/> itself: the reader disposes it).</summary>
    private static Tensor LeadingBlock(Tensor t, long[] shape)
    {
        using var scope = NewDisposeScope();
        var view = t.narrow(0, 0, shape[0]);
        for (var dim = 1; dim < shape.Length; dim++)
        {
            view = Slicing.Leading(view, dim, shape[dim]);
        }

        return view.MoveToOuterDisposeScope();
    }

    private void Validate(SubnetworkArchitecture arch)
    {
        ArgumentNullException.ThrowIfNull(arch);
        var full = FullArchitecture;
        if (arch.AttentionHeads.Count != arch.Depth || arch.KeyValueHeads.Count != arch.Depth)
        {
            throw Invalid(DiagnosticCodes.SubnetworkLayerListsInvalid, arch, $"it lists {arch.IntermediateSizes.Count} MLP widths, {arch.AttentionHeads.Count} head counts and {arch.KeyValueHeads.Count} KV head counts; a sub-network lists one of each per kept layer.");
        }

        if (arch.Depth < 1 || arch.Depth > full.Depth)
        {
            throw Invalid(DiagnosticCodes.SubnetworkDepthInvalid, arch, $"it keeps {arch.Depth} layers; this model has {full.Depth}, and a sub-network keeps the first 1 to {full.Depth}.");
        }

        if (arch.HiddenSize < 1 || arch.HiddenSize > full.HiddenSize)
        {
            throw Invalid(DiagnosticCodes.SubnetworkHiddenSizeInvalid, arch, $"its hidden width is {arch.HiddenSize}; this model's is {full.HiddenSize}, and a sub-network keeps the first 1 to {full.HiddenSize} features.");
        }

        for (var l = 0; l < arch.Depth; l++)
        {
            if (arch.IntermediateSizes[l] < 1 || arch.IntermediateSizes[l] > full.IntermediateSizes[l])
            {
                throw Invalid(DiagnosticCodes.SubnetworkIntermediateSizeInvalid, arch, $"layer {l} keeps {arch.IntermediateSizes[l]} MLP neurons; this model's layer {l} has {full.IntermediateSizes[l]}.");
            }

            int heads = full.AttentionHeads[l], kvHeads = full.KeyValueHeads[l], group = heads / kvHeads, h = arch.AttentionHeads[l];
            if (h < group || h > heads || h % group != 0)
            {
                throw Invalid(DiagnosticCodes.SubnetworkHeadsInvalid, arch, $"layer {l} keeps {h} attention heads; this model's layer {l} has {heads} heads in {kvHeads} KV groups of {group}, so keep a multiple of {group} from {group} to {heads}.");
            }

            if (arch.KeyValueHeads[l] != h / group)
            {
                throw Invalid(DiagnosticCodes.SubnetworkKeyValueHeadsMismatch, arch, $"layer {l} keeps {arch.KeyValueHeads[l]} KV heads for {h} query heads; heads are kept in whole KV groups of {group}, so {h} heads keep {h / group} KV heads.");
            }
        }
    }

    private static LlamaNasException Invalid(string code, SubnetworkArchitecture arch, string what) =>
        new(code, $"sub-network ({arch}) does not fit this model: {what}");
}
