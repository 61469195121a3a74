using System.Text.Json.Nodes;
using LlamaNas.TestSupport;
using static LlamaNas.Tool.Tests.CliRunner;

namespace LlamaNas.Tool.Tests;

public sealed class EvaluateCommandTests : IDisposable
{
    private static string Stories => SharedData.Stories260K;

    private static string Data => SharedData.Path("data");

    private readonly string _dir = Directory.CreateTempSubdirectory("llamanas-eval-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Evaluates_real_tasks_on_a_seeded_subsample_and_writes_results_and_items()
    {
        var json = Path.Combine(_dir, "results.json");
        var items = Path.Combine(_dir, "items.jsonl");
        var (rc, output, error) = await CliRunner.Run("evaluate", Stories, "--tasks", "arc_easy,winogrande", "--data-dir", Data, "--limit", "12", "--seed", "3", "--output", json, "--log-samples", items);
        Assert.True(rc == 0, error);
        Assert.Matches(@"\| arc_easy \| 0 \| acc \| 0\.\d{4} \| ± \| 0\.\d{4} \| 12 \|", output);
        Assert.Contains("| winogrande | 0 | acc |", output, StringComparison.Ordinal);

        var results = JsonNode.Parse(File.ReadAllText(json))!["results"]!;
        Assert.Equal(12, results["arc_easy"]!["items"]!.GetValue<int>());
        Assert.NotNull(results["arc_easy"]!["acc_norm"]);
        Assert.Null(results["winogrande"]!["acc_norm"]);
        Assert.Equal(24, File.ReadAllLines(items).Length);

        // Same seed, same subsample and scores; the run is deterministic.
        var again = await CliRunner.Run("evaluate", Stories, "--tasks", "arc_easy,winogrande", "--data-dir", Data, "--limit", "12", "--seed", "3");
        Assert.Equal(output, again.Out);
    }

    [Fact]
    public async Task User_tasks_and_perplexity_run_from_files()
    {
        var task = Path.Combine(_dir, "stories.jsonl");
        File.WriteAllLines(task, [
            """{"context":"Once upon a time, there was a little","choices":["girl","spaceship"],"gold":0}""",
            """{"context":"Lily went to the park to play with her","choices":["friends","taxes"],"gold":0}""",
        ]);
        var text = Path.Combine(_dir, "story.txt");
        File.WriteAllText(text, "Once upon a time, there was a little girl named Lily.\n<|endoftext|>\nTom had a big red ball. He liked to play.\n");
        var (rc, output, error) = await CliRunner.Run("evaluate", Stories, "--user-task", task, "--perplexity", text);
        Assert.True(rc == 0, error);
        Assert.Contains("| stories | 0 | acc | 1.0000 |", output, StringComparison.Ordinal);
        Assert.Matches(@"\| story\.txt \| 0 \| token_perplexity \| \d+\.\d{4} \| \| \| 2 \|", output);
    }

    [Fact]
    public async Task Llama_cpp_perplexity_reports_the_estimate_with_its_uncertainty()
    {
        var text = Path.Combine(_dir, "valid.txt");
        var all = File.ReadAllText(SharedData.Path("data", "tinystories", "valid-head-a.txt"));
        File.WriteAllText(text, all[..all.LastIndexOf("\n\n", 3000, StringComparison.Ordinal)]);
        var json = Path.Combine(_dir, "ppl.json");
        var (rc, output, error) = await CliRunner.Run("evaluate", Stories, "--perplexity", text, "--perplexity-protocol", "llama.cpp", "--ctx", "128", "--output", json);
        Assert.True(rc == 0, error);
        Assert.Matches(@"\| valid\.txt \(llama\.cpp, ctx 128\) \| 0 \| token_perplexity \| \d+\.\d{4} \| ± \| 0\.\d{5} \| \d+ \|", output);
        var doc = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(63, doc["results"]!["valid.txt"]!["scored_tokens"]!.GetValue<long>() / doc["results"]!["valid.txt"]!["chunks"]!.GetValue<long>());
        Assert.Equal("llama.cpp", doc["config"]!["perplexity_protocol"]!.GetValue<string>());
        Assert.Equal("128", doc["config"]!["ctx"]!.GetValue<string>());

        // About 1,500 tokens: fewer than 2 × 1024.
        var tooShort = await CliRunner.Run("evaluate", Stories, "--perplexity", text, "--perplexity-protocol", "llama.cpp", "--ctx", "1024");
        Assert.Equal(1, tooShort.Code);
        Assert.Contains("error LNAS0641", tooShort.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--perplexity-protocol", "llamacpp")]
    [InlineData("--ctx", "256")] // --ctx without the llama.cpp protocol would do nothing
    [InlineData("--perplexity-protocol", "llama.cpp", "--ctx", "2")]
    public async Task Bad_perplexity_options_fail_with_LNAS0640_before_the_model_loads(params string[] options)
    {
        var text = Path.Combine(_dir, "story.txt");
        File.WriteAllText(text, "Once upon a time.\n");
        var r = await CliRunner.Run(["evaluate", Stories, "--perplexity", text, .. options]);
        Assert.Equal(1, r.Code);
        Assert.Contains("error LNAS0640", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_requests_fail_with_codes_before_the_model_loads()
    {
        var none = await CliRunner.Run("evaluate", Stories);
        Assert.Equal(1, none.Code);
        Assert.Contains("LNAS0100", none.Err, StringComparison.Ordinal);

        var share = await CliRunner.Run("evaluate", Stories, "--tasks", "arc_easy", "--data-dir", Data, "--share-contexts", "-1");
        Assert.Equal(1, share.Code);
        Assert.Contains("error LNAS0100", share.Err, StringComparison.Ordinal);
        Assert.Contains("--share-contexts", share.Err, StringComparison.Ordinal);

        var unknown = await CliRunner.Run("evaluate", Stories, "--tasks", "piqa", "--data-dir", Data);
        Assert.Equal(1, unknown.Code);
        Assert.Contains("error LNAS06", unknown.Err, StringComparison.Ordinal);
    }
}
