using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Training;

/// <summary>AdamW hyper-parameters (decoupled weight decay, as torch.optim.AdamW).</summary>
public sealed record AdamWOptions
{
    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.999;

    public double Epsilon { get; init; } = 1e-8;

    public double WeightDecay { get; init; }
}

/// <summary>
/// AdamW with fp32 state. Parameters held in a lower precision (bf16 compute) get an fp32 master copy that the
/// update is applied to, then copied back, so small updates are not rounded away. The whole state is a set of
/// named tensors, saved and restored with the training checkpoint.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly (string Name, Parameter Param)[] _params;
    private readonly AdamWOptions _options;
    private readonly Dictionary<string, Tensor> _state = new(StringComparer.Ordinal);

    public AdamW(IEnumerable<(string Name, Parameter Param)> parameters, AdamWOptions? options = null)
    {
        _params = [.. parameters.Where(p => p.Param.requires_grad)];
        _options = options ?? new AdamWOptions();
    }

    /// <summary>Optimizer steps taken so far (bias correction uses it).</summary>
    public long Steps { get; private set; }

    /// <summary>Applies one update with learning rate <paramref name="lr"/> to every parameter that has a gradient.</summary>
    public void Step(double lr)
    {
        Steps++;
        var bc1 = 1 - Math.Pow(_options.Beta1, Steps);
        var bc2 = 1 - Math.Pow(_options.Beta2, Steps);
        using var noGrad = no_grad();
        foreach (var (name, p) in _params)
        {
            using var scope = NewDisposeScope();
            var grad = p.grad;
            if (grad is null)
            {
                continue;
            }

            var g = grad.to(float32);
            var m = State(name + ".exp_avg", p, zero: true);
            var v = State(name + ".exp_avg_sq", p, zero: true);
            var master = p.dtype == float32 ? p : State(name + ".master", p, zero: false);
            // Scalars are disposed here, not by the GC: TorchSharp's implicitly converted ones are freed on the
            // finalizer thread, which can race a native call still using them (seen as "Unknown scalar type").
            using var beta2 = _options.Beta2.ToScalar();
            using var oneMinusBeta2 = (1 - _options.Beta2).ToScalar();
            using var sqrtBc2 = Math.Sqrt(bc2).ToScalar();
            using var epsilon = _options.Epsilon.ToScalar();
            using var step = (-lr / bc1).ToScalar();
            m.lerp_(g, 1 - _options.Beta1); // as torch.optim.AdamW, one pass (the weight becomes a 0-d tensor, not a Scalar)
            v.mul_(beta2).addcmul_(g, g, value: oneMinusBeta2);
            if (_options.WeightDecay != 0)
            {
                using var decay = (1 - (lr * _options.WeightDecay)).ToScalar();
                master.mul_(decay);
            }

            var denominator = v.sqrt().div_(sqrtBc2).add_(epsilon, Modeling.Scalars.One);
            master.addcdiv_(m, denominator, value: step);
            if (!ReferenceEquals(master, p))
            {
                p.copy_(master);
            }
        }
    }

    /// <summary>
    /// Drops every gradient (torch's <c>zero_grad(set_to_none=True)</c>). A parameter that no network of the next
    /// step touches then has no gradient and <see cref="Step"/> leaves it and its state alone, so whether it moves
    /// never depends on gradients left over from earlier steps (a resumed run has none).
    /// </summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in _params)
        {
            p.grad = null;
        }
    }

    /// <summary>The state tensors by name (views owned by the optimizer; do not dispose).</summary>
    public IReadOnlyDictionary<string, Tensor> StateTensors => _state;

    /// <summary>Restores state saved from <see cref="StateTensors"/> and <see cref="Steps"/>.</summary>
    public void Load(long steps, Func<string, Tensor?> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        Steps = steps;
        foreach (var t in _state.Values)
        {
            t.Dispose();
        }

        _state.Clear();
        foreach (var (name, p) in _params)
        {
            foreach (var suffix in new[] { ".exp_avg", ".exp_avg_sq", ".master" })
            {
                if (read(name + suffix) is { } t)
                {
                    _state[name + suffix] = t.to(float32, p.device).DetachFromDisposeScope();
                    if (!ReferenceEquals(_state[name + suffix], t))
                    {
                        t.Dispose();
                    }
                }
            }
        }
    }

    private Tensor State(string key, Parameter p, bool zero)
    {
        if (!_state.TryGetValue(key, out var t))
        {
            t = (zero ? zeros(p.shape, float32, p.device) : p.detach().to(float32).clone()).DetachFromDisposeScope();
            _state[key] = t;
        }

        return t;
    }

    public void Dispose()
    {
        foreach (var t in _state.Values)
        {
            t.Dispose();
        }

        _state.Clear();
    }
}

/// <summary>Linear warm-up to the peak rate, then cosine decay to a floor; a pure function of the step.</summary>
public sealed record LearningRateSchedule(double PeakLearningRate, int WarmupSteps, int TotalSteps, double MinLearningRate = 0)
{
    public double At(long step)
    {
        if (step < WarmupSteps)
        {
            return PeakLearningRate * (step + 1) / WarmupSteps;
        }

        var progress = Math.Clamp((double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps), 0, 1);
        return MinLearningRate + ((PeakLearningRate - MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
