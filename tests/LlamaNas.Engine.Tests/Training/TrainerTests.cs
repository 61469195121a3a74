using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training;
using LlamaNas.Engine.Training.Data;
using LlamaNas.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Training;

public sealed class TrainerTests : IDisposable
{
    private static readonly string ModelDir = SharedData.Stories260K;
    private static readonly Lazy<TokenBlocks> Stories = new(() => TrainingTestData.Stories(60, 64));

    private readonly string _dir = Directory.CreateTempSubdirectory("llamanas-train-").FullName;

    public TrainerTests() => TorchTest.Init();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TrainerOptions Options(int steps = 6) => new() { Steps = steps, BatchSize = 4, LearningRate = 2e-3, WarmupSteps = 2, Seed = 5, CheckpointEvery = 3 };

    [Fact]
    public void AdamW_matches_torch_optim_AdamW()
    {
        var config = TorchTest.TinyConfig(layers: 1);
        using var ours = LlamaForCausalLM.CreateRandom(config, seed: 1);
        using var theirs = LlamaForCausalLM.CreateRandom(config, seed: 1);
        using var adam = new AdamW(ours.named_parameters(), new AdamWOptions { WeightDecay = 0.1 });
        using var reference = optim.AdamW(theirs.parameters(), lr: 0.01, weight_decay: 0.1);
        var batch = new TokenBatch(2, 6, [1, 5, 9, 3, 4, 8, 1, 7, 7, 2, 6, 5], [.. Enumerable.Repeat(true, 12)]);
        for (var step = 0; step < 3; step++)
        {
            foreach (var m in new[] { ours, theirs })
            {
                using var scope = NewDisposeScope();
                m.zero_grad();
                Trainer.Loss(m, batch).backward();
            }

            adam.Step(0.01);
            reference.step();
        }

        foreach (var (name, p) in ours.named_parameters())
        {
            using var diff = (p - theirs.get_parameter(name)!).abs().max();
            Assert.True(diff.item<float>() < 1e-6, $"{name} differs by {diff.item<float>()}");
        }
    }

    [Fact]
    public void Training_a_fresh_stories_shaped_model_on_tinystories_drives_the_loss_far_below_chance()
    {
        using var checkpoint = Engine.Checkpoints.LlamaCheckpoint.Open(ModelDir);
        using var model = LlamaForCausalLM.CreateRandom(checkpoint.Config, seed: 3);
        using var trainer = new Trainer(model, Stories.Value, new StandardSchedule(), Options(16) with { BatchSize = 8, LearningRate = 1e-2, WarmupSteps = 4 });
        var losses = new List<double>();
        trainer.Run(progress: new SyncProgress(r => losses.Add(r.Loss)));
        Assert.Equal(16, losses.Count);
        Assert.InRange(losses[0], Math.Log(512) - 0.5, Math.Log(512) + 0.5); // uniform over the 512-token vocabulary
        Assert.True(losses.TakeLast(4).Average() < Math.Log(512) - 1, string.Join(", ", losses)); // a nat below chance: token statistics learnt
    }

    /// <summary>The strategy's schedule over stories260K's LLaMA-NAS space (depth 3/4/5, MLP 86/172).</summary>
    private static ISubnetworkSchedule Schedule(string strategy, LlamaForCausalLM model) =>
        TrainingStrategy.Create(new StrategyOptions { Name = strategy, Seed = 5 }, SearchSpace.Create(model.Config, SearchSpaceSpec.LlamaNas(model.Config)), model);

    [Theory]
    [InlineData(TrainingStrategy.Standard, false)]
    [InlineData(TrainingStrategy.InstaTune, false)]
    [InlineData(TrainingStrategy.Sandwich, false)]
    [InlineData(TrainingStrategy.GridParams, false)]
    [InlineData(TrainingStrategy.InstaTune, true)]
    public void Killing_and_resuming_continues_exactly_like_an_uninterrupted_run(string strategy, bool lora)
    {
        LlamaForCausalLM Model()
        {
            var model = LlamaForCausalLM.Load(ModelDir);
            if (lora)
            {
                model.AttachLora(new LoraOptions { Rank = 4, Dropout = 0.2 }, seed: 5);
            }

            return model;
        }

        var ckpt = Path.Combine(_dir, "ckpt");
        TrainingTestData.AssertResumesExactly(Model, model => new Trainer(model, Stories.Value, Schedule(strategy, model), Options()), ckpt, checkpointAt: 3);
        Assert.Equal(["latest", "step-0000003"], Directory.EnumerateFileSystemEntries(ckpt).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Parameters_that_no_network_of_a_step_uses_do_not_move_in_that_step()
    {
        // Step 0 trains everything, so every parameter has optimizer state; step 1 trains the first layer only.
        // Layer 1 must stay put then: no gradient, so no momentum-only update and no weight decay.
        var config = TorchTest.TinyConfig(layers: 2, vocab: 512);
        using var model = LlamaForCausalLM.CreateRandom(config, seed: 2);
        var schedule = new FixedSchedule(model.FullArchitecture, new SubnetworkArchitecture(32, [48], [4], [2]));
        using var trainer = new Trainer(model, Stories.Value, schedule, Options(4) with { WeightDecay = 0.1 });
        trainer.TrainStep();
        using var layer1 = model.get_parameter("model.layers.1.mlp.up_proj.weight")!.clone();
        using var layer0 = model.get_parameter("model.layers.0.mlp.up_proj.weight")!.clone();
        trainer.TrainStep();
        Assert.True(model.get_parameter("model.layers.1.mlp.up_proj.weight")!.allclose(layer1, rtol: 0, atol: 0));
        Assert.False(model.get_parameter("model.layers.0.mlp.up_proj.weight")!.allclose(layer0, rtol: 0, atol: 0));
    }

    [Fact]
    public void Resuming_with_different_settings_is_a_coded_error()
    {
        var ckpt = Path.Combine(_dir, "ckpt");
        using (var model = LlamaForCausalLM.Load(ModelDir))
        using (var trainer = new Trainer(model, Stories.Value, new StandardSchedule(), Options()))
        {
            trainer.TrainStep();
            trainer.SaveCheckpoint(ckpt);
        }

        using var other = LlamaForCausalLM.Load(ModelDir);
        using var changed = new Trainer(other, Stories.Value, new StandardSchedule(), Options() with { LearningRate = 1e-4 });
        Assert.Equal(DiagnosticCodes.TrainingResumeMismatch, Assert.Throws<LlamaNasException>(() => changed.TryResume(ckpt)).Code);
        Assert.False(changed.TryResume(Path.Combine(_dir, "nothing-here")));
    }

    [Fact]
    public void Bf16_training_keeps_bf16_weights_updated_through_fp32_master_copies()
    {
        using var model = LlamaForCausalLM.Load(ModelDir, ScalarType.BFloat16);
        using var before = model.get_parameter("model.layers.0.mlp.up_proj.weight")!.to(float32);
        using var trainer = new Trainer(model, Stories.Value, new StandardSchedule(), Options(3) with { LearningRate = 1e-4 });
        trainer.Run();
        var after = model.get_parameter("model.layers.0.mlp.up_proj.weight")!;
        Assert.Equal(ScalarType.BFloat16, after.dtype);
        using var changed = (after.to(float32) - before).abs().max();
        Assert.True(changed.item<float>() > 0);
    }

    [Fact]
    public void A_training_step_leaves_no_live_tensors()
    {
        using var model = LlamaForCausalLM.CreateRandom(TorchTest.TinyConfig(vocab: 512));
        using var trainer = new Trainer(model, Stories.Value, new StandardSchedule(), Options(50));
        TorchTest.AssertNoLeaks(() => trainer.TrainStep());
    }

    /// <summary>Step 0 the first architecture, every later step the second.</summary>
    private sealed class FixedSchedule(SubnetworkArchitecture first, SubnetworkArchitecture later) : ISubnetworkSchedule
    {
        public string Description => "fixed";

        public IReadOnlyList<ITrainingSubnetwork> ForStep(long stepIndex) => [new ArchitectureSubnetwork(stepIndex == 0 ? first : later, "fixed")];

        public void Restore(LlamaForCausalLM model) => model.ActivateFull();
    }
}
