using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// <c>x · Wᵀ</c> for a single input row on the CPU (batch-1 decoding), by SIMD dot products over W's rows split
/// across libtorch's thread count. At one row a linear layer only streams its weight from memory, and libtorch's
/// matrix products reach about half the bandwidth there (docs/BENCHMARKS.md). The weight is read in place through
/// its row stride, so a sub-network's slice views run here unchanged. fp32 and bf16; each output is an fp32 sum of
/// exact products (bf16 rounded once at the end, as libtorch's bf16 products do), in another order than libtorch's.
/// </summary>
internal static unsafe partial class MatVec
{
    /// <summary>Below this many weights a product runs on one thread: a fork and join costs more than it saves.</summary>
    private const long ParallelMinimumWeights = 1 << 17;

    private const int Block = 32;

    private const int PartsPerThread = 4;

    /// <summary>The input row in fp32, bf16 inputs deinterleaved per block of 32 (see <see cref="Bf16Rows"/>).</summary>
    [ThreadStatic]
    private static float[]? _row;

    /// <summary><c>F.linear(x, weight, bias)</c>, computed here for one CPU row without autograd (fp32 or bf16), else by libtorch.</summary>
    /// <param name="fp32Result">
    /// Return <c>F.linear(…).to(float32)</c> (the same values): a bf16 product is then widened as it is written, where
    /// a separate conversion of a vocabulary-sized row would fork libtorch's threads.
    /// </param>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null, bool fp32Result = false)
    {
        if (!Applies(x, weight, bias) || (fp32Result && bias is not null))
        {
            var product = F.linear(x, weight, bias);
            return fp32Result ? product.to(ScalarType.Float32) : product;
        }

        var y = Product(x, weight, fp32Result);
        return bias is null ? y : y.add_(bias, Scalars.One);
    }

    private static bool Applies(Tensor x, Tensor weight, Tensor? bias)
    {
        var dtype = weight.dtype;
        return Vector512.IsHardwareAccelerated
            && (dtype == ScalarType.Float32 || dtype == ScalarType.BFloat16)
            && x.dtype == dtype
            && x.device_type == DeviceType.CPU
            && weight.device_type == DeviceType.CPU
            && weight.dim() == 2
            && x.shape[^1] == weight.shape[1]
            && x.numel() == weight.shape[1]
            && x.stride(-1) == 1
            && weight.stride(1) == 1
            && (bias is null || bias.dtype == dtype)
            && !(is_grad_enabled() && (x.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false)));
    }

    /// <summary><c>x · Wᵀ</c>, [..., 1 row, in] → [..., out].</summary>
    private static Tensor Product(Tensor x, Tensor weight, bool fp32Result)
    {
        int n = checked((int)weight.shape[0]), k = checked((int)weight.shape[1]);
        long[] shape = [.. x.shape[..^1], n];
        var y = empty(shape, fp32Result ? ScalarType.Float32 : weight.dtype);
        var w = Data(weight);
        var output = Data(y);
        var row = PrepareRow(x, k);
        fixed (float* r = row)
        {
            var inputRow = (nint)r;
            var ldw = weight.stride(0);
            var bf16 = weight.dtype == ScalarType.BFloat16;
            var wide = fp32Result && bf16;
            var threads = (long)n * k >= ParallelMinimumWeights ? get_num_threads() : 1;
            if (threads <= 1)
            {
                Rows(bf16, wide, w, ldw, inputRow, k, output, 0, n);
            }
            else
            {
                // A few parts per thread, so that a thread slowed down by other work on the machine leaves the rest to
                // the others.
                var chunk = (n + (PartsPerThread * threads) - 1) / (PartsPerThread * threads);
                RowWorkers.Run((n + chunk - 1) / chunk, threads, p =>
                    Rows(bf16, wide, w, ldw, inputRow, k, output, p * chunk, Math.Min(n, (p + 1) * chunk)));
            }
        }

        return y;
    }

    private static void Rows(bool bf16, bool wide, nint w, long ldw, nint row, int k, nint y, int first, int end)
    {
        if (bf16)
        {
            Bf16Rows((ushort*)w, ldw, (float*)row, k, (void*)y, wide, first, end);
        }
        else
        {
            Fp32Rows((float*)w, ldw, (float*)row, k, (float*)y, first, end);
        }
    }

    /// <summary>The input row as fp32 in a per-thread buffer (bf16: each block of 32 as its 16 even, then 16 odd elements).</summary>
    private static float[] PrepareRow(Tensor x, int k)
    {
        var row = RowBuffer(k);
        if (x.dtype == ScalarType.Float32)
        {
            new ReadOnlySpan<float>((float*)Data(x), k).CopyTo(row);
            return row;
        }

        var source = (ushort*)Data(x);
        for (var i = 0; i < k; i++)
        {
            row[i] = Widen(source[i]);
        }

        DeinterleaveBlocks(row, k);
        return row;
    }

    /// <summary><see cref="PrepareRow(Tensor, int)"/> for an fp32 row (for bf16 weights its values are bf16 values).</summary>
    private static float[] PrepareRow(float* x, int k, bool bf16)
    {
        var row = RowBuffer(k);
        new ReadOnlySpan<float>(x, k).CopyTo(row);
        if (bf16)
        {
            DeinterleaveBlocks(row, k);
        }

        return row;
    }

    private static float[] RowBuffer(int k)
    {
        if (_row is null || _row.Length < k)
        {
            _row = GC.AllocateUninitializedArray<float>(Math.Max(k, 1024), pinned: true);
        }

        return _row;
    }

    /// <summary>Each whole block of 32 as its 16 even, then its 16 odd elements: the order <see cref="Bf16Rows"/> multiplies in.</summary>
    private static void DeinterleaveBlocks(float[] row, int k)
    {
        Span<float> block = stackalloc float[Block];
        for (var b = 0; b + Block <= k; b += Block)
        {
            row.AsSpan(b, Block).CopyTo(block);
            for (var j = 0; j < Block / 2; j++)
            {
                row[b + j] = block[2 * j];
                row[b + (Block / 2) + j] = block[(2 * j) + 1];
            }
        }
    }

    /// <summary>
    /// x · Wᵀ for several weights that read the same fp32 row <paramref name="x"/> of <paramref name="k"/> values (q, k
    /// and v; gate and up), split into parts across libtorch's thread count as one run. Each output is written in
    /// fp32: a bf16 product rounded to bf16 first, so the values are those <see cref="Linear"/> gives.
    /// </summary>
    internal static void Products(bool bf16, float* x, int k, RowProduct[] products, int count)
    {
        var row = PrepareRow(x, k, bf16);
        long total = 0;
        for (var i = 0; i < count; i++)
        {
            total += products[i].Rows;
        }

        fixed (float* r = row)
        {
            var inputRow = (nint)r;
            var threads = total * k >= ParallelMinimumWeights ? get_num_threads() : 1;
            if (threads <= 1)
            {
                Part(0, total);
                return;
            }

            var chunk = (total + (PartsPerThread * threads) - 1) / (PartsPerThread * threads);
            RowWorkers.Run((int)((total + chunk - 1) / chunk), threads, p => Part(p * chunk, Math.Min(total, (p + 1) * chunk)));

            // Rows [first, end) of the products laid end to end.
            void Part(long first, long end)
            {
                long offset = 0;
                for (var i = 0; i < count; i++)
                {
                    var product = products[i];
                    long low = Math.Max(first, offset), high = Math.Min(end, offset + product.Rows);
                    if (low < high)
                    {
                        Rows(bf16, true, product.Weight, product.Stride, inputRow, k, product.Output, (int)(low - offset), (int)(high - offset));
                    }

                    offset += product.Rows;
                }
            }
        }
    }

    /// <summary>
    /// Rows <paramref name="first"/> … <paramref name="end"/> − 1, one whole row after the other: the weight is then
    /// read as one sequential stream, which the hardware prefetcher keeps ahead of (several rows interleaved ran at
    /// ⅔ of this speed in fp32 and ½ in bf16). Four sums per row keep the multiply-adds independent.
    /// </summary>
    private static void Fp32Rows(float* w, long ldw, float* x, int k, float* y, int first, int end)
    {
        for (var n = first; n < end; n++)
        {
            var w0 = w + (n * ldw);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            var i = 0;
            for (; i + 64 <= k; i += 64)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w0 + i), Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Load(w0 + i + 16), Vector512.Load(x + i + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Load(w0 + i + 32), Vector512.Load(x + i + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Load(w0 + i + 48), Vector512.Load(x + i + 48), a3);
            }

            for (; i + 16 <= k; i += 16)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w0 + i), Vector512.Load(x + i), a0);
            }

            var s0 = Vector512.Sum((a0 + a1) + (a2 + a3));
            for (; i < k; i++)
            {
                s0 += w0[i] * x[i];
            }

            y[n] = s0;
        }
    }

    /// <summary>
    /// bf16 weights, as <see cref="Fp32Rows"/>: a block of 32 is read as 16 little-endian pairs, whose low halves (even
    /// elements) shifted up and high halves (odd elements) masked are exactly their fp32 values, multiplied by the
    /// deinterleaved fp32 input.
    /// </summary>
    private static void Bf16Rows(ushort* w, long ldw, float* x, int k, void* y, bool wide, int first, int end)
    {
        var high = Vector512.Create(0xFFFF0000u);
        for (var n = first; n < end; n++)
        {
            var w0 = w + (n * ldw);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            var i = 0;
            for (; i + (2 * Block) <= k; i += 2 * Block)
            {
                var p0 = Vector512.Load((uint*)(w0 + i));
                var p1 = Vector512.Load((uint*)(w0 + i + Block));
                a0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(p0, 16).AsSingle(), Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd((p0 & high).AsSingle(), Vector512.Load(x + i + (Block / 2)), a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(p1, 16).AsSingle(), Vector512.Load(x + i + Block), a2);
                a3 = Vector512.FusedMultiplyAdd((p1 & high).AsSingle(), Vector512.Load(x + i + Block + (Block / 2)), a3);
            }

            for (; i + Block <= k; i += Block)
            {
                a0 = Pair(Vector512.Load((uint*)(w0 + i)), Vector512.Load(x + i), Vector512.Load(x + i + (Block / 2)), high, a0);
            }

            var s0 = Vector512.Sum((a0 + a1) + (a2 + a3));
            for (; i < k; i++)
            {
                s0 += Widen(w0[i]) * x[i];
            }

            Store(y, wide, n, s0);
        }
    }

    /// <summary>Output <paramref name="n"/> rounded to bf16, stored as bf16 or (<paramref name="wide"/>) as that value in fp32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(void* y, bool wide, int n, float sum)
    {
        var rounded = Narrow(sum);
        if (wide)
        {
            ((float*)y)[n] = Widen(rounded);
        }
        else
        {
            ((ushort*)y)[n] = rounded;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pair(Vector512<uint> pairs, Vector512<float> even, Vector512<float> odd, Vector512<uint> high, Vector512<float> sum) =>
        Vector512.FusedMultiplyAdd((pairs & high).AsSingle(), odd, Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(pairs, 16).AsSingle(), even, sum));

    internal static float Widen(ushort bf16) => BitConverter.Int32BitsToSingle(bf16 << 16);

    /// <summary>fp32 → bf16 rounded to nearest, ties to even (NaN stays NaN), as libtorch converts.</summary>
    internal static ushort Narrow(float f)
    {
        if (float.IsNaN(f))
        {
            return 0x7FC0;
        }

        var bits = BitConverter.SingleToUInt32Bits(f);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>
    /// One product of <see cref="Products"/>: the first <paramref name="Rows"/> rows of a weight at <paramref name="Weight"/>
    /// (row stride <paramref name="Stride"/> elements) into fp32 outputs at <paramref name="Output"/>.
    /// </summary>
    internal readonly record struct RowProduct(nint Weight, long Stride, int Rows, nint Output);

    /// <summary>The address of a CPU tensor's first element (its storage offset included).</summary>
    internal static nint Data(Tensor t) => THSTensor_data(t.Handle);

    [LibraryImport("LibTorchSharp")]
    private static partial nint THSTensor_data(nint handle);
}
