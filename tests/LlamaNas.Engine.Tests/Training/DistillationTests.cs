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

/// <summary>In-place and external-teacher distillation: the loss, the teacher's isolation, and exact resume.</summary>
public sealed class DistillationTests : IDisposable
{
    private static readonly string ModelDir = SharedData.Stories260K;
    private static readonly Lazy<TokenBlocks> Stories = new(() => TrainingTestData.Stories(40, 48));

    private readonly string _dir = Directory.CreateTempSubdirectory("llamanas-distill-").FullName;

    public DistillationTests() => TorchTest.Init();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TrainerOptions Options(DistillationOptions distill, int steps = 5) => new() { Steps = steps, BatchSize = 4, LearningRate = 2e-3, WarmupSteps = 1, Seed = 3, Distillation = distill };

    private static ISubnetworkSchedule Schedule(string strategy, LlamaForCausalLM model) =>
        TrainingStrategy.Create(new StrategyOptions { Name = strategy, Seed = 3, SandwichRandom = 1 }, SearchSpace.Create(model.Config, SearchSpaceSpec.LlamaNas(model.Config)), model);

    [Fact]
    public void The_kl_term_is_zero_when_the_student_is_the_teacher_and_positive_otherwise()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(11);
        var a = randn([6, 17], generator: generator);
        var b = randn([6, 17], generator: generator);
        Assert.Equal(0, Distillation.KlLoss(a, a.clone(), 2.0).item<float>(), 6);
        Assert.True(Distillation.KlLoss(a, b, 2.0).item<float>() > 1e-3);
    }

    [Fact]
    public void The_kl_gradient_matches_finite_differences()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        const double t = 1.7;
        var teacher = randn([3, 7], dtype: float64, generator: generator);
        var student = randn([3, 7], dtype: float64, generator: generator).requires_grad_();
        Distillation.KlLoss(student, teacher, t).backward();
        var analytic = student.grad!.clone();
        const double h = 1e-6;
        using var noGrad = no_grad();
        for (var i = 0; i < 3; i++)
        {
            for (var j = 0; j < 7; j++)
            {
                var plus = student.clone();
                plus[i, j] = plus[i, j] + h;
                var minus = student.clone();
                minus[i, j] = minus[i, j] - h;
                var numeric = (Distillation.KlLoss(plus, teacher, t).item<double>() - Distillation.KlLoss(minus, teacher, t).item<double>()) / (2 * h);
                Assert.Equal(numeric, analytic[i, j].item<double>(), 6);
            }
        }
    }

    [Fact]
    public void An_external_teacher_gets_no_gradient_and_never_changes_while_it_moves_the_student()
    {
        using var teacher = LlamaForCausalLM.Load(ModelDir);
        var before = TrainingTestData.Weights(teacher);
        using var model = LlamaForCausalLM.Load(ModelDir);
        var start = TrainingTestData.Weights(model);
        using (var trainer = new Trainer(model, Stories.Value, Schedule(TrainingStrategy.Sandwich, model), Options(new DistillationOptions { Teacher = ModelDir }, steps: 2), teacher))
        {
            trainer.Run();
        }

        Assert.Equal(before, TrainingTestData.Weights(teacher));
        Assert.All(teacher.parameters(), p => Assert.Null(p.grad));
        Assert.NotEqual(start, TrainingTestData.Weights(model));
    }

    [Fact]
    public void Alpha_zero_trains_exactly_as_without_distillation_and_alpha_one_differs()
    {
        byte[] Train(DistillationOptions distill)
        {
            using var model = LlamaForCausalLM.Load(ModelDir);
            using var trainer = new Trainer(model, Stories.Value, Schedule(TrainingStrategy.InstaTune, model), Options(distill, steps: 3));
            trainer.Run();
            return TrainingTestData.Weights(model);
        }

        var plain = Train(new DistillationOptions());
        Assert.Equal(plain, Train(new DistillationOptions { InPlace = true, Alpha = 0 }));
        Assert.NotEqual(plain, Train(new DistillationOptions { InPlace = true, Alpha = 1, Temperature = 2 }));
    }

    [Theory]
    [InlineData(TrainingStrategy.Sandwich, "inplace", false)]
    [InlineData(TrainingStrategy.InstaTune, "inplace", false)]
    [InlineData(TrainingStrategy.InstaTune, "teacher", false)]
    [InlineData(TrainingStrategy.Sandwich, "inplace", true)]
    public void Resuming_a_distilled_run_continues_exactly_like_an_uninterrupted_one(string strategy, string mode, bool lora)
    {
        var distill = mode == "inplace" ? new DistillationOptions { InPlace = true, Temperature = 2, Alpha = 0.7 } : new DistillationOptions { Teacher = ModelDir, Alpha = 0.5 };
        using var teacher = mode == "teacher" ? LlamaForCausalLM.Load(ModelDir) : null;
        Trainer NewTrainer(LlamaForCausalLM model) => new(model, Stories.Value, Schedule(strategy, model), Options(distill), teacher);
        LlamaForCausalLM Model()
        {
            var model = LlamaForCausalLM.Load(ModelDir);
            if (lora)
            {
                // Elastic LoRA: the adapters (with dropout) are what trains, the full network with them teaches.
                model.AttachLora(new LoraOptions { Rank = 4, Dropout = 0.2 }, seed: 3);
            }

            return model;
        }

        TrainingTestData.AssertResumesExactly(Model, NewTrainer, Path.Combine(_dir, "ckpt"), checkpointAt: 2);
    }

    [Fact]
    public void A_distilled_step_leaves_no_live_tensors()
    {
        using var model = LlamaForCausalLM.Load(ModelDir);
        using var trainer = new Trainer(model, Stories.Value, Schedule(TrainingStrategy.InstaTune, model), Options(new DistillationOptions { InPlace = true }, steps: 50));
        TorchTest.AssertNoLeaks(() => trainer.TrainStep());
    }

    [Theory]
    [InlineData(true, "teacher", 1.0, 1.0)]
    [InlineData(true, null, 0.0, 1.0)]
    [InlineData(true, null, 1.0, 1.5)]
    public void Bad_distillation_settings_are_LNAS0720(bool inPlace, string? teacher, double temperature, double alpha)
    {
        var error = Assert.Throws<LlamaNasException>(() => new DistillationOptions { InPlace = inPlace, Teacher = teacher, Temperature = temperature, Alpha = alpha }.Validate());
        Assert.Equal(DiagnosticCodes.TrainingInvalidOptions, error.Code);
    }
}
