using LlamaNas.TestSupport;

namespace LlamaNas.Tool.Tests;

public class BenchCommandTests
{
    [Fact]
    public async Task The_evaluation_benchmark_times_each_context_sharing_threshold()
    {
        var (rc, output, error) = await CliRunner.Run(
            "bench", "evaluate", "--config", SharedData.Stories260K, "--task", "truthfulqa_mc1", "--data-dir", SharedData.Path("data"),
            "--limit", "3", "--dtype", "fp32", "--share-contexts", "0,256");

        Assert.True(rc == 0, error);
        Assert.Contains("task truthfulqa_mc1, 3 items", output, StringComparison.Ordinal);
        Assert.Matches(@"\| fp32 \| never \| 0 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|", output);
        Assert.Matches(@"\| fp32 \| 256 \| 3 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|", output);
    }
}
