using System.Globalization;
using System.Text;
using LlamaNas.Core.Search;
using LlamaNas.Pipeline.Build;
using LlamaNas.Pipeline.Reporting;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Pipeline.Tests;

/// <summary>
/// A hand-made search of 20 evaluations over depths {2, 3}, MLP widths {8, 16, 32} and heads {2, 4} per layer: the
/// perplexity of evaluation i is i + 1, so the top k are evaluations 0…k-1. Written as a search folder, with an
/// optional baseline and selection, for the report's tests (also linked into the Tool tests).
/// </summary>
internal static class ReportFixture
{
    public const string Quality = "perplexity:heldout.txt";
    public const string Throughput = "throughput_tokens_per_s";
    public const string Signature = "layers=3;hidden=16;heads=4/2;depths=2,3;Depth=2,3;IntermediateSize@0=8,16,32;AttentionHeads@0=2,4;IntermediateSize@1=8,16,32;AttentionHeads@1=2,4;IntermediateSize@2=8,16,32;AttentionHeads@2=2,4";

    /// <summary>(depth, MLP widths, heads) of evaluations 0-3; the 16 others are depth 2, widths 8, heads 2.</summary>
    private static readonly (int[] Mlp, int[] Heads)[] Best =
    [
        ([16, 16, 8], [4, 4, 2]),
        ([16, 8], [4, 2]),
        ([8, 16, 16], [4, 4, 4]),
        ([16, 16, 16], [2, 4, 4]),
    ];

    public static IReadOnlyList<EvaluatedSubnetwork> Evaluations() =>
        [.. Enumerable.Range(0, 20).Select(i =>
        {
            var (mlp, heads) = i < Best.Length ? Best[i] : ([8, 8], [2, 2]);
            var size = 1000L * mlp.Sum();
            return new EvaluatedSubnetwork(i, mlp.Length, mlp, heads, new Dictionary<string, double> { [Quality] = i + 1, ["size_gb:fp32"] = size / 1e9, [Throughput] = 1000.0 - (10 * i) }, size);
        })];

    public static ParetoDocument Pareto(IReadOnlyList<EvaluatedSubnetwork> evaluations, int count, bool speed = false) => new()
    {
        Settings = new SortedDictionary<string, string>(StringComparer.Ordinal) { ["algorithm"] = "linas" },
        Evaluations = count,
        Finished = true,
        Objectives = [new ParetoObjective(Quality, Quality, "ln(metric)", 5), new ParetoObjective("size:fp32", "size_gb:fp32", "metric", 1e-4), .. speed ? new[] { new ParetoObjective("throughput", Throughput, "-metric", 0) } : []],
        Hypervolume = 0.5,
        Front = [.. evaluations.Take(1).Select(e => Entry(e))],
    };

    /// <summary>The search in memory; with <paramref name="speed"/>, throughput (1000 - 10 i tokens/s) is a third objective.</summary>
    public static SearchResults Results(bool marked, bool speed = false)
    {
        var evaluations = Evaluations();
        var (depths, mlp, heads) = SearchResults.Choices(Signature, evaluations);
        return new SearchResults
        {
            Pareto = Pareto(evaluations, evaluations.Count, speed),
            Evaluations = evaluations,
            Depths = depths,
            IntermediateSizes = mlp,
            AttentionHeads = heads,
            BaseModel = marked ? new MarkedModel("base model", new Dictionary<string, double> { [Quality] = 0.5, ["size_gb:fp32"] = 1e-4, [Throughput] = 500 }, 100_000) : null,
            Selected = marked ? new MarkedModel("selected (#3)", evaluations[3].Metrics, evaluations[3].SizeBytes) : null,
            BudgetBytes = marked ? 50_000 : null,
        };
    }

    /// <summary>Writes the search folder's three files (and baseline.json, selection.json when <paramref name="marked"/>).</summary>
    public static void Write(string folder, bool marked)
    {
        Directory.CreateDirectory(folder);
        var evaluations = Evaluations();
        File.WriteAllText(Path.Combine(folder, SearchOutputs.ParetoFile), Pareto(evaluations, evaluations.Count).ToJson());
        var csv = new StringBuilder($"index,batch,genes,depth,hidden,mlp,heads,kv_heads,{Quality},size_gb:fp32,params,size_bytes\n");
        foreach (var e in evaluations)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{e.Index},0,0 0,{e.Depth},16,{string.Join(' ', e.IntermediateSizes)},{string.Join(' ', e.AttentionHeads)},{string.Join(' ', e.AttentionHeads.Select(h => h / 2))},{e.Metrics[Quality]:R},{e.Metrics["size_gb:fp32"]:R},{e.SizeBytes / 4},{e.SizeBytes}\n");
        }

        File.WriteAllText(Path.Combine(folder, SearchOutputs.EvaluationsFile), csv.ToString());
        new SearchState { Options = new SearchOptions { ReferencePoint = [5, 1e-4] }, Space = Signature, Rng = ["0", "0", "0", "0"] }.Save(Path.Combine(folder, SearchOutputs.StateFile));
        if (marked)
        {
            var results = Results(marked: true);
            File.WriteAllText(Path.Combine(folder, "baseline.json"), new Baseline(Base(results), Base(results)).ToJson());
            File.WriteAllText(Path.Combine(folder, "selection.json"), new Selection { Selected = Entry(evaluations[3]), QualityMetric = Quality, BudgetBytes = 50_000, BaseSizeBytes = 100_000, Candidates = 1 }.ToJson());
        }
    }

    private static BaselineEntry Base(SearchResults results) => new(results.BaseModel!.Metrics, 25_000, results.BaseModel.SizeBytes);

    private static ParetoEntry Entry(EvaluatedSubnetwork e) => new()
    {
        Index = e.Index,
        Batch = 0,
        Genes = [0, 0],
        Architecture = new ArchitectureRecord(e.Depth, 16, e.IntermediateSizes, e.AttentionHeads, [.. e.AttentionHeads.Select(h => h / 2)]),
        Metrics = e.Metrics,
        Objectives = [Math.Log(e.Metrics[Quality]), e.Metrics["size_gb:fp32"]],
        Params = e.SizeBytes / 4,
        SizeBytes = e.SizeBytes,
    };
}
