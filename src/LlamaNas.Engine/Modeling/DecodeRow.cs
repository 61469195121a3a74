using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// The single-row kernels of a decoding step (RMSNorm, RoPE) and their element access. They replace several libtorch
/// calls on a few hundred values each by one loop with the same roundings: products and sums in fp32, each result
/// rounded to the model dtype where libtorch's bf16 operations round it. <see cref="RmsNorm"/>,
/// <see cref="RotaryEmbedding"/> and the fused <see cref="DecodeStep"/> all run these.
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

    /// <summary><paramref name="n"/> values of the model dtype at <paramref name="source"/> as fp32.</summary>
    public static void Load(void* source, bool bf16, int n, float* target)
    {
        for (var i = 0; i < n; i++)
        {
            target[i] = Load(source, bf16, i);
        }
    }

    /// <summary><paramref name="n"/> fp32 values stored in the model dtype (rounded in bf16).</summary>
    public static void Store(float* source, bool bf16, int n, void* target)
    {
        for (var i = 0; i < n; i++)
        {
            Store(target, bf16, i, source[i]);
        }
    }

    /// <summary>
    /// RMSNorm of one row of <paramref name="d"/> values (values of the model dtype, held in fp32) by the first
    /// <paramref name="d"/> weights: the fp32 mean of squares, rsqrt, the product rounded to the model dtype, then the
    /// weight, rounded again, as libtorch's calls round them.
    /// </summary>
    public static void Norm(float* x, void* weight, int d, float epsilon, bool bf16, float* y)
    {
        var squares = 0f;
        for (var i = 0; i < d; i++)
        {
            squares += x[i] * x[i];
        }

        var scale = 1f / MathF.Sqrt((squares / d) + epsilon);
        for (var i = 0; i < d; i++)
        {
            y[i] = Round(Load(weight, bf16, i) * Round(x[i] * scale, bf16), bf16);
        }
    }

    /// <summary>
    /// RoPE of one head's row of <paramref name="dim"/> values in place, in the rotate_half convention: x·cos and
    /// rotate_half(x)·sin each rounded to the model dtype, then their sum (bit-identical to libtorch's calls).
    /// <paramref name="copy"/> holds <paramref name="dim"/> values.
    /// </summary>
    public static void Rotate(float* row, int dim, void* cos, void* sin, bool bf16, float* copy)
    {
        var half = dim / 2;
        new Span<float>(row, dim).CopyTo(new Span<float>(copy, dim));
        for (var i = 0; i < dim; i++)
        {
            var rotated = i < half ? -copy[i + half] : copy[i - half];
            row[i] = Round(Round(copy[i] * Load(cos, bf16, i), bf16) + Round(rotated * Load(sin, bf16, i), bf16), bf16);
        }
    }

    /// <summary>A per-thread pinned fp32 buffer of at least <paramref name="count"/> values, for the one-row paths.</summary>
    public static float* Buffer(int count)
    {
        if (_buffer is null || _buffer.Length < count)
        {
            _buffer = GC.AllocateUninitializedArray<float>(Math.Max(count, 1024), pinned: true);
        }

        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_buffer)); // pinned: on the pinned heap
    }

    [ThreadStatic]
    private static float[]? _buffer;
}
