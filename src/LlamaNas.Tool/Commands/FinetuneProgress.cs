using System.Globalization;
using LlamaNas.Engine.Training;
using Spectre.Console;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// In a terminal, fine-tuning shows a live progress bar (step, loss, learning rate, tokens/s, ETA) under the
/// periodic step lines; redirected output gets the lines only, so logs and tests stay plain text.
/// </summary>
internal static class FinetuneProgress
{
    public static bool IsInteractive(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public static void Run(IAnsiConsole console, int steps, Action<IFineTuneObserver> train, int every)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(train);
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask("starting", maxValue: steps);
                train(new Live(task, new StepLines(line => console.WriteLine(line), every)));
            });
    }

    /// <summary>The bar's text after a step.</summary>
    public static string Status(StepReport report, long totalSteps, TimeSpan remaining)
    {
        ArgumentNullException.ThrowIfNull(report);
        return string.Create(CultureInfo.InvariantCulture, $"step {report.Step}/{totalSteps}  loss {report.Loss:F4}  lr {report.LearningRate:0.00e+00}  {report.TokensPerSecond:F0} tok/s  ETA {remaining:hh\\:mm\\:ss}");
    }

    /// <summary>Moves the bar and keeps writing the step lines above it.</summary>
    internal sealed class Live(ProgressTask task, IFineTuneObserver lines) : IFineTuneObserver
    {
        public ProgressTask Task => task;

        public void Info(string message) => lines.Info(message);

        public void StepCompleted(StepReport report, long totalSteps, TimeSpan remaining)
        {
            lines.StepCompleted(report, totalSteps, remaining);
            task.MaxValue = totalSteps;
            task.Value = report.Step;
            task.Description = Markup.Escape(Status(report, totalSteps, remaining));
        }
    }
}
