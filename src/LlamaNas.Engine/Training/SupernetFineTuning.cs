using System.Globalization;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training.Data;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Training;

/// <summary>Everything a super-network fine-tuning run is made of.</summary>
public sealed record FineTuneSettings
{
    /// <summary>Hugging Face model directory (weights and tokenizer): the super-network to fine-tune.</summary>
    public required string BaseModel { get; init; }

    public required string DataFile { get; init; }

    /// <summary><c>alpaca</c> (instruction records, response-only targets), <c>text</c> (every token a target) or <c>auto</c> (.txt is text, anything else alpaca).</summary>
    public string Format { get; init; } = "auto";

    /// <summary>Folder of the super-network checkpoint, its training log and resumable checkpoints.</summary>
    public required string Output { get; init; }

    public StrategyOptions Strategy { get; init; } = new();

    /// <summary>The search space sub-networks are sampled from; null: LLaMA-NAS's space for the base model.</summary>
    public SearchSpaceSpec? Space { get; init; }

    public TrainerOptions Trainer { get; init; } = new();

    public int SequenceLength { get; init; } = 256;

    public ScalarType Dtype { get; init; } = ScalarType.Float32;

    /// <summary>Continue from the latest checkpoint in the output folder (start afresh when there is none).</summary>
    public bool Resume { get; init; }

    /// <summary>Permute MLP neurons and KV groups by importance before training (<see cref="ImportancePermutation"/>).</summary>
    public bool Permute { get; init; }

    /// <summary>Calibration batches (of the training batch size, drawn from the training data) for the importance scores.</summary>
    public int CalibrationBatches { get; init; } = 8;

    /// <summary>Train elastic LoRA adapters over frozen base weights instead of the weights themselves; merged on export.</summary>
    public LoraOptions? Lora { get; init; }
}

/// <summary>What a finished run produced.</summary>
public sealed record FineTuneResult(string Output, long ResumedFromStep, ImportanceScores? Importance, IReadOnlyList<GridBin>? Grid);

/// <summary>Receives a run's notes and every step as it completes.</summary>
public interface IFineTuneObserver
{
    void Info(string message);

    /// <summary><paramref name="remaining"/>: estimated time to the last step, from this process's mean step time.</summary>
    void StepCompleted(StepReport report, long totalSteps, TimeSpan remaining);
}

/// <summary>
/// Super-network fine-tuning end to end: data, base model, optional importance permutation, the strategy's schedule,
/// the trainer with resumable checkpoints and a jsonl log, and the finished super-network written as a Hugging Face
/// model directory plus <c>supernet.json</c> (what made it, with fingerprints of the base model and the data).
/// </summary>
public static class SupernetFineTuning
{
    public const string SupernetFile = "supernet.json";
    public const string LogFile = "train_log.jsonl";
    public const string CheckpointFolder = "checkpoints";

    private const ulong CalibrationStream = 0xA0761D6478BD642FUL;

    /// <summary>
    /// The package version (without the source revision the SDK appends after '+'): part of every build stage key,
    /// so a commit that changes no numerics still reuses cached super-networks; a release that changes them bumps it.
    /// </summary>
    public static string EngineVersion { get; } = (typeof(SupernetFineTuning).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "unknown").Split('+')[0];

    /// <summary>Resolves <c>auto</c>; LNAS0704 for an unknown format.</summary>
    public static string ResolveFormat(string format, string dataFile)
    {
        ArgumentNullException.ThrowIfNull(format);
        ArgumentNullException.ThrowIfNull(dataFile);
        return format switch
        {
            "alpaca" or "text" => format,
            "auto" => dataFile.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) ? "text" : "alpaca",
            _ => throw new LlamaNasException(DiagnosticCodes.TrainingDataUnknownFormat, $"unknown data format '{format}'; use alpaca, text or auto."),
        };
    }

    /// <summary>
    /// Checks the settings and the output folder before any model or data is read: LNAS0720 (bad numbers), LNAS0724
    /// (unknown strategy), LNAS0704 (unknown format), LNAS0700 (no data file), LNAS0111 (another run holds the folder),
    /// LNAS0725 (the folder holds a run and <see cref="FineTuneSettings.Resume"/> is off).
    /// </summary>
    public static void Validate(FineTuneSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Trainer.Validate();
        TrainingStrategy.Validate(settings.Strategy);
        ResolveFormat(settings.Format, settings.DataFile);
        if (settings.SequenceLength < 1 || settings.CalibrationBatches < 1)
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingInvalidOptions, "the sequence length and the calibration batch count must be ≥ 1.");
        }

        if (settings.Lora is { IsValid: false })
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingInvalidOptions, "LoRA needs rank ≥ 1, alpha > 0 and dropout in [0, 1).");
        }

        if (!File.Exists(settings.DataFile))
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingDataNotFound, "training data file not found.", new DiagnosticLocation(settings.DataFile));
        }

        OutputLock.ThrowIfHeld(settings.Output);
        var previous = new[] { Path.Combine(CheckpointFolder, "latest"), LogFile, SupernetFile }.Select(f => Path.Combine(settings.Output, f)).FirstOrDefault(File.Exists);
        if (!settings.Resume && previous is not null)
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingOutputHasRun, "the output folder already holds a fine-tuning run; continue it with --resume (same settings) or choose another --output.", new DiagnosticLocation(previous));
        }
    }

    /// <summary>
    /// Runs with the output folder locked (<see cref="OutputLock"/>, LNAS0111 for a second process), after removing
    /// what a killed or failed earlier run left half-written there.
    /// </summary>
    public static FineTuneResult Run(FineTuneSettings settings, IFineTuneObserver? observer = null, CancellationToken cancel = default)
    {
        Validate(settings);
        var output = Path.GetFullPath(settings.Output);
        var checkpoints = Path.Combine(output, CheckpointFolder);
        using var outputLock = OutputLock.Acquire(output, $"llamanas finetune {settings.BaseModel} --output {settings.Output}");
        var swept = Trainer.SweepStaleCheckpoints(checkpoints) + AtomicFile.SweepTemporaries(output) + AtomicFile.SweepTemporaries(checkpoints);
        if (swept > 0)
        {
            observer?.Info($"removed {swept} unfinished temporary file(s) of an earlier run");
        }

        string modelFingerprint;
        SearchSpace space;
        using (var checkpoint = LlamaCheckpoint.Open(settings.BaseModel))
        {
            space = SearchSpace.Create(checkpoint.Config, settings.Space ?? SearchSpaceSpec.LlamaNas(checkpoint.Config), "--depths/--mlp/--heads/--hidden");
            modelFingerprint = FileFingerprint.Of([Path.Combine(checkpoint.Directory, CheckpointFiles.Config), .. checkpoint.WeightFiles]);
        }

        var format = ResolveFormat(settings.Format, settings.DataFile);
        var dataFingerprint = FileFingerprint.Of(settings.DataFile);
        var tokenizer = TokenizerLoader.LoadForModel(settings.BaseModel);
        var blocks = Tokenize(settings.DataFile, format, tokenizer, settings.SequenceLength);
        observer?.Info($"data: {blocks.Count} rows of {settings.SequenceLength} tokens ({format}) from {settings.DataFile}");

        using var model = LlamaForCausalLM.Load(settings.BaseModel, settings.Dtype);
        ImportanceScores? importance = null;
        if (settings.Permute)
        {
            var sampler = new BatchSampler(blocks, settings.Trainer.BatchSize, settings.Trainer.Seed ^ CalibrationStream);
            importance = ImportancePermutation.Permute(model, Enumerable.Range(0, settings.CalibrationBatches).Select(_ => sampler.Next()));
            observer?.Info(string.Create(CultureInfo.InvariantCulture, $"permuted MLP neurons and KV groups by importance over {importance.Tokens} calibration tokens"));
            observer?.Info("block importance (cosine distance input→output; reported, not reordered): "
                + string.Join(", ", importance.Blocks.Select((b, i) => string.Create(CultureInfo.InvariantCulture, $"{i}: {b:F4}"))));
        }

        // grid-params reads the weights now: build the schedule before a resume replaces them.
        var schedule = TrainingStrategy.Create(settings.Strategy, space, model);
        if (settings.Lora is { } lora)
        {
            model.AttachLora(lora, settings.Trainer.Seed);
            observer?.Info($"{lora}: {model.LoraAdapters.Sum(a => a.A.numel() + a.B.numel()):N0} adapter parameters on {model.LoraAdapters.Count} weights; base weights frozen");
        }

        var distill = settings.Trainer.Distillation;
        using var teacher = distill.Teacher is null ? null : LoadTeacher(distill, model, settings.Dtype, observer);
        var teacherFingerprint = distill.Teacher is null ? string.Empty : "; teacher=" + TeacherFingerprint(distill.Teacher);
        var identity = string.Create(CultureInfo.InvariantCulture, $"model={modelFingerprint}; data={dataFingerprint}; format={format}; seq={settings.SequenceLength}; permute={(settings.Permute ? settings.CalibrationBatches : 0)}; distill={distill}{teacherFingerprint}");
        using var trainer = new Trainer(model, blocks, schedule, settings.Trainer with { RunIdentity = identity }, teacher);
        var resumedFrom = settings.Resume && trainer.TryResume(checkpoints) ? trainer.Step : 0;
        observer?.Info(resumedFrom > 0 ? $"resumed at step {resumedFrom} from {checkpoints}" : $"strategy: {schedule.Description}");

        using (var log = TrainingLog.Open(Path.Combine(output, LogFile), resumedFrom))
        {
            var seconds = 0.0;
            var progress = new Progress(r =>
            {
                log.Write(r);
                seconds += r.Seconds;
                var mean = seconds / (r.Step - resumedFrom);
                observer?.StepCompleted(r, settings.Trainer.Steps, TimeSpan.FromSeconds(mean * (settings.Trainer.Steps - r.Step)));
            });
            try
            {
                trainer.Run(checkpoints, progress, cancel);
            }
            catch (OperationCanceledException)
            {
                trainer.SaveCheckpoint(checkpoints);
                observer?.Info($"interrupted after step {trainer.Step}; saved a checkpoint: rerun with --resume to continue.");
                throw;
            }
        }

        trainer.SaveCheckpoint(checkpoints);
        if (model.Lora is not null)
        {
            model.MergeLora();
        }

        var grid = (schedule as GridParamsSchedule)?.Bins;
        Export(output, model, settings, space, schedule, new JsonObject
        {
            ["base_model"] = new JsonObject { ["path"] = Path.GetFullPath(settings.BaseModel), ["fingerprint"] = modelFingerprint },
            ["data"] = new JsonObject { ["path"] = Path.GetFullPath(settings.DataFile), ["format"] = format, ["fingerprint"] = dataFingerprint, ["rows"] = blocks.Count },
            ["lora"] = settings.Lora is not { } l ? null : new JsonObject { ["rank"] = l.Rank, ["alpha"] = l.Alpha, ["dropout"] = l.Dropout, ["merged"] = true },
            ["distillation"] = !distill.Enabled ? null : new JsonObject
            {
                ["mode"] = distill.InPlace ? "inplace" : "teacher",
                ["teacher"] = distill.Teacher is null ? null : new JsonObject { ["path"] = Path.GetFullPath(distill.Teacher), ["fingerprint"] = TeacherFingerprint(distill.Teacher) },
                ["temperature"] = distill.Temperature,
                ["alpha"] = distill.Alpha,
            },
            ["importance"] = importance is null ? null : new JsonObject
            {
                ["calibration_batches"] = settings.CalibrationBatches,
                ["tokens"] = importance.Tokens,
                ["block_scores"] = new JsonArray([.. importance.Blocks.Select(b => (JsonNode)b)]),
            },
            ["grid"] = grid is null ? null : new JsonArray([.. grid.Select(b => (JsonNode)new JsonObject
            {
                ["low"] = b.Low,
                ["high"] = b.High,
                ["candidates"] = b.Candidates.Count,
                ["chosen"] = b.Chosen is null ? null : ArchitectureSubnetwork.Describe(b.Chosen, model.FullArchitecture),
                ["parameters"] = b.Parameters,
                ["magnitude"] = b.Magnitude,
            })]),
        });
        observer?.Info($"wrote the super-network to {output}");
        return new FineTuneResult(output, resumedFrom, importance, grid);
    }

    /// <summary>
    /// The external teacher, frozen, in its dtype; LNAS0726 unless it shares the student's vocabulary (the KL compares
    /// distributions over the same tokens).
    /// </summary>
    private static LlamaForCausalLM LoadTeacher(DistillationOptions distill, LlamaForCausalLM student, ScalarType dtype, IFineTuneObserver? observer)
    {
        var teacher = LlamaForCausalLM.Load(distill.Teacher!, distill.TeacherDtype ?? dtype);
        if (teacher.Config.VocabSize != student.Config.VocabSize)
        {
            teacher.Dispose();
            throw new LlamaNasException(DiagnosticCodes.TrainingTeacherMismatch, $"the teacher's vocabulary has {teacher.Config.VocabSize} tokens, the model's {student.Config.VocabSize}; a teacher must share the model's tokenizer.", new DiagnosticLocation(distill.Teacher!));
        }

        observer?.Info($"teacher: {distill.Teacher} ({LlamaNas.Core.Models.LlamaConfig.FormatCount(teacher.ParameterCount())} parameters, {ComputeDtype.Name(teacher.Dtype)}), frozen; {distill}");
        return teacher;
    }

    private static string TeacherFingerprint(string folder)
    {
        using var checkpoint = LlamaCheckpoint.Open(folder);
        return FileFingerprint.Of([Path.Combine(checkpoint.Directory, CheckpointFiles.Config), .. checkpoint.WeightFiles]);
    }

    private static TokenBlocks Tokenize(string path, string format, ITextTokenizer tokenizer, int sequenceLength)
    {
        if (format == "text")
        {
            return TokenBlocks.Pack(TextCorpus.Load(path).Select(d => TextCorpus.Tokenize(d, tokenizer)), sequenceLength);
        }

        var pad = tokenizer.EosId ?? 0;
        return TokenBlocks.Pad(InstructionData.Load(path).Select(r => InstructionData.Tokenize(r, tokenizer)), sequenceLength, pad);
    }

    /// <summary>
    /// Writes the super-network as a model directory that every verb loads: model.safetensors, config.json, the base
    /// model's tokenizer files, and supernet.json last (its presence marks a complete export).
    /// </summary>
    private static void Export(string output, LlamaForCausalLM model, FineTuneSettings settings, SearchSpace space, ISubnetworkSchedule schedule, JsonObject provenance)
    {
        SafetensorsWriter.Write(Path.Combine(output, CheckpointFiles.SingleFile), model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)), new Dictionary<string, string> { ["format"] = "pt" });
        var config = model.Config with { TorchDtype = model.Dtype switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", _ => "float32" } };
        AtomicFile.WriteAllText(Path.Combine(output, CheckpointFiles.Config), config.ToJson().ToJsonString(Json.Indented) + "\n");
        foreach (var name in TokenizerLoader.CompanionFiles)
        {
            var source = Path.Combine(settings.BaseModel, name);
            if (File.Exists(source))
            {
                AtomicFile.Write(Path.Combine(output, name), s =>
                {
                    using var input = File.OpenRead(source);
                    input.CopyTo(s);
                });
            }
        }

        var o = settings.Trainer;
        var supernet = new JsonObject
        {
            ["format"] = 1,
            ["engine"] = EngineVersion,
            ["strategy"] = settings.Strategy.Name,
            ["schedule"] = schedule.Description,
            ["space"] = new JsonObject
            {
                ["depths"] = Ints(space.Spec.Depths),
                ["mlp"] = Ints(space.Spec.IntermediateSizes),
                ["heads"] = Ints(space.Spec.AttentionHeads),
                ["hidden"] = Ints(space.Spec.HiddenSizes),
                ["signature"] = space.Signature(),
            },
            ["steps"] = o.Steps,
            ["seed"] = o.Seed,
            ["training"] = new JsonObject
            {
                ["batch_size"] = o.BatchSize,
                ["seq_len"] = settings.SequenceLength,
                ["grad_accum"] = o.GradientAccumulation,
                ["lr"] = o.LearningRate,
                ["min_lr"] = o.MinLearningRate,
                ["warmup"] = o.WarmupSteps,
                ["weight_decay"] = o.WeightDecay,
                ["clip"] = o.MaxGradNorm,
                ["dtype"] = ComputeDtype.Name(settings.Dtype),
                ["permute"] = settings.Permute,
            },
        };
        foreach (var (key, value) in provenance)
        {
            supernet[key] = value?.DeepClone();
        }

        AtomicFile.WriteAllText(Path.Combine(output, SupernetFile), supernet.ToJsonString(Json.Indented) + "\n");
    }

    private static JsonArray? Ints(IReadOnlyList<int>? values) => values is null ? null : new JsonArray([.. values.Select(v => (JsonNode)v)]);

    private static class Json
    {
        public static readonly System.Text.Json.JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    }

    /// <summary>Reports synchronously on the training thread (<see cref="Progress{T}"/> would post to the thread pool).</summary>
    private sealed class Progress(Action<StepReport> report) : IProgress<StepReport>
    {
        public void Report(StepReport value) => report(value);
    }
}
