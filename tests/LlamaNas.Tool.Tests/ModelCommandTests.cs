using LlamaNas.TestSupport;
using static LlamaNas.Tool.Tests.CliRunner;

namespace LlamaNas.Tool.Tests;

public class ModelCommandTests
{
    private static string Stories => SharedData.Stories260K;

    [Fact]
    public async Task Generate_prints_the_reference_story_greedily()
    {
        var (rc, output, error) = await CliRunner.Run("generate", Stories, "--max-new-tokens", "60", "--temperature", "0");
        Assert.True(rc == 0, error);
        Assert.Equal("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high", output.TrimEnd('\n'));
    }

    [Fact]
    public async Task Generate_with_sampling_is_reproducible_for_a_seed()
    {
        var a = await CliRunner.Run("generate", Stories, "--prompt", "Once upon a time", "--max-new-tokens", "30", "--temperature", "0.9", "--top-p", "0.9", "--seed", "42");
        var b = await CliRunner.Run("generate", Stories, "--prompt", "Once upon a time", "--max-new-tokens", "30", "--temperature", "0.9", "--top-p", "0.9", "--seed", "42");
        Assert.Equal(0, a.Code);
        Assert.Equal(a.Out, b.Out);
        Assert.StartsWith("Once upon a time", a.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Inspect_shows_architecture_parameters_and_tensors()
    {
        var (rc, output, error) = await CliRunner.Run("inspect", Stories);
        Assert.True(rc == 0, error);
        Assert.Contains("5 layers, hidden 64, 8 heads / 4 KV heads × 8, MLP 172, vocab 512, tied embeddings", output, StringComparison.Ordinal);
        Assert.Contains("parameters    260,032", output, StringComparison.Ordinal);
        Assert.Matches(@"model\.layers\.4\.mlp\.down_proj\.weight +F32 +\[64, 172\] +11,008", output);
    }

    [Fact]
    public async Task A_verb_takes_a_hub_id_and_reports_a_gated_model_with_a_code()
    {
        using var hub = new FakeHub();
        using var cache = new TempDir();

        // Verbs read HF_ENDPOINT and HF_HUB_CACHE as huggingface_hub does; no other test here names a hub model.
        var saved = new[] { "HF_ENDPOINT", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_TOKEN", "HF_TOKEN_PATH" }.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", hub.Endpoint);
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", cache.Path);
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", null);
            Environment.SetEnvironmentVariable("HF_TOKEN", null);
            Environment.SetEnvironmentVariable("HF_TOKEN_PATH", cache.File("no-token"));
            var (rc, output, error) = await CliRunner.Run("inspect", FakeHub.Repo);
            Assert.True(rc == 0, error);
            Assert.Contains("parameters    260,032", output, StringComparison.Ordinal);

            hub.RequiredToken = "hf_secret";
            var gated = await CliRunner.Run("inspect", FakeHub.Repo + "@v2");
            Assert.Equal(1, gated.Code);
            Assert.Contains($"error {Core.Diagnostics.DiagnosticCodes.HubUnauthorized}:", gated.Err, StringComparison.Ordinal);
            Assert.Contains("HF_TOKEN", gated.Err, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }

    [Fact]
    public async Task Bad_model_paths_and_arguments_are_coded_errors_on_stderr()
    {
        var missing = await CliRunner.Run("generate", "/nonexistent-model-dir");
        Assert.Equal(1, missing.Code);
        Assert.Contains("error LNAS0", missing.Err, StringComparison.Ordinal);

        var badArgs = await CliRunner.Run("generate", Stories, "--temperature", "-1");
        Assert.Equal(1, badArgs.Code);
        Assert.Contains("error LNAS0100", badArgs.Err, StringComparison.Ordinal);
    }
}
