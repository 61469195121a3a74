using System.Globalization;

namespace LlamaNas.Engine.Training;

/// <summary>One line per note, and one per N steps: loss, learning rate, gradient norm, throughput and time left.</summary>
public sealed class StepLines(Action<string> write, int every) : IFineTuneObserver
{
    public void Info(string message) => write(message);

    public void StepCompleted(StepReport report, long totalSteps, TimeSpan remaining)
    {
        if (report.Step % every == 0 || report.Step == totalSteps)
        {
            write(string.Create(CultureInfo.InvariantCulture, $"step {report.Step}/{totalSteps}  loss {report.Loss:F4}  lr {report.LearningRate:E2}  grad {report.GradNorm:F3}  {report.TokensPerSecond:F0} tok/s  ETA {remaining:hh\\:mm\\:ss}  [{string.Join("; ", report.Subnetworks)}]"));
        }
    }
}
