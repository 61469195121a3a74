using LlamaNas.Core.Search;
using LlamaNas.Engine.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Modeling;

/// <summary>
/// A decoding step (one new position per row) runs its own matrix-vector products and attention (MatVec,
/// DecodeAttention), over raw memory (DecodeStep) for a single row; a forward over several positions runs libtorch's.
/// These check that all give the same logits.
/// </summary>
public class DecodeStepTests
{
    public DecodeStepTests() => TorchTest.Init();

    private static readonly long[] Prompt = [1, 5, 9, 33, 4, 70, 12, 8, 3, 40, 41];

    public static TheoryData<string, bool, bool> Cases => new()
    {
        { "fp32", false, false },
        { "fp32", true, false },
        { "fp32", false, true },
        { "bf16", false, false },
        { "bf16", true, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Cached_steps_equal_the_uncached_forward(string dtype, bool subnetwork, bool bias)
    {
        var scalarType = ComputeDtype.Parse(dtype);
        using var model = CaseModel(scalarType, subnetwork, bias);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(Prompt).unsqueeze(0);
        var full = model.Forward(ids);
        using var cache = model.NewCache(Prompt.Length);
        model.Forward(ids.narrow(1, 0, 4), cache: cache);
        // bf16: products summed in another order may round to the neighbouring bf16 value, and that carries on.
        var tolerance = scalarType == ScalarType.Float32 ? 1e-4 : 0.05 * full.abs().max().item<float>();
        for (var t = 4; t < Prompt.Length; t++)
        {
            var step = model.Forward(ids.narrow(1, t, 1), cache: cache);
            var difference = (full.narrow(1, t, 1) - step).abs().max().item<float>();
            Assert.True(difference <= tolerance, $"position {t}: {difference} > {tolerance}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_fused_step_equals_the_step_through_the_modules(string dtype, bool subnetwork, bool bias)
    {
        var scalarType = ComputeDtype.Parse(dtype);
        using var model = CaseModel(scalarType, subnetwork, bias);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(Prompt).unsqueeze(0);
        using var fusedCache = model.NewCache(Prompt.Length);
        using var moduleCache = model.NewCache(Prompt.Length);
        model.Forward(ids.narrow(1, 0, 4), cache: fusedCache);
        model.Forward(ids.narrow(1, 0, 4), cache: moduleCache);
        // The same operations and roundings; only SiLU's exp comes from .NET, not libtorch (fp32: last bits; bf16: a
        // rare activation may round to the neighbouring bf16 value).
        var tolerance = scalarType == ScalarType.Float32 ? 1e-5 : 0.02;
        for (var t = 4; t < Prompt.Length; t++)
        {
            var taken = DecodeStep.Taken;
            var fused = model.Forward(ids.narrow(1, t, 1), cache: fusedCache, lastPositionOnly: true);
            Assert.Equal(taken + 1, DecodeStep.Taken);
            var modules = ThroughTheModules(() => model.Forward(ids.narrow(1, t, 1), cache: moduleCache, lastPositionOnly: true));
            Assert.Equal(taken + 1, DecodeStep.Taken);
            Assert.Equal(modules.shape, fused.shape);
            var difference = (modules - fused).abs().max().item<float>() / modules.abs().max().item<float>();
            Assert.True(difference <= tolerance, $"position {t}: relative difference {difference} > {tolerance}");
        }

        Assert.Equal(fusedCache.Length, moduleCache.Length);
    }

    [Fact]
    public void A_cache_without_room_grows_through_the_modules_and_the_next_step_is_fused()
    {
        using var model = RandomModel(TorchTest.TinyConfig(), ScalarType.Float32);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(Prompt).unsqueeze(0);
        var full = model.Forward(ids);
        using var cache = model.NewCache(4);
        model.Forward(ids.narrow(1, 0, 4), cache: cache);
        var taken = DecodeStep.Taken;
        var grown = model.Forward(ids.narrow(1, 4, 1), cache: cache);
        Assert.Equal(taken, DecodeStep.Taken);
        var next = model.Forward(ids.narrow(1, 5, 1), cache: cache);
        Assert.Equal(taken + 1, DecodeStep.Taken);
        Assert.True((full.narrow(1, 4, 1) - grown).abs().max().item<float>() <= 1e-4);
        Assert.True((full.narrow(1, 5, 1) - next).abs().max().item<float>() <= 1e-4);
    }

    [Fact]
    public void Steps_with_LoRA_autograd_or_a_batch_go_through_the_modules()
    {
        using var model = RandomModel(TorchTest.TinyConfig(), ScalarType.Float32);
        using var scope = NewDisposeScope();
        var ids = tensor(Prompt).unsqueeze(0);
        var taken = DecodeStep.Taken;
        using (var cache = model.NewCache(Prompt.Length))
        {
            model.Forward(ids.narrow(1, 0, 4), cache: cache); // autograd on
            model.Forward(ids.narrow(1, 4, 1), cache: cache);
        }

        using var noGrad = no_grad();
        using (var cache = model.NewCache(Prompt.Length))
        {
            var two = cat([ids, ids], 0);
            model.Forward(two.narrow(1, 0, 4), cache: cache);
            model.Forward(two.narrow(1, 4, 1), cache: cache);
        }

        model.AttachLora(new LoraOptions { Rank = 2 }, seed: 1);
        using (var cache = model.NewCache(Prompt.Length))
        {
            model.Forward(ids.narrow(1, 0, 4), cache: cache);
            model.Forward(ids.narrow(1, 4, 1), cache: cache);
        }

        Assert.Equal(taken, DecodeStep.Taken);
    }

    private static Tensor ThroughTheModules(Func<Tensor> step)
    {
        DecodeStep.Disabled = true;
        try
        {
            return step();
        }
        finally
        {
            DecodeStep.Disabled = false;
        }
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    public void One_row_norm_and_rope_equal_the_batched_computation(string dtype)
    {
        var scalarType = ComputeDtype.Parse(dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        using var norm = new RmsNorm(72, 1e-5, scalarType);
        norm.Weight.normal_(1.0, 0.3, generator);
        var x = randn([1, 1, 72], generator: generator).to(scalarType);
        // Two rows go through libtorch's calls, one row through the single-pass loop.
        var batched = norm.forward(cat([x, x], 0))[0];
        var single = norm.forward(x)[0];
        var normTolerance = scalarType == ScalarType.Float32 ? 1e-6 : 0.01; // the mean of squares is summed in another order
        Assert.True((batched.to(float32) - single.to(float32)).abs().max().item<float>() <= normTolerance * batched.to(float32).abs().max().item<float>());

        var q = randn([1, 1, 6, 16], generator: generator).to(scalarType).transpose(1, 2); // [B, H, 1, D] as attention has it
        var angles = randn([1, 1, 1, 16], generator: generator);
        var (cos, sin) = (angles.cos().to(scalarType), angles.sin().to(scalarType));
        var rotated = RotaryEmbedding.Apply(q, cos, sin);
        var twice = RotaryEmbedding.Apply(cat([q, q], 2), cat([cos, cos], 2), cat([sin, sin], 2)).narrow(2, 0, 1);
        Assert.True(rotated.eq(twice).all().item<bool>(), "RoPE of one position differs from libtorch's");
    }

    [Fact]
    public void A_step_of_a_padded_batch_equals_each_row_alone()
    {
        using var model = RandomModel(TorchTest.TinyConfig(), ScalarType.Float32);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // Row 0 is left-padded by 3; both rows then take one cached step together.
        var ids = tensor(new long[] { 0, 0, 0, 7, 8, 9, 1, 5, 9, 33, 4, 70 }, [2, 6]);
        var mask = tensor(new long[] { 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, [2, 6]);
        using var cache = model.NewCache(7);
        model.Forward(ids, mask, cache);
        var next = tensor(new long[] { 12, 13 }, [2, 1]);
        var step = model.Forward(next, cat([mask, ones(2, 1, int64)], 1), cache);
        for (var b = 0; b < 2; b++)
        {
            var row = cat([ids[b].narrow(0, b == 0 ? 3 : 0, b == 0 ? 3 : 6), next[b]], 0).unsqueeze(0);
            var alone = model.Forward(row).narrow(1, row.shape[1] - 1, 1);
            Assert.True((alone - step[b].unsqueeze(0)).abs().max().item<float>() <= 1e-4, $"row {b}");
        }
    }

    [Fact]
    public void A_decoding_step_leaves_no_tensor_alive()
    {
        using var model = RandomModel(TorchTest.TinyConfig(), ScalarType.BFloat16);
        using var noGrad = no_grad();
        using var ids = tensor(Prompt).unsqueeze(0);
        TorchTest.AssertNoLeaks(() =>
        {
            using var cache = model.NewCache(Prompt.Length);
            using var first = ids.narrow(1, 0, 4);
            using var next = ids.narrow(1, 4, 1);
            using var prefill = model.Forward(first, cache: cache);
            using var step = model.Forward(next, cache: cache, lastPositionOnly: true);
        });
        Assert.True(DecodeStep.Taken > 0, "the single-row steps above should have been fused");
    }

    /// <summary>A model of <see cref="Cases"/>; hidden 48 and MLP 40/36 leave tails past the kernels' blocks of 16 and 32 values.</summary>
    private static LlamaForCausalLM CaseModel(ScalarType dtype, bool subnetwork, bool bias)
    {
        var config = TorchTest.TinyConfig() with { HiddenSize = 48, IntermediateSizes = [40, 40, 40], AttentionBias = bias, MlpBias = bias };
        var model = RandomModel(config, dtype);
        if (subnetwork)
        {
            model.ActivateSubnetwork(new SubnetworkArchitecture(40, [36, 24], [2, 4], [1, 2]));
        }

        return model;
    }

    private static LlamaForCausalLM RandomModel(Core.Models.LlamaConfig config, ScalarType dtype)
    {
        using var fp32 = TorchTest.RandomModel(config, seed: 11);
        if (dtype == ScalarType.Float32)
        {
            return TorchTest.RandomModel(config, seed: 11);
        }

        var weights = fp32.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        return LlamaForCausalLM.Create(config, dtype, (name, type) => weights[name].to(type));
    }
}
