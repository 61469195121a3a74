using LlamaNas.Core.Search;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Training;
using LlamaNas.Engine.Training.Data;
using LlamaNas.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Modeling;

/// <summary>Elastic LoRA: adapters sliced with their weights, exact merges, dropout from (seed, step), frozen base weights.</summary>
public class LoraTests
{
    private static readonly long[] Prompt = [1, 5, 9, 33, 4, 70, 12, 8, 3, 3, 41];
    private static readonly SubnetworkArchitecture Narrow = new(24, [16, 40], [2, 4], [1, 2]);

    public LoraTests() => TorchTest.Init();

    private static Tensor Logits(LlamaForCausalLM model, SubnetworkArchitecture arch)
    {
        model.ActivateSubnetwork(arch);
        using var noGrad = no_grad();
        using var ids = tensor(Prompt, [1, Prompt.Length]);
        var logits = model.Forward(ids);
        model.ActivateFull();
        return logits;
    }

    private static double MaxDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().max();
        return d.item<float>();
    }

    /// <summary>Trained-looking adapters: B is zero after attaching, so give it random values.</summary>
    private static void Randomize(LlamaForCausalLM model)
    {
        using var noGrad = no_grad();
        using var generator = new Generator(77);
        foreach (var adapter in model.LoraAdapters)
        {
            adapter.B.normal_(0, 0.2, generator);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Merging_gives_the_full_network_and_every_slice_the_function_they_had_with_adapters(bool tied)
    {
        using var model = TorchTest.RandomModel(TorchTest.TinyConfig(layers: 2, tied: tied) with { AttentionBias = true, MlpBias = true }, seed: 8);
        using var baseFull = Logits(model, model.FullArchitecture);
        model.AttachLora(new LoraOptions { Rank = 3, Alpha = 6, Dropout = 0.3 }, seed: 1);
        Assert.Equal(2 * 7 + 1, model.LoraAdapters.Count); // q k v o gate up down per layer, and the LM head
        Assert.Contains(model.LoraAdapters, a => a.Name == (tied ? "model.embed_tokens" : "lm_head"));
        using (var fresh = Logits(model, model.FullArchitecture))
        {
            Assert.Equal(0, MaxDiff(baseFull, fresh)); // B starts at zero: nothing changes until training
        }

        Randomize(model);
        using var adaptedFull = Logits(model, model.FullArchitecture);
        using var adaptedNarrow = Logits(model, Narrow);
        Assert.True(MaxDiff(baseFull, adaptedFull) > 1e-2);

        model.MergeLora();
        Assert.Empty(model.LoraAdapters);
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
        using var mergedFull = Logits(model, model.FullArchitecture);
        using var mergedNarrow = Logits(model, Narrow);
        Assert.True(MaxDiff(adaptedFull, mergedFull) <= 1e-5, $"full: {MaxDiff(adaptedFull, mergedFull)}");
        Assert.True(MaxDiff(adaptedNarrow, mergedNarrow) <= 1e-5, $"sliced: {MaxDiff(adaptedNarrow, mergedNarrow)}");
    }

    [Fact]
    public void Dropout_acts_only_inside_a_training_step_with_masks_drawn_from_seed_and_step()
    {
        using var model = TorchTest.RandomModel(TorchTest.TinyConfig(layers: 2), seed: 9);
        model.AttachLora(new LoraOptions { Rank = 4, Dropout = 0.5 });
        Randomize(model);
        using var plain = Logits(model, Narrow);
        Tensor Step(ulong seed, long step)
        {
            model.BeginLoraStep(seed, step);
            try
            {
                return Logits(model, Narrow);
            }
            finally
            {
                model.EndLoraStep();
            }
        }

        using var a = Step(3, 10);
        using var again = Step(3, 10);
        using var nextStep = Step(3, 11);
        using var otherSeed = Step(4, 10);
        using var after = Logits(model, Narrow);
        Assert.True(MaxDiff(plain, a) > 1e-3);
        Assert.Equal(0, MaxDiff(a, again));
        Assert.True(MaxDiff(a, nextStep) > 1e-3);
        Assert.True(MaxDiff(a, otherSeed) > 1e-3);
        Assert.Equal(0, MaxDiff(plain, after));
    }

    [Fact]
    public void Training_with_adapters_moves_only_the_adapters_and_leaves_no_tensors()
    {
        var modelDir = SharedData.Stories260K;
        using var model = LlamaForCausalLM.Load(modelDir);
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
        model.AttachLora(new LoraOptions { Rank = 4 }, seed: 2);
        Assert.All(model.TrainableParameters(), p => Assert.Matches(@"\.lora_[AB]$", p.Name));
        var rows = Enumerable.Range(0, 8).Select(i => new TrainingExample([.. Enumerable.Range(0, 33).Select(j => 1 + ((i * 37) + (j * 11)) % 500)], [.. Enumerable.Repeat(true, 33)]));
        var space = SearchSpace.Create(model.Config, SearchSpaceSpec.LlamaNas(model.Config));
        using var trainer = new Trainer(model, TokenBlocks.Pad(rows, 32, 0), new InstaTuneSchedule(space, model.FullArchitecture, 1), new TrainerOptions { Steps = 10, BatchSize = 2, LearningRate = 1e-2, WarmupSteps = 0 });
        trainer.TrainStep();
        trainer.TrainStep();
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.True(p.allclose(before[name], rtol: 0, atol: 0), name);
            before[name].Dispose();
        }

        Assert.Contains(model.LoraAdapters, a => a.B.abs().max().item<float>() > 0);
        TorchTest.AssertNoLeaks(() => trainer.TrainStep());
    }
}
