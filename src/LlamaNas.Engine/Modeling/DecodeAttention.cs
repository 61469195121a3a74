using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Attention of one new position per row over the cached keys and values (a decoding step), on the CPU. Each
/// query head reads its KV group's keys and values in place (no repeat per head), with fp32 scores, softmax and
/// sums. libtorch's attention forks its thread pool for these few thousand multiply-adds per block, and its threads
/// then spin on the cores the step's matrix-vector products need (<see cref="MatVec"/>).
/// </summary>
internal static unsafe class DecodeAttention
{
    [ThreadStatic]
    private static float[]? _scratch;

    /// <summary>
    /// Whether <see cref="Forward"/> takes this attention: q [B, h, 1, D], k and v [B, g, S, D] with g dividing h,
    /// fp32 or bf16 on the CPU, unit stride along D, no autograd, and a boolean mask [B, 1, 1, S] or none.
    /// </summary>
    public static bool Applies(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        var dtype = q.dtype;
        return (dtype == ScalarType.Float32 || dtype == ScalarType.BFloat16)
            && Vector512.IsHardwareAccelerated
            && q.shape[2] == 1
            && k.dtype == dtype && v.dtype == dtype
            && q.device_type == DeviceType.CPU && k.device_type == DeviceType.CPU && v.device_type == DeviceType.CPU
            && q.shape[1] % k.shape[1] == 0
            && k.shape[2] == v.shape[2] && k.shape[1] == v.shape[1] && k.shape[3] == q.shape[3] && v.shape[3] == q.shape[3]
            && q.stride(3) == 1 && k.stride(3) == 1 && v.stride(3) == 1
            && (mask is null || (mask.dtype == ScalarType.Bool && mask.shape[1] == 1 && mask.shape[2] == 1 && mask.shape[3] == k.shape[2]))
            && !(is_grad_enabled() && (q.requires_grad || k.requires_grad || v.requires_grad));
    }

    /// <summary>softmax(q·kᵀ/√D)·v per query head, as [B, 1, h·D] (head i in columns [i·D, (i + 1)·D)).</summary>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        int batch = checked((int)q.shape[0]), heads = checked((int)q.shape[1]), groups = checked((int)k.shape[1]);
        int length = checked((int)k.shape[2]), dim = checked((int)q.shape[3]);
        var output = empty([batch, 1, heads * dim], q.dtype);
        var bf16 = q.dtype == ScalarType.BFloat16;
        var need = length + (3 * dim);
        if (_scratch is null || _scratch.Length < need)
        {
            _scratch = GC.AllocateUninitializedArray<float>(Math.Max(need, 4096), pinned: true);
        }

        long qb = q.stride(0), qh = q.stride(1), kb = k.stride(0), kg = k.stride(1), ks = k.stride(2), vb = v.stride(0), vg = v.stride(1), vs = v.stride(2);
        long mb = mask?.stride(0) ?? 0, ms = mask?.stride(3) ?? 0;
        fixed (float* scratch = _scratch)
        {
            float* scores = scratch, queryBuffer = scratch + length, sum = queryBuffer + dim, row = sum + dim;
            byte* q0 = (byte*)MatVec.Data(q), k0 = (byte*)MatVec.Data(k), v0 = (byte*)MatVec.Data(v), o0 = (byte*)MatVec.Data(output);
            var visible = mask is null ? null : (bool*)MatVec.Data(mask);
            var size = bf16 ? 2 : 4;
            for (var b = 0; b < batch; b++)
            {
                for (var h = 0; h < heads; h++)
                {
                    var group = h / (heads / groups);
                    var query = Load(q0 + (((b * qb) + (h * qh)) * size), bf16, dim, queryBuffer);
                    var keys = k0 + (((b * kb) + (group * kg)) * size);
                    var values = v0 + (((b * vb) + (group * vg)) * size);
                    var total = Head(query, keys, ks * size, values, vs * size, length, dim, bf16, visible is null ? null : visible + (b * mb), ms, scratch, row, sum);
                    Store(sum, 1 / total, bf16, dim, o0 + ((((long)b * heads * dim) + (h * dim)) * size));
                }
            }
        }

        return output;
    }

    /// <summary>
    /// One query head over <paramref name="length"/> cached positions: fp32 scores q·k/√D (−∞ where
    /// <paramref name="visible"/> says false), their softmax's unnormalised weights summed over the values into
    /// <paramref name="sum"/>; returns the weights' total, by which the caller divides. <paramref name="keys"/> and
    /// <paramref name="values"/> are the group's first position, <paramref name="keyStride"/> and
    /// <paramref name="valueStride"/> bytes apart; <paramref name="scores"/> holds <paramref name="length"/> values and
    /// <paramref name="row"/> <paramref name="dim"/>.
    /// </summary>
    internal static float Head(float* query, byte* keys, long keyStride, byte* values, long valueStride, int length, int dim, bool bf16, bool* visible, long maskStride, float* scores, float* row, float* sum)
    {
        var scale = (float)(1.0 / Math.Sqrt(dim));
        var best = float.NegativeInfinity;
        for (var s = 0; s < length; s++)
        {
            if (visible is not null && !visible[s * maskStride])
            {
                scores[s] = float.NegativeInfinity;
                continue;
            }

            scores[s] = Dot(query, Load(keys + (s * keyStride), bf16, dim, row), dim) * scale;
            best = Math.Max(best, scores[s]);
        }

        new Span<float>(sum, dim).Clear();
        var total = 0f;
        for (var s = 0; s < length; s++)
        {
            if (float.IsNegativeInfinity(scores[s]))
            {
                continue;
            }

            var p = MathF.Exp(scores[s] - best);
            total += p;
            Axpy(p, Load(values + (s * valueStride), bf16, dim, row), sum, dim);
        }

        return total;
    }

    /// <summary>A row of <paramref name="dim"/> values as fp32: fp32 rows in place, bf16 rows widened into <paramref name="buffer"/>.</summary>
    private static float* Load(byte* source, bool bf16, int dim, float* buffer)
    {
        if (!bf16)
        {
            return (float*)source;
        }

        var bits = (ushort*)source;
        var i = 0;
        for (; i + 16 <= dim; i += 16)
        {
            var (low, high) = Vector256.Widen(Vector256.Load(bits + i));
            Vector512.ShiftLeft(Vector512.Create(low, high), 16).AsSingle().Store(buffer + i);
        }

        for (; i < dim; i++)
        {
            buffer[i] = MatVec.Widen(bits[i]);
        }

        return buffer;
    }

    private static void Store(float* sum, float factor, bool bf16, int dim, byte* target)
    {
        for (var i = 0; i < dim; i++)
        {
            var value = sum[i] * factor;
            if (bf16)
            {
                ((ushort*)target)[i] = MatVec.Narrow(value);
            }
            else
            {
                ((float*)target)[i] = value;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* a, float* b, int n)
    {
        Vector512<float> acc = default;
        var i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), acc);
        }

        var s = Vector512.Sum(acc);
        for (; i < n; i++)
        {
            s += a[i] * b[i];
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float a, float* x, float* y, int n)
    {
        var av = Vector512.Create(a);
        var i = 0;
        for (; i + 16 <= n; i += 16)
        {
            Vector512.FusedMultiplyAdd(av, Vector512.Load(x + i), Vector512.Load(y + i)).Store(y + i);
        }

        for (; i < n; i++)
        {
            y[i] += a * x[i];
        }
    }
}
