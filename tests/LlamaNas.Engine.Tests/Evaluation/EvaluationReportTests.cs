using System.Text.Json.Nodes;
using LlamaNas.Core.Evaluation;
using LlamaNas.Engine.Evaluation;

namespace LlamaNas.Engine.Tests.Evaluation;

public sealed class EvaluationReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("llamanas-report-").FullName;

    private static readonly TaskResult Arc = new(
        "arc_easy", 0, 2, new MetricValue(0.5, 0.5), new MetricValue(1, 0), [],
        [new ItemResult("q1", null, 0, [-1.25, -3], [true, false], 0, 0), new ItemResult("q2", null, 1, [-2, -4], [false, false], 0, 1)], 0.5);

    private static readonly TaskResult Mmlu = new(
        "mmlu", 5, 1, new MetricValue(1, 0), null, [new GroupResult("anatomy", 1, new MetricValue(1, 0), null)],
        [new ItemResult("anatomy:1", "anatomy", 2, [-9, -8, -1, -7], [false, false, true, false], 2, 2)], 1);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Table_lists_acc_acc_norm_groups_and_perplexity_rows()
    {
        var table = EvaluationReport.Table([Arc, Mmlu], [new PerplexityResult("valid.txt", 2, 100, 50, 400, -200, 1)]);
        Assert.Contains("| arc_easy | 0 | acc | 0.5000 | ± | 0.5000 | 2 |", table, StringComparison.Ordinal);
        Assert.Contains("|  |  | acc_norm | 1.0000 | ± | 0.0000 | 2 |", table, StringComparison.Ordinal);
        Assert.Contains("|  - anatomy |  | acc | 1.0000 | ± | 0.0000 | 1 |", table, StringComparison.Ordinal);
        Assert.Contains($"| valid.txt | 0 | token_perplexity | {Math.Exp(2):F4} |", table, StringComparison.Ordinal);
    }

    [Fact]
    public void A_llama_cpp_perplexity_row_shows_the_estimate_with_its_uncertainty()
    {
        // 4 scored tokens with NLL 1, 1, 2, 2: mean 1.5, mean of squares 2.5, variance 0.25; e = PPL · √(0.25 / 3).
        var r = new PerplexityResult("wiki.txt", 2, 4, 0, 0, -6, 1) { Protocol = PerplexityProtocol.LlamaCpp, Context = 8, SumSquaredLogLikelihood = 10 };
        var stderr = Math.Exp(1.5) * Math.Sqrt(0.25 / 3);
        Assert.Equal(stderr, r.TokenPerplexityStdErr!.Value, 12);
        var table = EvaluationReport.Table([], [r]);
        Assert.Contains($"| wiki.txt (llama.cpp, ctx 8) | 0 | token_perplexity | {Math.Exp(1.5):F4} | ± | {stderr:F5} | 2 |", table, StringComparison.Ordinal);
        Assert.DoesNotContain("word_perplexity", table, StringComparison.Ordinal);

        var doc = EvaluationReport.Json([], [r], new Dictionary<string, string>())["results"]!["wiki.txt"]!;
        Assert.Equal("llama.cpp", doc["protocol"]!.GetValue<string>());
        Assert.Equal(8, doc["ctx"]!.GetValue<int>());
        Assert.Equal(stderr, doc["token_perplexity_stderr"]!.GetValue<double>(), 12);
        Assert.Null(new PerplexityResult("valid.txt", 2, 100, 50, 400, -200, 1).TokenPerplexityStdErr);
    }

    [Fact]
    public void Json_and_item_dump_round_trip_through_files()
    {
        var json = Path.Combine(_dir, "results.json");
        var items = Path.Combine(_dir, "items.jsonl");
        EvaluationReport.WriteJson(json, EvaluationReport.Json([Arc, Mmlu], [], new Dictionary<string, string> { ["model"] = "m", ["dtype"] = "fp32" }));
        EvaluationReport.WriteItems(items, [Arc, Mmlu]);

        var doc = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(0.5, doc["results"]!["arc_easy"]!["acc"]!.GetValue<double>());
        Assert.Equal(1.0, doc["results"]!["arc_easy"]!["acc_norm"]!.GetValue<double>());
        Assert.Null(doc["results"]!["mmlu"]!["acc_norm"]);
        Assert.Equal(1, doc["results"]!["mmlu"]!["groups"]!["anatomy"]!["items"]!.GetValue<int>());
        Assert.Equal("fp32", doc["config"]!["dtype"]!.GetValue<string>());

        var lines = File.ReadAllLines(items);
        Assert.Equal(3, lines.Length);
        var first = JsonNode.Parse(lines[0])!;
        Assert.Equal("q1", first["id"]!.GetValue<string>());
        Assert.Equal(-1.25, first["loglikelihoods"]![0]!.GetValue<double>());
        Assert.Equal(1, first["acc"]!.GetValue<int>());
    }
}
