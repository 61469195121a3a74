using System.Runtime.CompilerServices;
using LlamaNas.Engine.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Views of the leading block of a weight (the first rows and/or columns), which is how a sub-network keeps its
/// first N neurons, heads and features without copying. A dimension kept whole is not narrowed, so the full network
/// runs on the parameters themselves. Call inside a dispose scope: the views are new tensor handles.
/// </summary>
internal static class Slicing
{
    /// <summary>The first <paramref name="size"/> entries of <paramref name="t"/> along <paramref name="dim"/>; <paramref name="t"/> itself when that is all of it.</summary>
    public static Tensor Leading(Tensor t, int dim, long size) => t.shape[dim] == size ? t : t.narrow(dim, 0, size);

    /// <summary>
    /// <c>x · W[:outFeatures, :inFeatures]ᵀ + b[:outFeatures]</c> for the weights of <paramref name="layer"/>, plus the
    /// same leading block of the adapter's ΔW when <paramref name="lora"/> is attached.
    /// </summary>
    public static Tensor Linear(Tensor x, Linear layer, long outFeatures, long inFeatures, LoraAdapter? lora = null)
    {
        using var dequantized = Int8Forms.TryGetValue(layer, out var int8)
            ? Int8Weights.Dequantize(Leading(Leading(int8.Weight, 0, outFeatures), 1, inFeatures), Leading(int8.Scale, 0, outFeatures), x.dtype)
            : null;
        var y = MatVec.Linear(
            x,
            dequantized ?? Leading(Leading(layer.weight!, 0, outFeatures), 1, inFeatures),
            layer.bias is { } bias ? Leading(bias, 0, outFeatures) : null);
        if (lora is null)
        {
            return y;
        }

        using (y)
        using (var delta = lora.Forward(x, outFeatures, inFeatures))
        {
            return y.add(delta, Scalars.One);
        }
    }

    /// <summary>
    /// Int8 forms of linear layers that run quantized on the fly (<see cref="Int8Execution.OnTheFly"/>): keyed by the
    /// layer itself, so the modules carry no quantization state of their own.
    /// </summary>
    private static readonly ConditionalWeakTable<Linear, Int8Form> Int8Forms = [];

    /// <summary>Runs <paramref name="layer"/> on q · scale from now on (q [out, in] int8, scale [out, 1]; both owned here).</summary>
    public static void AttachInt8(Linear layer, Tensor q, Tensor scale) => Int8Forms.AddOrUpdate(layer, new Int8Form(q, scale));

    /// <summary>Whether <paramref name="layer"/> runs quantized on the fly.</summary>
    public static bool HasInt8(Linear layer) => Int8Forms.TryGetValue(layer, out _);

    public static void DetachInt8(Linear layer)
    {
        if (Int8Forms.TryGetValue(layer, out var form))
        {
            Int8Forms.Remove(layer);
            form.Weight.Dispose();
            form.Scale.Dispose();
        }
    }

    private sealed record Int8Form(Tensor Weight, Tensor Scale);
}
