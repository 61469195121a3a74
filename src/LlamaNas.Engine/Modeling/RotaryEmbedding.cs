using TorchSharp;
using LlamaNas.Core.Models;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Rotary position embedding in the rotate_half convention of Hugging Face Llama checkpoints, with the
/// <c>linear</c> and <c>llama3</c> frequency scalings. Frequencies are computed in double on the host.
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly float[] _inverseFrequencies;

    public RotaryEmbedding(LlamaConfig config)
    {
        var dim = config.HeadDim;
        var inv = new double[dim / 2];
        for (var i = 0; i < inv.Length; i++)
        {
            inv[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / dim);
        }

        _inverseFrequencies = [.. Scale(inv, config.RopeScaling).Select(f => (float)f)];
    }

    public IReadOnlyList<float> InverseFrequencies => _inverseFrequencies;

    private static double[] Scale(double[] inv, RopeScaling? scaling)
    {
        switch (scaling?.Type)
        {
            case null:
                return inv;
            case "linear":
                return [.. inv.Select(f => f / scaling.Factor)];
            case "llama3":
                var lowWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
                var highWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
                return [.. inv.Select(f =>
                {
                    var wavelen = 2 * Math.PI / f;
                    if (wavelen < highWavelen)
                    {
                        return f;
                    }

                    if (wavelen > lowWavelen)
                    {
                        return f / scaling.Factor;
                    }

                    var smooth = ((scaling.OriginalMaxPositionEmbeddings / wavelen) - scaling.LowFreqFactor) / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                    return ((1 - smooth) * f / scaling.Factor) + (smooth * f);
                })];
            default:
                throw new NotSupportedException($"rope scaling '{scaling.Type}'"); // LlamaConfig rejects other types with LNAS0203
        }
    }

    /// <summary>cos and sin of shape [B, 1, T, D] for integer positions [B, T], in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positions, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var inv = tensor(_inverseFrequencies, device: positions.device);
        var freqs = positions.to(float32).unsqueeze(-1) * inv; // [B, T, D/2]
        var emb = cat([freqs, freqs], -1).unsqueeze(1);
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>x·cos + rotate_half(x)·sin for x of shape [B, H, T, D].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (x.shape[2] == 1 && DecodeRow.Applies(cos, x) && DecodeRow.Applies(sin, x) && x.stride(3) == 1)
        {
            return ApplyAtOnePosition(x, cos, sin);
        }

        using var scope = NewDisposeScope();
        var half = x.shape[^1] / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        return (x * cos).add(rotated * sin, Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Apply"/> for one position per row (a decoding step; cos and sin [1, 1, 1, D]) in one loop instead of
    /// seven libtorch calls, rounding where they round: x·cos and rotate_half(x)·sin each, then their sum.
    /// </summary>
    private static unsafe Tensor ApplyAtOnePosition(Tensor x, Tensor cos, Tensor sin)
    {
        int batch = (int)x.shape[0], heads = (int)x.shape[1], dim = (int)x.shape[3];
        var output = empty(x.shape, x.dtype);
        var bf16 = x.dtype == ScalarType.BFloat16;
        long size = bf16 ? 2 : 4, rowStride = x.stride(0), headStride = x.stride(1);
        byte* source = (byte*)MatVec.Data(x), target = (byte*)MatVec.Data(output);
        void* c = (void*)MatVec.Data(cos), s = (void*)MatVec.Data(sin);
        float* row = DecodeRow.Buffer(2 * dim), copy = row + dim;
        for (var b = 0; b < batch; b++)
        {
            for (var h = 0; h < heads; h++)
            {
                DecodeRow.Load(source + (((b * rowStride) + (h * headStride)) * size), bf16, dim, row);
                DecodeRow.Rotate(row, dim, c, s, bf16, copy);
                DecodeRow.Store(row, bf16, dim, target + ((((long)b * heads) + h) * dim * size));
            }
        }

        return output;
    }
}
