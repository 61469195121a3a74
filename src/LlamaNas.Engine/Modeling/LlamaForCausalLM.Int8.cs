using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Modeling;

/// <summary>How a quantized sub-network runs its INT8 linear weights (TorchSharp binds no int8 GEMM: both run the matmul in the compute dtype).</summary>
public enum Int8Execution
{
    /// <summary>Dequantized once into the weights in place (restored afterwards): full speed, one copy of the sub-network's weights held aside.</summary>
    Dequantized,

    /// <summary>Kept as int8 beside the weights and dequantized in every forward: a quarter of the extra memory, a dequantization per matmul.</summary>
    OnTheFly,
}

public sealed partial class LlamaForCausalLM
{
    private QuantizedState? _quantized;

    /// <summary>Whether the active sub-network runs quantized (inside <see cref="QuantizeActive"/>).</summary>
    public bool IsQuantized => _quantized is not null;

    /// <summary>
    /// Runs the active sub-network as its INT8 export computes (<see cref="Int8Weights"/>): every decoder linear slice
    /// quantized per output channel of the slice, and embeddings, norms and the LM head rounded to fp16, until the
    /// returned scope is disposed, which restores the weights exactly. The sub-network cannot change meanwhile.
    /// LNAS0267 while LoRA adapters are attached (merge them first).
    /// </summary>
    public IDisposable QuantizeActive(Int8Execution execution = Int8Execution.Dequantized)
    {
        if (Lora is not null)
        {
            throw new LlamaNasException(DiagnosticCodes.QuantizationUnsupported, "int8 quantization needs plain weights, but LoRA adapters are attached; merge them first (finetune writes merged models).");
        }

        if (_quantized is not null)
        {
            throw new InvalidOperationException("the active sub-network is already quantized");
        }

        var linears = named_modules().Where(m => m.module is Linear).ToDictionary(m => m.name + ".weight", m => (Linear)m.module, StringComparer.Ordinal);
        var state = new QuantizedState();
        try
        {
            using var noGrad = no_grad();
            foreach (var (name, slice) in SubnetworkSlices(ActiveArchitecture))
            {
                if (!Int8Weights.IsQuantized(name))
                {
                    state.Replace(slice, slice.to(float16));
                    continue;
                }

                var (q, scale) = Int8Weights.Quantize(slice, name);
                if (execution == Int8Execution.OnTheFly)
                {
                    slice.Dispose();
                    state.Attach(linears[name], q, scale);
                    continue;
                }

                using (q)
                using (scale)
                {
                    state.Replace(slice, Int8Weights.Dequantize(q, scale, slice.dtype));
                }
            }
        }
        catch
        {
            state.Dispose();
            throw;
        }

        _quantized = state;
        state.Released += () => _quantized = null;
        return state;
    }

    /// <summary>The weights a quantized scope changed, as they were, and the int8 forms it attached.</summary>
    private sealed class QuantizedState : IDisposable
    {
        private readonly List<(Tensor Target, Tensor Original)> _saved = [];
        private readonly List<Linear> _attached = [];

        public event Action? Released;

        /// <summary>
        /// Keeps a copy of <paramref name="target"/> (a view of a parameter, owned from now on) and writes
        /// <paramref name="value"/> (disposed here) into it, rounding to the target's dtype.
        /// </summary>
        public void Replace(Tensor target, Tensor value)
        {
            _saved.Add((target, target.clone()));
            using (value)
            {
                target.copy_(value);
            }
        }

        public void Attach(Linear layer, Tensor q, Tensor scale)
        {
            Slicing.AttachInt8(layer, q, scale);
            _attached.Add(layer);
        }

        public void Dispose()
        {
            using (no_grad())
            {
                foreach (var (target, original) in _saved)
                {
                    target.copy_(original);
                    target.Dispose();
                    original.Dispose();
                }
            }

            _saved.Clear();
            _attached.ForEach(Slicing.DetachInt8);
            _attached.Clear();
            Released?.Invoke();
            Released = null;
        }
    }
}
