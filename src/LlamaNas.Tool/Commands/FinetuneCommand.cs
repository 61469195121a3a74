using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Models;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Training;
using LlamaNas.Pipeline.Search;
using LlamaNas.Tool.Search;
using Spectre.Console;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas finetune &lt;model&gt; --data … --strategy … --output …</c>: super-network fine-tuning (docs/FINETUNE.md),
/// writing a model directory every verb loads, plus supernet.json, train_log.jsonl and resumable checkpoints.
/// </summary>
public static class FinetuneCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "The base model directory (weights and tokenizer), or a hub id org/name[@revision]: the super-network." };
        var data = new Option<string>("--data") { Description = "Training data: Alpaca records (JSON array or jsonl) or text (.txt stories separated by <|endoftext|> lines, or jsonl with a text field).", Required = true };
        var format = new Option<string>("--format") { Description = "alpaca, text or auto (.txt is text, anything else alpaca).", DefaultValueFactory = _ => "auto" };
        var strategy = new Option<string>("--strategy") { Description = $"Which networks each step trains: {string.Join(", ", TrainingStrategy.Names)}.", DefaultValueFactory = _ => TrainingStrategy.InstaTune };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps.", DefaultValueFactory = _ => 100 };
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per micro-batch.", DefaultValueFactory = _ => 8 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per row.", DefaultValueFactory = _ => 256 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (linear warm-up, then cosine decay to --min-lr).", DefaultValueFactory = _ => 1e-4 };
        var minLr = new Option<double>("--min-lr") { Description = "Learning rate at the last step." };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps.", DefaultValueFactory = _ => 10 };
        var gradAccum = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step.", DefaultValueFactory = _ => 1 };
        var clip = new Option<double>("--clip") { Description = "Global gradient-norm clip (0: off).", DefaultValueFactory = _ => 1.0 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "AdamW decoupled weight decay." };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype: fp32 or bf16 (AdamW keeps fp32 master weights).", DefaultValueFactory = _ => "fp32" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of data order and sub-network sampling." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Save a resumable checkpoint every N steps (0: only at the end).", DefaultValueFactory = _ => 100 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --output from its latest checkpoint (same settings)." };
        var permute = new Option<bool>("--permute") { Description = "Permute MLP neurons and KV groups by importance on calibration batches before training." };
        var calibration = new Option<int>("--calibration-batches") { Description = "Batches of training data that score importance for --permute.", DefaultValueFactory = _ => 8 };
        var sandwichRandom = new Option<int>("--sandwich-random") { Description = "sandwich: random sub-networks between the largest and the smallest.", DefaultValueFactory = _ => 2 };
        var gridBins = new Option<int>("--grid-bins") { Description = "grid-params: bins over the parameter-count range.", DefaultValueFactory = _ => 8 };
        var gridCandidates = new Option<int>("--grid-candidates") { Description = "grid-params: candidates drawn per bin.", DefaultValueFactory = _ => 16 };
        var gridDraws = new Option<int>("--grid-draws") { Description = "grid-params: most uniform draws to fill the bins.", DefaultValueFactory = _ => 20_000 };
        var loraRank = new Option<int>("--lora-rank") { Description = "Train elastic LoRA adapters of this rank over frozen weights (0: train the weights themselves); merged into the exported weights." };
        var loraAlpha = new Option<double>("--lora-alpha") { Description = "LoRA scale numerator: ΔW = alpha / rank · B·A.", DefaultValueFactory = _ => 16 };
        var loraDropout = new Option<double>("--lora-dropout") { Description = "Dropout on the adapters' inputs while training.", DefaultValueFactory = _ => 0.05 };
        var distill = new Option<string>("--distill") { Description = "none, or inplace: the full network of each step teaches its sub-networks (KL at --distill-temperature).", DefaultValueFactory = _ => "none" };
        distill.AcceptOnlyFromAmong("none", "inplace");
        var teacher = new Option<string?>("--teacher") { Description = "A frozen teacher model folder (e.g. the base model) that teaches every network, the full one included." };
        var teacherDtype = new Option<string?>("--teacher-dtype") { Description = "The teacher's compute dtype: fp32 or bf16 (default: --dtype)." };
        var distillTemperature = new Option<double>("--distill-temperature") { Description = "Softmax temperature of teacher and student (the KL is scaled by T²).", DefaultValueFactory = _ => 1.0 };
        var distillAlpha = new Option<double>("--distill-alpha") { Description = "Weight of the KL term in a taught network's loss; the LM loss gets 1 − alpha.", DefaultValueFactory = _ => 1.0 };
        var logEvery = new Option<int>("--log-every") { Description = "Print progress every N steps.", DefaultValueFactory = _ => 10 };
        var output = new Option<string>("--output") { Description = "Folder of the super-network checkpoint (config.json, model.safetensors, tokenizer, supernet.json), train_log.jsonl and checkpoints/.", Required = true };
        var space = new SpaceOptions("With no space option: LLaMA-NAS's {3/4, 7/8, 1} of the layers and MLP {1/2, 1} of the width; with only width options: all layers.");
        var command = new Command("finetune", "Fine-tune a model as an elastic super-network (InstaTune and its sampling variants).")
        {
            model, data, format, strategy, steps, batchSize, seqLen, lr, minLr, warmup, gradAccum, clip, weightDecay, dtype, seed,
            checkpointEvery, resume, permute, calibration, sandwichRandom, gridBins, gridCandidates, gridDraws, loraRank, loraAlpha, loraDropout, distill, teacher, teacherDtype, distillTemperature, distillAlpha, logEvery, output,
        };
        space.AddTo(command);
        command.SetAction((result, cancel) =>
        {
            var o = result.InvocationConfiguration.Output;
            var directory = Cli.Model(result.GetValue(model)!);
            var config = LlamaConfig.Load(Path.Combine(directory, "config.json"));
            var settings = new FineTuneSettings
            {
                BaseModel = directory,
                DataFile = result.GetValue(data)!,
                Format = result.GetValue(format)!,
                Output = result.GetValue(output)!,
                Strategy = new StrategyOptions
                {
                    Name = result.GetValue(strategy)!,
                    Seed = result.GetValue(seed),
                    SandwichRandom = result.GetValue(sandwichRandom),
                    Grid = new GridParamsOptions { Bins = result.GetValue(gridBins), CandidatesPerBin = result.GetValue(gridCandidates), MaxDraws = result.GetValue(gridDraws) },
                },
                Space = space.Spec(result, config),
                Trainer = new TrainerOptions
                {
                    Steps = result.GetValue(steps),
                    BatchSize = result.GetValue(batchSize),
                    GradientAccumulation = result.GetValue(gradAccum),
                    LearningRate = result.GetValue(lr),
                    MinLearningRate = result.GetValue(minLr),
                    WarmupSteps = result.GetValue(warmup),
                    WeightDecay = result.GetValue(weightDecay),
                    MaxGradNorm = result.GetValue(clip),
                    Seed = result.GetValue(seed),
                    CheckpointEvery = result.GetValue(checkpointEvery),
                    Distillation = new DistillationOptions
                    {
                        InPlace = result.GetValue(distill) == "inplace",
                        Teacher = result.GetValue(teacher) is { } t ? Cli.Model(t) : null,
                        TeacherDtype = result.GetValue(teacherDtype) is { } td ? ComputeDtype.Parse(td) : null,
                        Temperature = result.GetValue(distillTemperature),
                        Alpha = result.GetValue(distillAlpha),
                    },
                },
                SequenceLength = result.GetValue(seqLen),
                Dtype = ComputeDtype.Parse(result.GetValue(dtype)!),
                Resume = result.GetValue(resume),
                Permute = result.GetValue(permute),
                CalibrationBatches = result.GetValue(calibration),
                Lora = result.GetValue(loraRank) switch
                {
                    0 => null,
                    var rank => new LoraOptions { Rank = rank, Alpha = result.GetValue(loraAlpha), Dropout = result.GetValue(loraDropout) },
                },
            };
            SupernetFineTuning.Validate(settings);
            TorchRuntime.EnsureInitialized();
            var every = Math.Max(1, result.GetValue(logEvery));
            try
            {
                if (FinetuneProgress.IsInteractive(o))
                {
                    FinetuneProgress.Run(AnsiConsole.Console, settings.Trainer.Steps, observer => SupernetFineTuning.Run(settings, observer, cancel), every);
                }
                else
                {
                    SupernetFineTuning.Run(settings, new StepLines(o.WriteLine, every), cancel);
                }
            }
            catch (OperationCanceledException)
            {
                return Task.FromResult(130);
            }

            return Task.FromResult(0);
        });
        return command;
    }
}
