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

    [Fact]
    public async Task The_prefill_benchmark_times_float_and_both_int8_forms()
    {
        var (rc, output, error) = await CliRunner.Run(
            "bench", "prefill", "--config", SharedData.Stories260K, "--seq", "32", "--reps", "1", "--warmup", "0", "--dtype", "fp32", "--int8", "none,dequantized,on-the-fly");
        Assert.True(rc == 0, error);
        Assert.Matches(@"\| fp32 \| float \| [\d.]+ \| [\d.]+ \| \d+ \|", output);
        Assert.Matches(@"\| fp32 \| int8, dequantized once \| [\d.]+ \| [\d.]+ \| \d+ \|", output);
        Assert.Matches(@"\| fp32 \| int8, on the fly \| [\d.]+ \| [\d.]+ \| \d+ \|", output);
    }

    [Fact]
    public async Task The_decode_benchmark_writes_the_timed_random_models_as_gguf()
    {
        var folder = Directory.CreateTempSubdirectory("llamanas-bench-gguf-").FullName;
        try
        {
            var (rc, output, error) = await CliRunner.Run(
                "bench", "decode", "--config", SharedData.Stories260K, "--seq", "8", "--reps", "1", "--warmup", "0", "--dtype", "fp32,bf16", "--gguf", folder);
            Assert.True(rc == 0, error);
            Assert.Matches(@"\| bf16 \| float \| [\d.]+ \| [\d.]+ \| \d+ \|", output);
            foreach (var dtype in new[] { "fp32", "bf16" })
            {
                var gguf = Engine.Export.GgufFile.Open(Path.Combine(folder, $"random-{dtype}.gguf"));
                Assert.NotEmpty(gguf.Tensors);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task The_training_benchmark_times_each_distillation_mode()
    {
        var (rc, output, error) = await CliRunner.Run(
            "bench", "train", "--config", SharedData.Stories260K, "--seq", "32", "--batch", "2", "--steps", "1", "--warmup", "0", "--dtype", "fp32", "--strategy", "sandwich", "--distill", "none,inplace,teacher");
        Assert.True(rc == 0, error);
        foreach (var mode in new[] { "none", "inplace", "teacher" })
        {
            Assert.Matches($@"\| fp32 \| sandwich \| {mode} \| [\d.]+ \| \d+ \| \d+\.\d\d \| – \| – \| – \|", output);
        }
    }
}
