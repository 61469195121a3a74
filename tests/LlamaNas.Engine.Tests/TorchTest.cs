using LlamaNas.Core.Models;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests;

/// <summary>Shared helpers for tests that use libtorch: runtime bring-up, tiny configs, leak accounting.</summary>
public static class TorchTest
{
    public static void Init() => TorchRuntime.EnsureInitialized();

    /// <summary>A tiny GQA Llama (2 KV groups of 2 heads) for fast, exact unit tests.</summary>
    public static LlamaConfig TinyConfig(int layers = 3, int vocab = 97, bool tied = true) => new()
    {
        HiddenSize = 32,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        HeadDim = 8,
        IntermediateSizes = [.. Enumerable.Repeat(48, layers)],
        VocabSize = vocab,
        RmsNormEps = 1e-5,
        TieWordEmbeddings = tied,
        MaxPositionEmbeddings = 256,
        BosTokenId = 1,
        EosTokenIds = [2],
    };

    /// <summary>Random weights everywhere, norms and biases included, so that slicing or permuting the wrong entries shows.</summary>
    public static LlamaForCausalLM RandomModel(LlamaConfig config, long seed)
    {
        var model = LlamaForCausalLM.CreateRandom(config, seed: seed, std: 0.1);
        using var noGrad = no_grad();
        using var generator = new Generator((ulong)seed + 1000);
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                p.normal_(1.0, 0.3, generator);
            }
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                p.normal_(0, 0.1, generator);
            }
        }

        return model;
    }

    /// <summary>Tensors alive on this thread right now (created and not yet disposed).</summary>
    public static long LiveTensors => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>Runs <paramref name="action"/> and asserts that it leaves no tensor alive.</summary>
    public static void AssertNoLeaks(Action action)
    {
        Init();
        action(); // first run may create lazily cached state
        GC.Collect();
        var before = LiveTensors;
        action();
        Assert.Equal(before, LiveTensors);
    }
}
