using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Training.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlamaNas.Engine.Training;

/// <summary>Settings of a fine-tuning run; all of them are part of the run's identity checked on resume.</summary>
public sealed record TrainerOptions
{
    public int Steps { get; init; } = 100;

    public int BatchSize { get; init; } = 8;

    public int GradientAccumulation { get; init; } = 1;

    public double LearningRate { get; init; } = 1e-3;

    public int WarmupSteps { get; init; } = 10;

    public double MinLearningRate { get; init; }

    public double WeightDecay { get; init; }

    /// <summary>Global gradient-norm clip; 0 disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    public ulong Seed { get; init; }

    /// <summary>Save a resumable checkpoint every N optimizer steps (0: only at the end).</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>A one-line identity of what else determines the run (strategy, search space, data), for resume checks.</summary>
    public string RunIdentity { get; init; } = string.Empty;

    /// <summary>Knowledge distillation (in-place, or from the teacher passed to the trainer); none by default.</summary>
    public DistillationOptions Distillation { get; init; } = new();

    /// <summary>LNAS0720 unless the settings can run.</summary>
    public void Validate()
    {
        Distillation.Validate();
        if (Steps < 1 || BatchSize < 1 || GradientAccumulation < 1 || !(LearningRate > 0) || WarmupSteps < 0 || MinLearningRate < 0 || WeightDecay < 0 || MaxGradNorm < 0 || CheckpointEvery < 0)
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingInvalidOptions, "steps, batch size and gradient accumulation must be ≥ 1, the learning rate > 0, warm-up, minimum learning rate, weight decay, clip norm and checkpoint interval ≥ 0.");
        }
    }
}

/// <summary>
/// What one optimizer step did. <see cref="Losses"/> holds each network's mean loss over the step's micro-batches, in
/// the order of <see cref="Subnetworks"/>; <see cref="Loss"/> is the first network's.
/// </summary>
public sealed record StepReport(long Step, double Loss, double LearningRate, double GradNorm, long Tokens, double Seconds, IReadOnlyList<string> Subnetworks, IReadOnlyList<double> Losses)
{
    public double TokensPerSecond => Tokens / Math.Max(Seconds, 1e-9);
}

/// <summary>
/// The fine-tuning loop: per step, each sub-network the strategy names runs forward and backward on the same
/// micro-batches (gradients accumulate), then clipping and one AdamW update. Everything random in a step is a
/// function of (seed, step), so a checkpoint needs only weights, optimizer state, step and data position, and a
/// resumed run continues exactly as an uninterrupted one.
/// </summary>
public sealed class Trainer : IDisposable
{
    private const string StateFile = "trainer_state.json";
    private const string LatestFile = "latest";
    private readonly LlamaForCausalLM _model;
    private readonly TokenBlocks _data;
    private readonly ISubnetworkSchedule _schedule;
    private readonly TrainerOptions _options;
    private readonly AdamW _optimizer;
    private readonly LearningRateSchedule _lr;
    private readonly LlamaForCausalLM? _teacher;
    private BatchSampler _sampler;

    /// <param name="teacher">The frozen external teacher of <see cref="TrainerOptions.Distillation"/> (never trained; it gets no gradient).</param>
    public Trainer(LlamaForCausalLM model, TokenBlocks data, ISubnetworkSchedule schedule, TrainerOptions options, LlamaForCausalLM? teacher = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        if (data.Count == 0)
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingDataEmpty, $"the training data yields no row of {data.SequenceLength + 1} tokens; use more data or a shorter sequence length.");
        }

        if ((teacher is null) != (options.Distillation.Teacher is null))
        {
            throw new ArgumentException("pass the teacher model exactly when the distillation options name one", nameof(teacher));
        }

        _teacher = teacher;
        _teacher?.eval();
        foreach (var p in _teacher?.parameters() ?? [])
        {
            p.requires_grad = false;
        }

        _model = model;
        _data = data;
        _schedule = schedule;
        _options = options;
        _optimizer = new AdamW(model.TrainableParameters(), new AdamWOptions { WeightDecay = options.WeightDecay });
        _lr = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLearningRate);
        _sampler = new BatchSampler(data, options.BatchSize, options.Seed);
    }

    /// <summary>Optimizer steps completed.</summary>
    public long Step { get; private set; }

    public DataPosition DataPosition => _sampler.Position;

    /// <summary>Runs until <see cref="TrainerOptions.Steps"/>, checkpointing into <paramref name="checkpointDirectory"/> when given.</summary>
    public void Run(string? checkpointDirectory = null, IProgress<StepReport>? progress = null, CancellationToken cancel = default)
    {
        while (Step < _options.Steps)
        {
            cancel.ThrowIfCancellationRequested();
            var report = TrainStep();
            progress?.Report(report);
            if (checkpointDirectory is not null && _options.CheckpointEvery > 0 && Step % _options.CheckpointEvery == 0 && Step < _options.Steps)
            {
                SaveCheckpoint(checkpointDirectory);
            }
        }
    }

    /// <summary>One optimizer step.</summary>
    public StepReport TrainStep()
    {
        var sw = Stopwatch.StartNew();
        var subnetworks = _schedule.ForStep(Step);
        _model.train();
        _optimizer.ZeroGrad();
        var losses = new double[subnetworks.Count];
        long tokens = 0;
        _model.BeginLoraStep(_options.Seed, Step);
        try
        {
            for (var micro = 0; micro < _options.GradientAccumulation; micro++)
            {
                var batch = _sampler.Next();
                tokens += batch.Rows * (batch.Length - 1);

                // The teacher's logits at the target positions, for this micro-batch's taught networks.
                using var teacherScope = NewDisposeScope();
                var teacher = TeacherLogits(batch, subnetworks[0]);
                for (var s = 0; s < subnetworks.Count; s++)
                {
                    subnetworks[s].Activate(_model);
                    using var scope = NewDisposeScope();
                    var (logits, targets) = TargetLogits(_model, batch);
                    var lm = F.cross_entropy(logits, targets);
                    var taught = teacher is not null && (_teacher is not null || !IsFull());
                    var loss = taught ? Taught(logits, teacher!, lm) : lm;
                    using (var accumulation = ((double)_options.GradientAccumulation).ToScalar())
                    {
                        loss.div(accumulation).backward();
                    }

                    losses[s] += lm.item<float>() / _options.GradientAccumulation;
                    if (teacher is null && _options.Distillation.InPlace && s == 0 && IsFull())
                    {
                        // In-place: the full network, run first, teaches the rest of the step.
                        teacher = logits.detach().MoveToOuterDisposeScope();
                    }
                }
            }
        }
        finally
        {
            _model.EndLoraStep();
            _schedule.Restore(_model);
        }

        foreach (var bad in losses.Where(l => !double.IsFinite(l)))
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingDiverged, $"the loss became {bad} at step {Step}; lower the learning rate or enable clipping.");
        }

        var norm = _options.MaxGradNorm > 0
            ? nn.utils.clip_grad_norm_(_model.TrainableParameters().Select(p => p.Parameter), _options.MaxGradNorm)
            : double.NaN;
        var lr = _lr.At(Step);
        _optimizer.Step(lr);
        _optimizer.ZeroGrad();
        Step++;
        return new StepReport(Step, losses[0], lr, norm, tokens, sw.Elapsed.TotalSeconds, [.. subnetworks.Select(s => s.Description)], losses);
    }

    /// <summary>Mean cross-entropy over the batch's target tokens; inputs are tokens[:, :-1], targets tokens[:, 1:].</summary>
    public static Tensor Loss(LlamaForCausalLM model, TokenBatch batch)
    {
        using var scope = NewDisposeScope();
        var (logits, targets) = TargetLogits(model, batch);
        return F.cross_entropy(logits, targets).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The active network's fp32 logits at the positions the LM loss counts, [N, vocab], and their targets [N]:
    /// inputs tokens[:, :-1], targets tokens[:, 1:] where marked as targets. Only these rows are kept, which is all
    /// a distillation loss needs of the teacher too.
    /// </summary>
    public static (Tensor Logits, Tensor Targets) TargetLogits(LlamaForCausalLM model, TokenBatch batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        var device = model.Model.EmbedTokens.Weight.device;
        var tokens = tensor(batch.Tokens, [batch.Rows, batch.Length], device: device);
        var positions = Enumerable.Range(0, batch.Rows).SelectMany(r => Enumerable.Range(1, batch.Length - 1).Select(t => (r * batch.Length) + t)).Where(i => batch.IsTarget[i]).ToArray();
        var rows = tensor(positions.Select(i => (long)((i / batch.Length * (batch.Length - 1)) + (i % batch.Length) - 1)).ToArray(), device: device);
        var targets = tensor(positions.Select(i => batch.Tokens[i]).ToArray(), device: device);
        var logits = model.Forward(tokens.narrow(1, 0, batch.Length - 1));
        var selected = logits.reshape(-1, logits.shape[^1]).index_select(0, rows);
        return (selected.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>The external teacher's logits at the target positions (no gradient), or null without one.</summary>
    private Tensor? TeacherLogits(TokenBatch batch, ITrainingSubnetwork first)
    {
        if (_teacher is not null)
        {
            using var noGrad = no_grad();
            return TargetLogits(_teacher, batch).Logits;
        }

        // In-place with a step that does not start with the full network (e.g. InstaTune's sampled steps): run the
        // full network once more, without gradient, to teach the step's sub-networks.
        if (!_options.Distillation.InPlace)
        {
            return null;
        }

        first.Activate(_model);
        if (IsFull())
        {
            return null; // the step's own first network will teach
        }

        using var noGradFull = no_grad();
        _model.ActivateFull();
        return TargetLogits(_model, batch).Logits;
    }

    private bool IsFull() => _model.ActiveArchitecture.Equals(_model.FullArchitecture);

    /// <summary>alpha · KL + (1 − alpha) · LM for a taught network.</summary>
    private Tensor Taught(Tensor logits, Tensor teacher, Tensor lm)
    {
        using var scope = NewDisposeScope();
        var d = _options.Distillation;
        using var alpha = d.Alpha.ToScalar();
        using var rest = (1 - d.Alpha).ToScalar();
        return Distillation.KlLoss(logits, teacher, d.Temperature).mul(alpha).add(lm.mul(rest), Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Writes a resumable checkpoint: a new <c>step-NNNNNNN</c> folder is filled under a temporary name and renamed
    /// into place, then the <c>latest</c> pointer is replaced atomically; older checkpoints are removed afterwards.
    /// It holds what training changes (<see cref="LlamaForCausalLM.TrainableParameters"/>: every weight, or only the
    /// LoRA adapters over frozen base weights), the optimizer state, the step and the data position.
    /// </summary>
    public void SaveCheckpoint(string directory)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"step-{Step:D7}");
        var final = Path.Combine(directory, name);
        var temp = final + TempMarker + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        try
        {
            WriteCheckpoint(directory, name, final, temp);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or LlamaNasException)
        {
            // A full disk must not leave a half checkpoint behind (nor fill the disk further on every --resume).
            TryDeleteFolder(temp);
            if (e is LlamaNasException)
            {
                throw;
            }

            throw new LlamaNasException(DiagnosticCodes.OutputWriteFailed, $"the checkpoint could not be written ({e.Message}). Check free space and permissions.", new DiagnosticLocation(final), e);
        }
    }

    /// <summary>
    /// Removes the temporary folders of checkpoints whose writer is gone (<c>step-N.tmp-PID</c> of a dead PID): a kill
    /// or a failed cleanup left them. Returns how many were removed.
    /// </summary>
    public static int SweepStaleCheckpoints(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return 0;
        }

        var swept = 0;
        foreach (var folder in Directory.EnumerateDirectories(directory, "step-*" + TempMarker + "*"))
        {
            var pid = Path.GetFileName(folder).Split(TempMarker)[^1];
            if (int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var owner) && (owner == Environment.ProcessId || !OutputLock.IsAlive(owner)))
            {
                swept += TryDeleteFolder(folder) ? 1 : 0;
            }
        }

        return swept;
    }

    private static bool TryDeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // swept at the next start
        }
    }

    private void WriteCheckpoint(string directory, string name, string final, string temp)
    {
        Directory.CreateDirectory(directory);
        if (Directory.Exists(temp))
        {
            Directory.Delete(temp, recursive: true);
        }

        Directory.CreateDirectory(temp);
        SafetensorsWriter.Write(Path.Combine(temp, "model.safetensors"), _model.TrainableParameters().Select(p => new KeyValuePair<string, Tensor>(p.Name, p.Parameter)));
        SafetensorsWriter.Write(Path.Combine(temp, "optimizer.safetensors"), _optimizer.StateTensors.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        var state = new JsonObject
        {
            ["step"] = Step,
            ["optimizer_steps"] = _optimizer.Steps,
            ["epoch"] = _sampler.Position.Epoch,
            ["index"] = _sampler.Position.Index,
            ["identity"] = Identity(),
        };
        AtomicFile.WriteAllText(Path.Combine(temp, StateFile), state.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (Directory.Exists(final))
        {
            Directory.Delete(final, recursive: true);
        }

        Directory.Move(temp, final);
        AtomicFile.WriteAllText(Path.Combine(directory, LatestFile), name + "\n");
        foreach (var old in Directory.GetDirectories(directory, "step-*").Where(d => Path.GetFileName(d) != name))
        {
            Directory.Delete(old, recursive: true);
        }
    }

    private const string TempMarker = ".tmp-";

    /// <summary>Continues from the latest checkpoint in <paramref name="directory"/>; false when there is none.</summary>
    public bool TryResume(string directory)
    {
        var pointer = Path.Combine(directory, LatestFile);
        if (!File.Exists(pointer))
        {
            return false;
        }

        var folder = Path.Combine(directory, File.ReadAllText(pointer).Trim());
        string? identity;
        long step, optimizerSteps;
        DataPosition position;
        try
        {
            var state = JsonNode.Parse(JsonText.ReadChecked(Path.Combine(folder, StateFile))) ?? throw new JsonException("the state is null");
            JsonNode Field(string name) => state[name] ?? throw new JsonException($"'{name}' is missing");
            identity = state["identity"]?.GetValue<string>();
            (step, optimizerSteps) = (Field("step").GetValue<long>(), Field("optimizer_steps").GetValue<long>());
            position = new DataPosition(Field("epoch").GetValue<int>(), Field("index").GetValue<int>());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or FormatException)
        {
            // A torn or hand-edited state file: values of the wrong type surface as the last two.
            throw new LlamaNasException(DiagnosticCodes.TrainingCheckpointInvalid, $"the training checkpoint cannot be read ({e.Message}); delete the folder to start afresh.", new DiagnosticLocation(folder), e);
        }

        if (identity != Identity())
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingResumeMismatch, "the checkpoint was written by a run with different settings (model, data, strategy or hyper-parameters); resume with the same settings or use a new output folder.", new DiagnosticLocation(folder));
        }

        using (var weights = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors")))
        using (var noGrad = no_grad())
        {
            foreach (var (name, p) in _model.TrainableParameters())
            {
                using var t = weights.Load(name, p.dtype);
                p.copy_(t);
            }
        }

        using (var opt = SafetensorsFile.Open(Path.Combine(folder, "optimizer.safetensors")))
        {
            _optimizer.Load(optimizerSteps, name => opt.TryGetTensor(name, out _) ? opt.Load(name, float32) : null);
        }

        Step = step;
        _sampler = new BatchSampler(_data, _options.BatchSize, _options.Seed, position);
        return true;
    }

    private string Identity() => string.Create(CultureInfo.InvariantCulture, $"{_options with { CheckpointEvery = 0 }}|{_data.Count}x{_data.SequenceLength}|{_model.Config.ParameterCount()}|{_model.Dtype}|{_schedule.Description}|{_model.Lora?.ToString() ?? "full weights"}");

    public void Dispose() => _optimizer.Dispose();
}
