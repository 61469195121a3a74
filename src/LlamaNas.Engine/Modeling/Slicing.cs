using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

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
        var y = F.linear(
            x,
            Leading(Leading(layer.weight!, 0, outFeatures), 1, inFeatures),
            layer.bias is { } bias ? Leading(bias, 0, outFeatures) : null);
        if (lora is null)
        {
            return y;
        }

        using (y)
        using (var delta = lora.Forward(x, outFeatures, inFeatures))
        {
            return y + delta;
        }
    }
}
