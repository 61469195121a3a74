using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// A whole decoding step of a single row (one new token, no padding mask, a KV cache with room for it) computed over
/// the weights' and the cache's memory directly. The general forward makes a few hundred TorchSharp calls per step
/// (tensor handles, views, dispose scopes, shape checks), about a third of a step's time at the SmolLM2-135M shape,
/// while the second core idles. Here a block creates no tensor (it only reads addresses and strides), and the
/// products that read the same input (q, k and v; gate and up) run as one parallel job. The operations and their roundings are those of the general path
/// for one row (<see cref="MatVec"/>, <see cref="DecodeAttention"/>, the one-row loops of <see cref="RmsNorm"/> and
/// <see cref="RotaryEmbedding"/>, libtorch's bf16 additions and products): values the general path holds in bf16 are
/// held here as fp32 values rounded to bf16. Only SiLU's exponential is .NET's, not libtorch's (last-bit differences).
/// Anything else (LoRA, INT8 on the fly, autograd, batches, other dtypes) takes the general path.
/// </summary>
internal static unsafe class DecodeStep
{
    [ThreadStatic]
    private static bool _disabled;

    [ThreadStatic]
    private static Scratch? _scratch;

    /// <summary>Set by tests, on their own thread, to run the general path for comparison.</summary>
    internal static bool Disabled
    {
        get => _disabled;
        set => _disabled = value;
    }

    /// <summary>Steps this thread has taken here (tests check that the path they compare really ran).</summary>
    internal static long Taken => _taken;

    [ThreadStatic]
    private static long _taken;

    /// <summary>fp32 logits [1, 1, vocab] of the next position, or null when this step is not one this path takes.</summary>
    public static Tensor? TryForward(LlamaForCausalLM model, Tensor inputIds, KvCache cache)
    {
        var m = model.Model;
        var dtype = model.Dtype;
        var bf16 = dtype == ScalarType.BFloat16;
        if (_disabled
            || !Vector512.IsHardwareAccelerated
            || (dtype != ScalarType.Float32 && !bf16)
            || model.HasLora
            || m.EmbedTokens.Lora is not null
            || inputIds.numel() != 1
            || inputIds.dtype != ScalarType.Int64
            || inputIds.device_type != DeviceType.CPU
            || m.EmbedTokens.Weight.device_type != DeviceType.CPU
            || is_grad_enabled())
        {
            return null;
        }

        var depth = m.ActiveDepth;
        var position = cache.Length;
        var scratch = _scratch ??= new Scratch();
        var capacities = scratch.Capacities(depth);
        for (var i = 0; i < depth; i++)
        {
            var (keys, values) = cache.Storage(i);
            var layer = m.Layer(i);
            if (keys is null || values is null || !Plain(layer))
            {
                return null;
            }

            var shape = keys.shape;
            if (shape[0] != 1 || shape[1] != layer.SelfAttention.ActiveKeyValueHeads || shape[2] <= position || shape[3] != layer.SelfAttention.HeadDim)
            {
                return null;
            }

            capacities[i] = shape[2];
        }

        var id = *(long*)MatVec.Data(inputIds);
        if ((model.LmHead is { } head && Slicing.HasInt8(head)) || id < 0 || id >= model.Config.VocabSize)
        {
            return null; // the general path reports an id out of range
        }

        using var scope = NewDisposeScope();
        var d = m.ActiveHiddenSize;
        var embedding = m.EmbedTokens.Weight;
        var x = scratch.Floats(0, d);
        DecodeRow.Load(Row(embedding, id), bf16, d, x);
        var (cos, sin) = m.Rope.Compute(tensor(new long[] { position }, [1, 1]), dtype);
        var cosRow = (void*)MatVec.Data(cos);
        var sinRow = (void*)MatVec.Data(sin);
        var normed = scratch.Floats(1, d);
        var products = scratch.Products;
        for (var i = 0; i < depth; i++)
        {
            var layer = m.Layer(i);
            var attention = layer.SelfAttention;
            var mlp = layer.Mlp;
            int heads = attention.ActiveHeads, groups = attention.ActiveKeyValueHeads, dim = attention.HeadDim;
            int width = heads * dim, kvWidth = groups * dim, inner = mlp.ActiveIntermediateSize;
            float* q = scratch.Floats(2, width), k = scratch.Floats(3, kvWidth), v = scratch.Floats(4, kvWidth);
            float* mixed = scratch.Floats(5, width), output = scratch.Floats(6, d);

            Norm(layer.InputNorm, x, d, bf16, normed);
            products[0] = Product(attention.QProj, width, q);
            products[1] = Product(attention.KProj, kvWidth, k);
            products[2] = Product(attention.VProj, kvWidth, v);
            MatVec.Products(bf16, normed, d, products, 3);
            AddBias(attention.QProj, q, width, bf16);
            AddBias(attention.KProj, k, kvWidth, bf16);
            AddBias(attention.VProj, v, kvWidth, bf16);
            Rotate(q, heads, dim, cosRow, sinRow, bf16, scratch.Floats(7, dim));
            Rotate(k, groups, dim, cosRow, sinRow, bf16, scratch.Floats(7, dim));

            var (keys, values) = cache.Storage(i);
            var capacity = capacities[i];
            var size = bf16 ? 2 : 4;
            byte* keyBase = (byte*)MatVec.Data(keys!), valueBase = (byte*)MatVec.Data(values!);
            for (var g = 0; g < groups; g++)
            {
                var slot = ((g * capacity) + position) * dim;
                DecodeRow.Store(k + (g * dim), bf16, dim, keyBase + (slot * size));
                DecodeRow.Store(v + (g * dim), bf16, dim, valueBase + (slot * size));
            }

            var length = checked((int)position + 1);
            float* scores = scratch.Floats(8, length), row = scratch.Floats(9, dim), sum = scratch.Floats(10, dim);
            for (var h = 0; h < heads; h++)
            {
                var g = h / (heads / groups);
                var start = g * capacity * dim * size;
                var total = DecodeAttention.Head(q + (h * dim), keyBase + start, dim * size, valueBase + start, dim * size, length, dim, bf16, null, 0, scores, row, sum);
                var factor = 1 / total;
                for (var j = 0; j < dim; j++)
                {
                    mixed[(h * dim) + j] = DecodeRow.Round(sum[j] * factor, bf16);
                }
            }

            products[0] = Product(attention.OProj, d, output);
            MatVec.Products(bf16, mixed, width, products, 1);
            AddBias(attention.OProj, output, d, bf16);
            Add(x, output, d, bf16);

            float* gate = scratch.Floats(11, inner), up = scratch.Floats(12, inner);
            Norm(layer.PostAttentionNorm, x, d, bf16, normed);
            products[0] = Product(mlp.GateProj, inner, gate);
            products[1] = Product(mlp.UpProj, inner, up);
            MatVec.Products(bf16, normed, d, products, 2);
            AddBias(mlp.GateProj, gate, inner, bf16);
            AddBias(mlp.UpProj, up, inner, bf16);
            for (var j = 0; j < inner; j++)
            {
                var g = gate[j];
                gate[j] = DecodeRow.Round(DecodeRow.Round(g / (1f + MathF.Exp(-g)), bf16) * up[j], bf16);
            }

            products[0] = Product(mlp.DownProj, d, output);
            MatVec.Products(bf16, gate, inner, products, 1);
            AddBias(mlp.DownProj, output, d, bf16);
            Add(x, output, d, bf16);
        }

        Norm(m.FinalNorm, x, d, bf16, normed);
        var vocab = model.Config.VocabSize;
        var logits = empty([1, 1, vocab], ScalarType.Float32);
        var headWeight = model.LmHead?.weight ?? embedding;
        products[0] = new MatVec.RowProduct(MatVec.Data(headWeight), headWeight.stride(0), vocab, MatVec.Data(logits));
        MatVec.Products(bf16, normed, d, products, 1);
        cache.Advance(1);
        _taken++;
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>No INT8 form on any of the block's projections (LoRA was checked for the whole model).</summary>
    private static bool Plain(LlamaDecoderLayer layer)
    {
        var a = layer.SelfAttention;
        var m = layer.Mlp;
        return !Slicing.HasInt8(a.QProj) && !Slicing.HasInt8(a.KProj) && !Slicing.HasInt8(a.VProj) && !Slicing.HasInt8(a.OProj)
            && !Slicing.HasInt8(m.GateProj) && !Slicing.HasInt8(m.UpProj) && !Slicing.HasInt8(m.DownProj);
    }

    /// <summary>The first <paramref name="rows"/> rows of <paramref name="layer"/>'s weight (their leading columns are read).</summary>
    private static MatVec.RowProduct Product(Linear layer, int rows, float* output)
    {
        var weight = layer.weight!;
        return new MatVec.RowProduct(MatVec.Data(weight), weight.stride(0), rows, (nint)output);
    }

    private static void* Row(Tensor weight, long index) => (byte*)MatVec.Data(weight) + (index * weight.stride(0) * weight.ElementSize);

    /// <summary>y + bias, rounded as libtorch's in-place bf16 addition rounds it.</summary>
    private static void AddBias(Linear layer, float* y, int n, bool bf16)
    {
        if (layer.bias is not { } bias)
        {
            return;
        }

        var b = (void*)MatVec.Data(bias);
        for (var i = 0; i < n; i++)
        {
            y[i] = DecodeRow.Round(y[i] + DecodeRow.Load(b, bf16, i), bf16);
        }
    }

    /// <summary>The residual: x ← x + y, rounded to the model dtype.</summary>
    private static void Add(float* x, float* y, int n, bool bf16)
    {
        for (var i = 0; i < n; i++)
        {
            x[i] = DecodeRow.Round(x[i] + y[i], bf16);
        }
    }

    private static void Norm(RmsNorm norm, float* x, int d, bool bf16, float* y) => DecodeRow.Norm(x, (void*)MatVec.Data(norm.Weight), d, norm.Epsilon, bf16, y);

    /// <summary><see cref="DecodeRow.Rotate"/> of <paramref name="heads"/> rows of <paramref name="dim"/> in place.</summary>
    private static void Rotate(float* x, int heads, int dim, void* cos, void* sin, bool bf16, float* copy)
    {
        for (var h = 0; h < heads; h++)
        {
            DecodeRow.Rotate(x + (h * dim), dim, cos, sin, bf16, copy);
        }
    }

    /// <summary>Per-thread pinned buffers, one per role, grown as needed and kept for the next step.</summary>
    private sealed class Scratch
    {
        private readonly float[]?[] _buffers = new float[]?[13];

        private long[] _capacities = [];

        public MatVec.RowProduct[] Products { get; } = new MatVec.RowProduct[3];

        /// <summary>Each block's KV cache capacity, read once per step by the applicability check.</summary>
        public long[] Capacities(int depth) => _capacities.Length >= depth ? _capacities : _capacities = new long[depth];

        public float* Floats(int role, long count)
        {
            var buffer = _buffers[role];
            if (buffer is null || buffer.Length < count)
            {
                buffer = _buffers[role] = GC.AllocateUninitializedArray<float>((int)Math.Max(count, 64), pinned: true);
            }

            return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer)); // pinned: allocated on the pinned heap
        }
    }
}
