using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlamaNas.TestSupport;
using static LlamaNas.Tool.Tests.CliRunner;

namespace LlamaNas.Tool.Tests;

public sealed class CompareCommandTests : IDisposable
{
    private static readonly string Stories = SharedData.Stories260K;
    private static readonly string Valid = SharedData.Path("data", "tinystories", "valid-head-a.txt");

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Lists_the_full_network_and_every_sliced_combination_with_evaluates_perplexity()
    {
        var json = _dir.File("table.json");
        var (rc, output, error) = await Run("compare", Stories, Stories, "--labels", "a,b", "--perplexity", Valid, "--max-chars", "3000", "--depths", "3,5", "--mlp", "86,172", "--output", json);
        Assert.True(rc == 0, error);
        var rows = output.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).Skip(1).Select(l => l.Split('|', StringSplitOptions.TrimEntries)).ToList();
        Assert.Equal(["full", "depth=3 mlp=86", "depth=3 mlp=172", "depth=5 mlp=86"], rows.Select(r => r[1]));
        Assert.Equal(["260,032", "119,616", "169,152", "177,472"], rows.Select(r => r[2]));
        Assert.All(rows, r => Assert.Equal(r[3], r[4])); // the same model in both columns
        var ppl = rows.Select(r => double.Parse(r[3], CultureInfo.InvariantCulture)).ToList();
        Assert.True(ppl.Skip(1).All(p => p > ppl[0]), output); // slicing an un-tuned model hurts

        // The full network's value is evaluate's token perplexity on the same (cut) text.
        var text = File.ReadAllText(Valid);
        var cut = _dir.Write("head.txt", text[..text.LastIndexOf("\n\n", 3000, StringComparison.Ordinal)]);
        var evaluate = await Run("evaluate", Stories, "--perplexity", cut);
        var reference = double.Parse(Regex.Match(evaluate.Out, @"token_perplexity \| (\d+\.\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Equal(reference, ppl[0], 0.0015);

        var doc = JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(["a", "b"], doc["models"]!.AsArray().Select(m => m!["label"]!.GetValue<string>()));
        Assert.Equal(4, doc["rows"]!.AsArray().Count);
        Assert.Equal(reference, doc["rows"]![0]!["token_perplexity"]![0]!.GetValue<double>(), 1e-3);
    }

    [Fact]
    public async Task Bad_requests_are_coded_errors()
    {
        var labels = await Run("compare", Stories, "--labels", "a,b", "--perplexity", Valid);
        Assert.Contains("error LNAS0100", labels.Err, StringComparison.Ordinal);
        var missing = await Run("compare", Stories, "--perplexity", _dir.File("none.txt"));
        Assert.Contains("error LNAS0100", missing.Err, StringComparison.Ordinal);
        var wide = await Run("compare", Stories, "--perplexity", Valid, "--mlp", "200");
        Assert.Contains("error LNAS0502", wide.Err, StringComparison.Ordinal);
    }
}
