using LlamaNas.Engine.Training;
using LlamaNas.Tool.Commands;
using Spectre.Console;

namespace LlamaNas.Tool.Tests;

public class FinetuneProgressTests
{
    private static StepReport Report(long step) =>
        new(step, Loss: 2.0 / step, LearningRate: 1e-4, GradNorm: 0.5, Tokens: 1024, Seconds: 0.5, Subnetworks: ["full"], Losses: [2.0 / step]);

    [Fact]
    public void The_live_bar_follows_the_steps_and_the_step_lines_keep_coming()
    {
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, Interactive = InteractionSupport.Yes, Out = new AnsiConsoleOutput(writer) });
        console.Profile.Width = 200; // the step lines are long; a narrow console would wrap them
        ProgressTask? bar = null;

        FinetuneProgress.Run(console, 10, observer =>
        {
            observer.Info("data: 4 rows");
            for (var step = 1; step <= 8; step++)
            {
                observer.StepCompleted(Report(step), 8, TimeSpan.FromSeconds(8 - step));
                bar ??= ((FinetuneProgress.Live)observer).Task;
            }
        }, every: 4);

        Assert.NotNull(bar);
        Assert.Equal(8, bar.MaxValue);
        Assert.Equal(8, bar.Value);
        Assert.Equal("step 8/8  loss 0.2500  lr 1.00e-04  2048 tok/s  ETA 00:00:00", bar.Description);
        var text = writer.ToString();
        Assert.Contains("data: 4 rows", text, StringComparison.Ordinal);
        Assert.Contains("step 4/8  loss 0.5000  lr 1.00E-004  grad 0.500  2048 tok/s  ETA 00:00:04  [full]", text, StringComparison.Ordinal);
        Assert.Contains("step 8/8  loss 0.2500", text, StringComparison.Ordinal);
        Assert.DoesNotContain("step 3/8", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Redirected_output_gets_plain_lines()
    {
        using var writer = new StringWriter();
        Assert.False(FinetuneProgress.IsInteractive(writer));
    }
}
