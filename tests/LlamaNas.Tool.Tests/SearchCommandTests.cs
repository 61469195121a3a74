using System.Text.Json.Nodes;
using LlamaNas.Core.Search;
using LlamaNas.TestSupport;

namespace LlamaNas.Tool.Tests;

public sealed class SearchCommandTests : IDisposable
{
    private static string Stories => SharedData.Stories260K;

    private readonly TempDir _dir = new();

    private readonly string _text;

    public SearchCommandTests()
    {
        // A few hundred tokens of held-out TinyStories: enough to rank sub-networks, quick to tokenize and score.
        _text = _dir.Write("valid.txt", File.ReadAllText(SharedData.Path("data", "tinystories", "valid-head-a.txt"))[..2500]);
    }

    public void Dispose() => _dir.Dispose();

    private static Task<(int Code, string Out, string Err)> Run(params string[] args) => CliRunner.Run(args);

    private string[] Search(string output, params string[] more) =>
    [
        "search", Stories, "--objectives", "perplexity,size", "--perplexity-text", _text, "--perplexity-tokens", "300",
        "--evaluations", "10", "--population", "4", "--inner-generations", "20", "--seed", "7", "--output", output, .. more,
    ];

    private static readonly string[] Deterministic = ["evaluations.csv", "pareto.json", "history.csv"];

    private static void AssertSameFiles(string a, string b)
    {
        foreach (var file in Deterministic)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));
        }
    }

    [Fact]
    public async Task A_search_writes_its_files_reproducibly_and_resumes_to_the_same_result()
    {
        var first = _dir.File("first");
        var (rc, output, error) = await Run(Search(first));
        Assert.True(rc == 0, error);
        Assert.Contains("Pareto front:", output, StringComparison.Ordinal);
        Assert.Matches(@"\| \d+ \| [345] \| 64 \| [\d,]+ \| [\d,]+ \| \d+\.\d+ \| 0\.000\d+ \| [\d,]+ \|", output);
        Assert.Contains("batch 0: 4/10 evaluated", error, StringComparison.Ordinal);

        var evaluations = File.ReadAllLines(Path.Combine(first, "evaluations.csv"));
        Assert.Equal("index,batch,genes,depth,hidden,mlp,heads,kv_heads,perplexity:valid.txt,size_gb:fp32,params,size_bytes", evaluations[0]);
        Assert.Equal(11, evaluations.Length);
        var row = evaluations[1].Split(',');
        Assert.Equal(long.Parse(row[10], System.Globalization.CultureInfo.InvariantCulture) * 4, long.Parse(row[11], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(double.Parse(row[8], System.Globalization.CultureInfo.InvariantCulture) > 1, "perplexity is reported as perplexity");
        Assert.Equal(11, File.ReadAllLines(Path.Combine(first, "timings.csv")).Length);

        var history = File.ReadAllLines(Path.Combine(first, "history.csv"));
        Assert.Equal("batch,evaluations,hypervolume,reference_point,predictors", history[0]);
        Assert.Contains(",6.238324625039508 0.0011", history[1], StringComparison.Ordinal); // ln(vocab 512), 1.1 × the fp32 size
        Assert.Contains("mape=", history[2], StringComparison.Ordinal);

        var pareto = JsonNode.Parse(File.ReadAllText(Path.Combine(first, "pareto.json")))!;
        Assert.Equal(10, pareto["evaluations"]!.GetValue<int>());
        Assert.True(pareto["finished"]!.GetValue<bool>());
        Assert.Equal("ln(metric)", pareto["objectives"]![0]!["minimised_as"]!.GetValue<string>());
        var front = pareto["front"]!.AsArray();
        Assert.NotEmpty(front);
        Assert.All(front, p => Assert.Equal(p!["architecture"]!["depth"]!.GetValue<int>(), p["architecture"]!["intermediate_sizes"]!.AsArray().Count));
        var state = SearchState.Load(Path.Combine(first, "search_state.json"));
        Assert.Equal(10, state.Evaluations.Count);
        Assert.Equal("linas", state.Settings!["algorithm"]);

        // Same seed, another folder: identical deterministic files.
        var second = _dir.File("second");
        Assert.Equal(0, (await Run(Search(second))).Code);
        AssertSameFiles(first, second);

        // Stopped after two batches (as a killed run leaves it: state saved, a derived file missing), then resumed.
        var resumed = _dir.File("resumed");
        var stopped = await Run(Search(resumed, "--max-batches", "2"));
        Assert.Equal(0, stopped.Code);
        Assert.Contains("run the same command again to continue", stopped.Err, StringComparison.Ordinal);
        Assert.Equal(2, SearchState.Load(Path.Combine(resumed, "search_state.json")).Batches);
        File.Delete(Path.Combine(resumed, "pareto.json"));
        var again = await Run(Search(resumed));
        Assert.True(again.Code == 0, again.Err);
        Assert.Contains("resuming", again.Err, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"(?m)^batch [01]:", again.Err);
        AssertSameFiles(first, resumed);
        Assert.Equal(output, again.Out);

        // A finished search run again evaluates nothing and reports the same front.
        var finished = await Run(Search(first));
        Assert.Equal(output, finished.Out);
        Assert.DoesNotMatch(@"(?m)^batch \d+:", finished.Err);

        // Other settings in a folder that holds a search: coded error naming the setting, before any work.
        var mismatch = await Run(Search(first, "--algorithm", "random"));
        Assert.Equal(1, mismatch.Code);
        Assert.Contains("error LNAS0523", mismatch.Err, StringComparison.Ordinal);
        Assert.Contains("[algorithm]", mismatch.Err, StringComparison.Ordinal);
        var otherTokens = await Run([.. Search(first).Select(a => a == "300" ? "200" : a)]);
        Assert.Contains("[perplexity_tokens]", otherTokens.Err, StringComparison.Ordinal);
        var otherSpace = await Run(Search(first, "--mlp", "43,172"));
        Assert.Contains("error LNAS0523", otherSpace.Err, StringComparison.Ordinal);
        Assert.Contains("[space]", otherSpace.Err, StringComparison.Ordinal);
        AssertSameFiles(first, second);
    }

    [Fact]
    public async Task Quantization_int8_adds_the_front_re_ranked_after_int8_without_changing_the_float_results()
    {
        var plain = _dir.File("plain");
        Assert.Equal(0, (await Run(Search(plain))).Code);
        var quantized = _dir.File("int8");
        var (rc, output, error) = await Run(Search(quantized, "--quantization", "int8"));
        Assert.True(rc == 0, error);
        Assert.Matches(@"int8: \d+ front members quantized and measured", error);
        Assert.Contains("after INT8:", output, StringComparison.Ordinal);

        // The float files are untouched by the re-ranking; pareto.json gains int8_front.
        Assert.Equal(File.ReadAllBytes(Path.Combine(plain, "evaluations.csv")), File.ReadAllBytes(Path.Combine(quantized, "evaluations.csv")));
        var pareto = JsonNode.Parse(File.ReadAllText(Path.Combine(quantized, "pareto.json")))!;
        var front = pareto["front"]!.AsArray();
        var int8 = pareto["int8_front"]!;
        Assert.Equal("size_gb:int8", int8["objectives"]![1]!["metric"]!.GetValue<string>());
        var entries = int8["evaluations"]!.AsArray();
        Assert.Equal(front.Select(e => e!["index"]!.GetValue<int>()), entries.Select(e => e!["index"]!.GetValue<int>()));
        foreach (var (f, q) in front.Zip(entries))
        {
            // INT8 is smaller (fp32 → 1 byte per linear weight) and, on this model, near the float perplexity.
            Assert.True(q!["size_bytes"]!.GetValue<long>() < f!["size_bytes"]!.GetValue<long>() / 2);
            var pf = f["metrics"]!["perplexity:valid.txt"]!.GetValue<double>();
            var pq = q["metrics"]!["perplexity:valid.txt"]!.GetValue<double>();
            Assert.InRange(pq / pf, 0.9, 1.1);
            Assert.NotEqual(pf, pq);
        }

        var onFront = int8["front"]!.AsArray().Select(i => i!.GetValue<int>()).ToHashSet();
        Assert.NotEmpty(onFront);
        Assert.Equal(JsonNode.Parse(File.ReadAllText(Path.Combine(plain, "pareto.json")))!["front"]!.ToJsonString(), front.ToJsonString());
    }

    [Theory]
    [InlineData("LNAS0530", "--objectives", "perplexity,speed")]
    [InlineData("LNAS0530", "--objectives", "accuracy,size")]
    [InlineData("LNAS0531", "--objectives", "size")]
    [InlineData("LNAS0531", "--objectives", "size,params,latency,throughput")]
    [InlineData("LNAS0532", "--depths", "3,x")]
    [InlineData("LNAS0503", "--depths", "3,9")]
    [InlineData("LNAS0502", "--mlp", "86,200")]
    [InlineData("LNAS0504", "--heads", "3,8")]
    [InlineData("LNAS0533", "--reference-point", "6")]
    [InlineData("LNAS0533", "--reference-point", "6,abc")]
    [InlineData("LNAS0520", "--population", "1")]
    [InlineData("LNAS0520", "--algorithm", "anneal")]
    [InlineData("LNAS0520", "--evaluations", "0")]
    [InlineData("LNAS0100", "--dtype", "int4")]
    [InlineData("LNAS0640", "--perplexity-protocol", "llamacpp")]
    [InlineData("LNAS0640", "--ctx", "128")]
    public async Task Bad_options_are_coded_errors(string code, string option, string value)
    {
        string[] args = ["search", Stories, "--objectives", "perplexity,size", "--perplexity-text", _text, "--output", _dir.File("bad")];
        var i = Array.IndexOf(args, option);
        var (rc, _, error) = await Run(i >= 0 ? [.. args.Select((a, k) => k == i + 1 ? value : a)] : [.. args, option, value]);
        Assert.Equal(1, rc);
        Assert.Contains($"error {code}:", error, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("bad/search_state.json")));
    }

    [Fact]
    public async Task Perplexity_without_a_text_and_a_missing_text_are_LNAS0534()
    {
        var none = await Run("search", Stories, "--objectives", "perplexity,size", "--output", _dir.File("none"));
        Assert.Contains("error LNAS0534:", none.Err, StringComparison.Ordinal);
        var missing = await Run("search", Stories, "--objectives", "perplexity:" + _dir.File("absent.txt") + ",size", "--output", _dir.File("none"));
        Assert.Contains("error LNAS0534:", missing.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_search_benchmark_compares_algorithms_at_equal_evaluation_counts()
    {
        var (rc, output, error) = await Run(
            "bench", "search", Stories, "--objectives", "perplexity,params", "--perplexity-text", _text, "--perplexity-tokens", "200",
            "--depths", "3", "--mlp", "86,172", "--population", "3", "--inner-generations", "5", "--budgets", "3,6", "--seeds", "0", "--algorithms", "linas,random", "--exhaustive");
        Assert.True(rc == 0, error);
        Assert.Contains("| algorithm | HV@3 mean ± sd (min–max) | HV@6 mean ± sd (min–max) | search overhead s/run |", output, StringComparison.Ordinal);
        Assert.Matches(@"\| linas \| [\d.E+]+ ± ", output);
        Assert.Matches(@"\| random \| [\d.E+]+ ± ", output);
        Assert.Matches(@"random seed 0: HV@3 [\d.E+]+ HV@6 [\d.E+]+", error);

        // Depth 3 with two MLP widths per layer: 8 sub-networks, all measured for the true front.
        Assert.Contains("exhaustive: all 8 sub-networks", output, StringComparison.Ordinal);
        var fractions = System.Text.RegularExpressions.Regex.Matches(output, @"(\d+\.\d\d) %").Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(4, fractions.Count);
        Assert.All(fractions, f => Assert.InRange(f, 1, 100));
    }

    [Fact]
    public async Task The_search_benchmark_compares_shared_prefixes_with_one_at_a_time_per_batch()
    {
        var (rc, output, error) = await Run(
            "bench", "search", Stories, "--objectives", "perplexity,size", "--perplexity-text", _text, "--perplexity-tokens", "200",
            "--depths", "2,3", "--mlp", "86,172", "--population", "6", "--inner-generations", "5", "--budgets", "12", "--seeds", "0,1", "--algorithms", "linas", "--compare-sharing");
        Assert.True(rc == 0, error);
        Assert.DoesNotContain("mismatch", error, StringComparison.Ordinal);
        var rows = System.Text.RegularExpressions.Regex.Matches(output, @"^\| linas seed (\d) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", System.Text.RegularExpressions.RegexOptions.Multiline);
        // Two searches of 12 evaluations in batches of at most 6; the second seed's batches are measured whole, although
        // the first search measured some of their sub-networks already.
        Assert.Equal(12, rows.Where(r => r.Groups[1].Value == "0").Sum(r => int.Parse(r.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(12, rows.Where(r => r.Groups[1].Value == "1").Sum(r => int.Parse(r.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(rows, r => Assert.InRange(double.Parse(r.Groups[7].Value, System.Globalization.CultureInfo.InvariantCulture), 0.1, 1.0));
        Assert.Matches(@"\| \*\*first batches\*\* \|  \| 12 \|", output);
        Assert.Matches(@"\| \*\*all\*\* \|  \| 24 \|", output);
    }

    [Fact]
    public async Task The_search_benchmark_runs_on_a_random_init_model_of_a_configs_shape()
    {
        // Only the config and tokenizer: the weights are random and seeded.
        var shape = _dir.File("shape");
        Directory.CreateDirectory(shape);
        foreach (var file in new[] { "config.json", "tokenizer.model" })
        {
            File.Copy(Path.Combine(Stories, file), Path.Combine(shape, file));
        }

        var temp = Directory.GetDirectories(Path.GetTempPath(), "llamanas-random-*").Length;
        var (rc, output, error) = await Run(
            "bench", "search", shape, "--random-init", "--objectives", "perplexity,size", "--perplexity-text", _text, "--perplexity-tokens", "100",
            "--population", "3", "--inner-generations", "5", "--budgets", "3", "--seeds", "0", "--algorithms", "random");
        Assert.True(rc == 0, error);
        Assert.Matches(@"3 distinct sub-networks measured in \d+ s", output);

        // A random model's perplexity is about the vocabulary's size, near the reference ln(512): almost no hypervolume
        // (stories260K's own weights, perplexity below 10, give about 1e-3 on these objectives).
        var hv = double.Parse(System.Text.RegularExpressions.Regex.Match(error, @"random seed 0: HV@3 (\S+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(hv, 0, 1e-4);
        Assert.Equal(temp, Directory.GetDirectories(Path.GetTempPath(), "llamanas-random-*").Length);
    }
}
