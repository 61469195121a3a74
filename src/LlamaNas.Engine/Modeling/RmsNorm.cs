using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Llama RMSNorm: normalises in fp32 (as HF does) and scales by a learned weight in the model dtype. An input
/// narrower than the weight (a sub-network's first d hidden features) is normalised over its own d features and
/// scaled by the first d weights.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>
    /// Held for the module's life and disposed with it: a Scalar converted implicitly in every forward is freed by the
    /// GC's finalizer thread, which can race the native call still reading it (libtorch then fails with "Unknown
    /// scalar type" after many forwards).
    /// </summary>
    private readonly Scalar _eps;
    private readonly float _epsilon;
#pragma warning disable IDE0044, CA1051 // registered by RegisterComponents; name mirrors the checkpoint key
    private TorchSharp.Modules.Parameter weight;
#pragma warning restore IDE0044, CA1051

    public RmsNorm(long size, double eps, ScalarType dtype, Device? device = null)
        : base(nameof(RmsNorm))
    {
        _eps = eps.ToScalar();
        _epsilon = (float)eps; // libtorch adds the Scalar to the fp32 mean as a float
        weight = new TorchSharp.Modules.Parameter(ones(size, dtype: dtype, device: device));
        RegisterComponents();
    }

    public TorchSharp.Modules.Parameter Weight => weight;

    /// <summary>ε as libtorch adds it to the fp32 mean of squares.</summary>
    internal float Epsilon => _epsilon;

    public override Tensor forward(Tensor input)
    {
        if (DecodeRow.Applies(input, weight))
        {
            return Row(input);
        }

        using var scope = NewDisposeScope();
        var x = input.to(float32);
        // pow with a held 2, not square(): TorchSharp's square() is pow with a Scalar it creates and leaves to the GC's
        // finalizer, which raced the native call in long runs (internal error "Unknown scalar type"). The same kernel
        // as square(), so the same bits (x · x rounds differently).
        var normed = x * rsqrt(x.pow(Scalars.Two).mean([-1], keepdim: true).add_(_eps, Scalars.One));
        return (Slicing.Leading(weight, 0, input.shape[^1]) * normed.to(input.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same computation for one row (a decoding step) in a single pass instead of eight libtorch calls: the fp32
    /// mean of squares (summed in another order), rsqrt, the product rounded to the model dtype, then the weight.
    /// </summary>
    private unsafe Tensor Row(Tensor input)
    {
        var d = (int)input.shape[^1];
        var output = empty(input.shape, input.dtype);
        var bf16 = input.dtype == ScalarType.BFloat16;
        var row = DecodeRow.Buffer(d);
        DecodeRow.Load((void*)MatVec.Data(input), bf16, d, row);
        DecodeRow.Norm(row, (void*)MatVec.Data(weight), d, _epsilon, bf16, row);
        DecodeRow.Store(row, bf16, d, (void*)MatVec.Data(output));
        return output;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _eps.Dispose();
        }

        base.Dispose(disposing);
    }
}
