using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// SwiGLU MLP: down(silu(gate(x)) · up(x)). An active sub-network keeps the first k neurons (rows of gate/up,
/// columns of down) and the first d hidden features (columns of gate/up, rows of down), by views of the weights.
/// </summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE0044, CA1051 // registered by RegisterComponents; names mirror the checkpoint keys
    private Linear gate_proj;
    private Linear up_proj;
    private Linear down_proj;
#pragma warning restore IDE0044, CA1051

    public LlamaMlp(int hidden, int intermediate, bool bias, ScalarType dtype, Device? device)
        : base(nameof(LlamaMlp))
    {
        HiddenSize = hidden;
        IntermediateSize = intermediate;
        ActiveHiddenSize = hidden;
        ActiveIntermediateSize = intermediate;
        gate_proj = nn.Linear(hidden, intermediate, bias, device, dtype);
        up_proj = nn.Linear(hidden, intermediate, bias, device, dtype);
        down_proj = nn.Linear(intermediate, hidden, bias, device, dtype);
        RegisterComponents();
    }

    public int HiddenSize { get; }

    public int IntermediateSize { get; }

    /// <summary>Hidden features in use (the input and output width).</summary>
    public int ActiveHiddenSize { get; private set; }

    /// <summary>Neurons in use (1..<see cref="IntermediateSize"/>).</summary>
    public int ActiveIntermediateSize { get; private set; }

    /// <summary>Selects the sub-network's widths; the caller (<see cref="LlamaForCausalLM.ActivateSubnetwork"/>) has validated them.</summary>
    internal void Activate(int hidden, int intermediate)
    {
        ActiveHiddenSize = hidden;
        ActiveIntermediateSize = intermediate;
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return Down(Activations(input)).MoveToOuterDisposeScope();
    }

    /// <summary>The active neurons' activations silu(gate(x)) · up(x), [..., k]: what <see cref="Down"/> projects back.</summary>
    internal Tensor Activations(Tensor input)
    {
        using var scope = NewDisposeScope();
        long d = ActiveHiddenSize, k = ActiveIntermediateSize;
        var gate = Slicing.Linear(input, gate_proj, k, d, Lora.GetValueOrDefault("gate_proj"));
        var up = Slicing.Linear(input, up_proj, k, d, Lora.GetValueOrDefault("up_proj"));
        return (F.silu(gate) * up).MoveToOuterDisposeScope();
    }

    /// <summary>down_proj over the active slice: [..., k] → [..., d].</summary>
    internal Tensor Down(Tensor activations) => Slicing.Linear(activations, down_proj, ActiveHiddenSize, ActiveIntermediateSize, Lora.GetValueOrDefault("down_proj"));

    /// <summary>Attached LoRA adapters by projection name (<c>gate_proj</c> …); empty without LoRA.</summary>
    internal Dictionary<string, LoraAdapter> Lora { get; } = new(StringComparer.Ordinal);

    /// <summary>The down_proj weight [hidden, intermediate] (column j carries neuron j to the output).</summary>
    internal Tensor DownWeight => down_proj.weight!;

    internal Linear GateProj => gate_proj;

    internal Linear UpProj => up_proj;

    internal Linear DownProj => down_proj;

    /// <summary>
    /// Reorders the neurons so that new neuron i is old neuron <paramref name="order"/>[i]: rows of gate/up (and their
    /// biases), columns of down. The full MLP computes exactly the same function (a sum over neurons, reordered).
    /// </summary>
    internal void PermuteNeurons(long[] order)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var index = tensor(order, device: gate_proj.weight!.device);
        Permutation.Reorder(gate_proj.weight!, 0, index);
        Permutation.Reorder(up_proj.weight!, 0, index);
        Permutation.Reorder(down_proj.weight!, 1, index);
        Permutation.Reorder(gate_proj.bias, 0, index);
        Permutation.Reorder(up_proj.bias, 0, index);
    }
}
