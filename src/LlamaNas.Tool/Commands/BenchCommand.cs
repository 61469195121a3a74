using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Models;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Export;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.Measurement;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Training;
using LlamaNas.Engine.Training.Data;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Tool.Search;
using static TorchSharp.torch;

namespace LlamaNas.Tool.Commands;

/// <summary><c>llamanas bench …</c>: throughput measurements whose numbers go into docs/BENCHMARKS.md.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure throughput on this machine.");
        bench.Subcommands.Add(Prefill());
        bench.Subcommands.Add(Decode());
        bench.Subcommands.Add(Train());
        bench.Subcommands.Add(Evaluate());
        bench.Subcommands.Add(SearchBenchCommand.Create());
        bench.Subcommands.Add(ScaleOutBenchCommand.Create());
        return bench;
    }

    private static Command Prefill() => Speed("prefill", "Time a forward pass over a batch × seq prompt (all logits, as evaluation needs) on a random-init model.", decode: false);

    private static Command Decode() => Speed("decode", "Time one generated token per row with a KV cache of seq tokens on a random-init model.", decode: true);

    private static Command Speed(string name, string description, bool decode)
    {
        var config = new Option<string>("--config") { Description = "config.json (or a model directory) giving the architecture; weights are random.", Required = true };
        var seq = new Option<int>("--seq") { Description = "Prompt (context) length.", DefaultValueFactory = _ => 512 };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 1 };
        var dtypes = new Option<string>("--dtype") { Description = "Comma-separated compute dtypes.", DefaultValueFactory = _ => "fp32,bf16" };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions.", DefaultValueFactory = _ => 5 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up repetitions.", DefaultValueFactory = _ => 2 };
        var int8 = new Option<string>("--int8") { Description = "Comma-separated weight forms to time: none (float), dequantized (INT8 dequantized once, as the search's INT8 evaluation runs), on-the-fly (INT8 dequantized in every forward).", DefaultValueFactory = _ => "none" };
        var gguf = new Option<string?>("--gguf") { Description = "Also write each random-init model as <folder>/random-<dtype>.gguf, so that llama.cpp can be timed on the same weights (docs/BENCHMARKS.md)." };
        var command = new Command(name, description) { config, seq, batch, dtypes, reps, warmup, int8, gguf };
        command.SetAction(result =>
        {
            var o = result.InvocationConfiguration.Output;
            TorchRuntime.EnsureInitialized();
            var path = result.GetValue(config)!;
            var cfg = LlamaConfig.Load(Directory.Exists(path) ? Path.Combine(path, "config.json") : path);
            var options = new SpeedOptions { Batch = result.GetValue(batch), SequenceLength = result.GetValue(seq), Warmup = result.GetValue(warmup), Repetitions = result.GetValue(reps) };
            o.WriteLine($"model: {LlamaConfig.FormatCount(cfg.ParameterCount())} params, {cfg.NumHiddenLayers} layers, hidden {cfg.HiddenSize}; batch {options.Batch} × seq {options.SequenceLength}; threads {get_num_threads()}");
            o.WriteLine(decode ? "| dtype | weights | median s/step | trimmed mean s/step | tokens/s |" : "| dtype | weights | median s | trimmed mean s | tokens/s |");
            o.WriteLine("|---|---|---|---|---|");
            var forms = result.GetValue(int8)!.Split(',', StringSplitOptions.TrimEntries).Select(f => f switch
            {
                "none" => (Int8Execution?)null,
                "dequantized" => Int8Execution.Dequantized,
                "on-the-fly" => Int8Execution.OnTheFly,
                _ => throw new Core.Diagnostics.LlamaNasException(Core.Diagnostics.DiagnosticCodes.CliInvalidArgument, $"--int8 '{f}' is not one of none, dequantized, on-the-fly."),
            }).ToList();
            foreach (var dtype in result.GetValue(dtypes)!.Split(',').Select(ComputeDtype.Parse))
            {
                using var model = LlamaForCausalLM.CreateRandom(cfg, dtype, seed: 0);
                if (result.GetValue(gguf) is { } folder)
                {
                    Directory.CreateDirectory(folder);
                    var exportDtype = ModelExporter.ParseDType(ComputeDtype.Name(dtype));
                    var written = ModelExporter.Export(model, Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!, Path.Combine(folder, $"random-{ComputeDtype.Name(dtype)}.gguf"), new ExportOptions { Format = ExportFormat.Gguf, DType = exportDtype });
                    o.WriteLine($"wrote {written.Path}");
                }

                foreach (var form in forms)
                {
                    using var quantized = form is { } execution ? model.QuantizeActive(execution) : null;
                    var r = decode ? SpeedMeter.MeasureDecode(model, options) : SpeedMeter.MeasurePrefill(model, options, allLogits: true);
                    var weights = form switch { null => "float", Int8Execution.Dequantized => "int8, dequantized once", _ => "int8, on the fly" };
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {ComputeDtype.Name(dtype)} | {weights} | {r.Seconds.Median:F4} | {r.Seconds.TrimmedMean:F4} | {r.TokensPerSecond:F0} |"));
                }
            }

            return 0;
        });
        return command;
    }

    private static Command Train()
    {
        var config = new Option<string>("--config") { Description = "config.json (or a model directory) giving the architecture; weights are random.", Required = true };
        var seq = new Option<int>("--seq") { Description = "Sequence length.", DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch") { Description = "Rows per step.", DefaultValueFactory = _ => 4 };
        var dtypes = new Option<string>("--dtype") { Description = "Comma-separated compute dtypes.", DefaultValueFactory = _ => "fp32,bf16" };
        var steps = new Option<int>("--steps") { Description = "Timed optimizer steps.", DefaultValueFactory = _ => 5 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up steps.", DefaultValueFactory = _ => 1 };
        var strategy = new Option<string>("--strategy") { Description = $"Which networks each step trains: {string.Join(", ", TrainingStrategy.Names)} (sub-networks from LLaMA-NAS's space).", DefaultValueFactory = _ => TrainingStrategy.Standard };
        var distill = new Option<string>("--distill") { Description = "Comma-separated distillation modes to time: none, inplace (the full network teaches), teacher (a frozen random model of the same shape, in the compute dtype, teaches).", DefaultValueFactory = _ => "none" };
        var command = new Command("train", "Time full fine-tuning steps (forward, backward, AdamW) on a random-init model and report achieved FLOP/s.") { config, seq, batch, dtypes, steps, warmup, strategy, distill };
        command.SetAction(result =>
        {
            var o = result.InvocationConfiguration.Output;
            TorchRuntime.EnsureInitialized();
            var path = result.GetValue(config)!;
            var cfg = LlamaConfig.Load(Directory.Exists(path) ? Path.Combine(path, "config.json") : path);
            int b = result.GetValue(batch), t = result.GetValue(seq), n = result.GetValue(steps), w = result.GetValue(warmup);
            var rows = Enumerable.Range(0, (b * (n + w)) + 1).Select(i => new TrainingExample([.. Enumerable.Range(0, t + 1).Select(j => ((i * 7919) + (j * 104729)) % cfg.VocabSize)], [.. Enumerable.Repeat(true, t + 1)]));
            var blocks = TokenBlocks.Pad(rows, t, 0);
            o.WriteLine($"model: {LlamaConfig.FormatCount(cfg.ParameterCount())} params, {cfg.NumHiddenLayers} layers, hidden {cfg.HiddenSize}; batch {b} × seq {t}; threads {get_num_threads()}");
            o.WriteLine("| dtype | strategy | distill | median s/step | tokens/s | peak RSS GB | achieved GFLOP/s | matmul peak GFLOP/s | fraction of peak |");
            o.WriteLine("|---|---|---|---|---|---|---|---|---|");
            var modes = result.GetValue(distill)!.Split(',', StringSplitOptions.TrimEntries);
            foreach (var (dtype, mode) in result.GetValue(dtypes)!.Split(',').Select(ComputeDtype.Parse).SelectMany(d => modes.Select(m => (d, m))))
            {
                GC.Collect();
                var resetPeak = PeakMemory.TryReset();
                using var model = LlamaForCausalLM.CreateRandom(cfg, dtype, seed: 0);
                using var teacher = mode == "teacher" ? LlamaForCausalLM.CreateRandom(cfg, dtype, seed: 1) : null;
                var distillation = mode switch
                {
                    "none" => new DistillationOptions(),
                    "inplace" => new DistillationOptions { InPlace = true },
                    "teacher" => new DistillationOptions { Teacher = "(random)" },
                    _ => throw new Core.Diagnostics.LlamaNasException(Core.Diagnostics.DiagnosticCodes.CliInvalidArgument, $"--distill '{mode}' is not one of none, inplace, teacher."),
                };
                var schedule = TrainingStrategy.Create(new StrategyOptions { Name = result.GetValue(strategy)! }, Core.Search.SearchSpace.Create(cfg, Core.Search.SearchSpaceSpec.LlamaNas(cfg)), model);
                using var trainer = new Trainer(model, blocks, schedule, new TrainerOptions { Steps = n + w, BatchSize = b, LearningRate = 1e-4, WarmupSteps = 0, Distillation = distillation }, teacher);
                var samples = new List<double>();
                for (var i = 0; i < n + w; i++)
                {
                    var report = trainer.TrainStep();
                    if (i >= w)
                    {
                        samples.Add(report.Seconds);
                    }
                }

                var s = TimingStatistics.From(samples);
                // 6 FLOPs per parameter per token: 2 forward, 4 backward (activations and weights).
                var achieved = 6.0 * cfg.ParameterCount() * b * t / s.Median / 1e9;
                var peak = MatmulPeak.GflopsPerSecond(dtype);
                // The FLOP count holds for one full network per step only (sampled sub-networks and teachers differ).
                var flops = result.GetValue(strategy) == TrainingStrategy.Standard && mode == "none"
                    ? string.Create(CultureInfo.InvariantCulture, $"{achieved:F1} | {peak:F1} | {achieved / peak:P1}")
                    : "– | – | –";
                var rss = resetPeak && PeakMemory.ResidentBytes() is { } peakBytes ? string.Create(CultureInfo.InvariantCulture, $"{peakBytes / 1e9:F2}") : "–";
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {ComputeDtype.Name(dtype)} | {result.GetValue(strategy)} | {mode} | {s.Median:F3} | {b * t / s.Median:F0} | {rss} | {flops} |"));
            }

            return 0;
        });
        return command;
    }

    private static Command Evaluate()
    {
        var config = new Option<string>("--config") { Description = "A model directory (config.json + tokenizer) giving the architecture; weights are random.", Required = true };
        var task = new Option<string>("--task") { Description = "Task to score.", DefaultValueFactory = _ => "arc_easy" };
        var dataDir = new Option<string>("--data-dir") { Description = "Data folder (docs/EVALUATION.md).", DefaultValueFactory = _ => "data" };
        var limit = new Option<int>("--limit") { Description = "Items (seeded subsample).", DefaultValueFactory = _ => 100 };
        var dtypes = new Option<string>("--dtype") { Description = "Comma-separated compute dtypes.", DefaultValueFactory = _ => "fp32,bf16" };
        var share = new Option<string>("--share-contexts") { Description = "Comma-separated context-sharing thresholds to time (as evaluate's --share-contexts; 0: never).", DefaultValueFactory = _ => new ScorerOptions().PrefixSharingMinTokens.ToString(CultureInfo.InvariantCulture) };
        var command = new Command("evaluate", "Time multiple-choice scoring (items/s) of a random-init model with the given shape and tokenizer.") { config, task, dataDir, limit, dtypes, share };
        command.SetAction(result =>
        {
            var o = result.InvocationConfiguration.Output;
            var dir = result.GetValue(config)!;
            var evaluation = TaskLoader.Load(result.GetValue(task)!, result.GetValue(dataDir)!, TaskLoadOptions.Default);
            evaluation = evaluation with { Items = TaskLoader.Subsample(evaluation.Items, Math.Min(result.GetValue(limit), evaluation.Items.Count), 0) };
            TorchRuntime.EnsureInitialized();
            var cfg = LlamaConfig.Load(Path.Combine(dir, "config.json"));
            var tokenizer = TokenizerLoader.LoadForModel(dir);
            var requests = evaluation.Items.Sum(i => i.Requests.Count);
            o.WriteLine($"model: {LlamaConfig.FormatCount(cfg.ParameterCount())} params (random init); task {evaluation.Name}, {evaluation.Items.Count} items, {requests} requests; threads {get_num_threads()}");
            var thresholds = SpaceOptions.Choices(result.GetValue(share), "--share-contexts") ?? [];
            o.WriteLine("| dtype | share contexts ≥ tokens | contexts shared | seconds | items/s | requests/s |");
            o.WriteLine("|---|---|---|---|---|---|");
            foreach (var dtype in result.GetValue(dtypes)!.Split(',').Select(ComputeDtype.Parse))
            {
                using var model = LlamaForCausalLM.CreateRandom(cfg, dtype, seed: 0);
                foreach (var threshold in thresholds)
                {
                    // An untimed pass first: oneDNN builds its kernels per input shape, and the first pass meets every shape.
                    var scorer = new LoglikelihoodScorer(model, tokenizer, new ScorerOptions { PrefixSharingMinTokens = threshold });
                    var shared = scorer.Prepare([.. evaluation.Items.SelectMany(i => i.Requests)]).SharedContexts;
                    TaskEvaluator.Evaluate(scorer, evaluation);
                    var r = TaskEvaluator.Evaluate(scorer, evaluation);
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {ComputeDtype.Name(dtype)} | {(threshold == 0 ? "never" : threshold.ToString(CultureInfo.InvariantCulture))} | {shared} | {r.Seconds:F1} | {r.ItemsPerSecond:F2} | {requests / r.Seconds:F1} |"));
                }
            }

            return 0;
        });
        return command;
    }
}
