using System.Globalization;
using LlamaNas.Core.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LlamaNas.Engine.Training;

/// <summary>
/// Knowledge distillation during super-network fine-tuning. In-place (BigNAS/OFA): the full network of the same step,
/// detached, teaches every sub-network. With an external teacher (typically the base model, frozen, as pruning then
/// distilling does): the teacher teaches every network, the full one included. A taught network's loss is
/// alpha · T² · KL(teacher_T ‖ student_T) + (1 − alpha) · LM, on exactly the positions the LM loss counts.
/// </summary>
public sealed record DistillationOptions
{
    /// <summary>The full network of each step teaches the step's sub-networks.</summary>
    public bool InPlace { get; init; }

    /// <summary>A frozen teacher model folder; null: none (in-place or no distillation).</summary>
    public string? Teacher { get; init; }

    /// <summary>The teacher's compute dtype (null: the training dtype); bf16 halves its memory and time.</summary>
    public ScalarType? TeacherDtype { get; init; }

    /// <summary>Softmax temperature of both distributions (the KL is scaled by T² so its gradients keep their size).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Weight of the KL term; the LM loss gets 1 − alpha.</summary>
    public double Alpha { get; init; } = 1.0;

    public bool Enabled => InPlace || Teacher is not null;

    /// <summary>LNAS0720 unless the settings can run.</summary>
    public void Validate()
    {
        if (InPlace && Teacher is not null)
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingInvalidOptions, "in-place distillation and an external teacher exclude each other; choose --distill inplace or --teacher <model>.");
        }

        if (!(Temperature > 0) || !(Alpha is >= 0 and <= 1))
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingInvalidOptions, "the distillation temperature must be > 0 and alpha in [0, 1].");
        }
    }

    /// <summary>The settings as the run's identity records them (a resume with other settings is refused).</summary>
    public override string ToString() => !Enabled
        ? "none"
        : string.Create(CultureInfo.InvariantCulture, $"{(InPlace ? "inplace" : "teacher")}(T={Temperature:R}; alpha={Alpha:R}{(TeacherDtype is { } d ? "; teacher_dtype=" + d : string.Empty)})");
}

/// <summary>The distillation loss.</summary>
public static class Distillation
{
    /// <summary>
    /// T² · KL(softmax(teacher / T) ‖ softmax(student / T)), summed over the vocabulary and averaged over the
    /// positions: logits [N, V] (fp32), teacher without gradient.
    /// </summary>
    public static Tensor KlLoss(Tensor student, Tensor teacher, double temperature)
    {
        ArgumentNullException.ThrowIfNull(student);
        ArgumentNullException.ThrowIfNull(teacher);
        using var scope = NewDisposeScope();

        // Scalars made and disposed here, not on the GC's finalizer thread (see RmsNorm).
        using var t = temperature.ToScalar();
        using var t2 = (temperature * temperature).ToScalar();
        var logStudent = F.log_softmax(student.div(t), -1);
        var logTeacher = F.log_softmax(teacher.detach().div(t), -1);
        var kl = logTeacher.exp().mul(logTeacher.sub(logStudent)).sum(-1).mean();
        return kl.mul(t2).MoveToOuterDisposeScope();
    }
}
