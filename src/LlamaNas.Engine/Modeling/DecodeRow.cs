using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Element access for the single-row paths of a decoding step (RMSNorm, RoPE), which replace several libtorch calls
/// on a few hundred values each by one loop with the same roundings: products and sums in fp32, each result rounded
/// to the model dtype where libtorch's bf16 operations round it.
/// </summary>
internal static unsafe class DecodeRow
{
    /// <summary>One CPU row (all dimensions but the last of size 1), fp32 or bf16 like <paramref name="other"/>, unit stride, no autograd.</summary>
    public static bool Applies(Tensor row, Tensor other)
    {
        var dtype = row.dtype;
        return (dtype == ScalarType.Float32 || dtype == ScalarType.BFloat16)
            && other.dtype == dtype
            && row.device_type == DeviceType.CPU
            && other.device_type == DeviceType.CPU
            && row.numel() == row.shape[^1]
            && row.stride(-1) == 1
            && other.stride(-1) == 1
            && !(is_grad_enabled() && (row.requires_grad || other.requires_grad));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(void* data, bool bf16, long i) => bf16 ? MatVec.Widen(((ushort*)data)[i]) : ((float*)data)[i];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(void* data, bool bf16, long i, float value)
    {
        if (bf16)
        {
            ((ushort*)data)[i] = MatVec.Narrow(value);
        }
        else
        {
            ((float*)data)[i] = value;
        }
    }

    /// <summary><paramref name="value"/> as a bf16 operation would leave it (rounded), or unchanged in fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Round(float value, bool bf16) => bf16 ? MatVec.Widen(MatVec.Narrow(value)) : value;
}
