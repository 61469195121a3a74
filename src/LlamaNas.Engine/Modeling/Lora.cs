using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlamaNas.Engine.Modeling;

/// <summary>Low-rank adapter settings: ΔW = (alpha / rank) · B · A, dropout on the adapter's input while training.</summary>
public sealed record LoraOptions
{
    public int Rank { get; init; } = 8;

    public double Alpha { get; init; } = 16;

    public double Dropout { get; init; } = 0.05;

    /// <summary>Rank ≥ 1, alpha &gt; 0, dropout in [0, 1).</summary>
    public bool IsValid => Rank >= 1 && Alpha > 0 && Dropout is >= 0 and < 1;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"lora(rank={Rank}; alpha={Alpha}; dropout={Dropout})");
}

/// <summary>
/// An elastic LoRA adapter of one weight W [out, in]: A [rank, in] (random), B [out, rank] (zeros), so training
/// starts from the base model. It slices with the weight: a sub-network that keeps W[:o, :i] adds
/// (alpha / rank) · B[:o] · A[:, :i], which is exactly the leading block of ΔW, so merging ΔW into W gives every
/// sub-network the function it had with the adapter.
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    private readonly LoraDropout _dropout;

    internal LoraAdapter(string name, long outFeatures, long inFeatures, LoraOptions options, LoraDropout dropout, ScalarType dtype, Device device, Generator generator)
    {
        Name = name;
        Scale = options.Alpha / options.Rank;
        _dropout = dropout;
        using var noGrad = no_grad();
        var bound = 1.0 / Math.Sqrt(inFeatures); // kaiming-uniform with a = √5, as PEFT and nn.Linear initialise A
        A = new Parameter(empty(options.Rank, inFeatures, dtype, device).uniform_(-bound, bound, generator));
        B = new Parameter(zeros(outFeatures, options.Rank, dtype, device));
    }

    /// <summary>The adapted weight's name without <c>.weight</c>, e.g. <c>model.layers.0.self_attn.q_proj</c>.</summary>
    public string Name { get; }

    public Parameter A { get; }

    public Parameter B { get; }

    public double Scale { get; }

    /// <summary>(alpha / rank) · B[:o] · A[:, :i] · dropout(x) for x [..., i] → [..., o].</summary>
    internal Tensor Forward(Tensor x, long outFeatures, long inFeatures)
    {
        using var scope = NewDisposeScope();
        var down = F.linear(_dropout.Apply(x), Slicing.Leading(A, 1, inFeatures));
        using var scale = Scale.ToScalar(); // disposed here, not on the GC's finalizer thread (see RmsNorm)
        return F.linear(down, Slicing.Leading(B, 0, outFeatures)).mul_(scale).MoveToOuterDisposeScope();
    }

    /// <summary>Rows <paramref name="ids"/> of ΔW[:, :i] (the adapted embedding table's lookup): [..., i].</summary>
    internal Tensor Rows(Tensor ids, long inFeatures)
    {
        using var scope = NewDisposeScope();
        using var scale = Scale.ToScalar();
        return B.index_select(0, ids).matmul(Slicing.Leading(A, 1, inFeatures)).mul_(scale).MoveToOuterDisposeScope();
    }

    /// <summary>W += ΔW, computed in fp32 and rounded once into W's dtype.</summary>
    internal void MergeInto(Tensor weight)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var scale = Scale.ToScalar();
        var delta = B.to(float32).matmul(A.to(float32)).mul_(scale);
        weight.copy_(weight.to(float32).add(delta, Scalars.One));
    }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}

/// <summary>
/// Dropout of the adapters' inputs, active only inside a training step (<see cref="LlamaForCausalLM.BeginLoraStep"/>):
/// its masks come from a generator seeded by (seed, step), so a resumed run draws the same masks.
/// </summary>
public sealed class LoraDropout : IDisposable
{
    private readonly double _p;
    private readonly Device _device;
    private Generator? _generator;

    internal LoraDropout(double p, Device device) => (_p, _device) = (p, device);

    internal void Begin(ulong seed, long step)
    {
        _generator?.Dispose();
        _generator = new Generator(seed ^ (0x94D049BB133111EBUL * (ulong)(step + 1)), _device);
    }

    internal void End()
    {
        _generator?.Dispose();
        _generator = null;
    }

    internal Tensor Apply(Tensor x)
    {
        if (_generator is null || _p == 0)
        {
            return x;
        }

        using var scope = NewDisposeScope();
        using var p = _p.ToScalar(); // explicit Scalars, disposed here, not on the GC's finalizer thread (see RmsNorm)
        using var keepScale = (1 - _p).ToScalar();
        var keep = rand(x.shape, generator: _generator, dtype: float32, device: x.device).ge(p);
        return x.mul(keep.to(x.dtype)).div_(keepScale).MoveToOuterDisposeScope();
    }

    public void Dispose() => End();
}
