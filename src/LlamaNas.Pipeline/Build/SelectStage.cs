using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Pipeline.Build;

/// <summary>The build's choice (<c>selection.json</c>): which evaluated sub-network, and the budget it was chosen under.</summary>
public sealed record Selection
{
    public int Format { get; init; } = 1;

    public required ParetoEntry Selected { get; init; }

    /// <summary>The weight format the selection was made in and the export writes: <c>none</c> or <c>int8</c>.</summary>
    public string Quantization { get; init; } = "none";

    /// <summary>The quality objective's metric column (the first objective).</summary>
    public required string QualityMetric { get; init; }

    public required long BudgetBytes { get; init; }

    public required long BaseSizeBytes { get; init; }

    /// <summary>Front members within the budget, of the front's total.</summary>
    public required int Candidates { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, ParetoDocument.Json) + "\n";

    public static Selection Load(string path) => JsonSerializer.Deserialize<Selection>(File.ReadAllText(path), ParetoDocument.Json)
        ?? throw new JsonException("empty selection");
}

/// <summary>
/// The select stage: the best quality within the size budget. Among the Pareto front's members no larger than the
/// budget, the one with the best first (quality) objective; ties go to the smaller, then to the earlier. That
/// sub-network is on the front whatever the other objectives, so pareto.json always holds it. With Quantization int8
/// the front is the one re-ranked after INT8, with INT8 sizes and qualities.
/// </summary>
internal static class SelectStage
{
    public static void Run(BuildContext context, BuildLog log)
    {
        var pareto = ParetoDocument.Load(Path.Combine(context.SearchDir, SearchOutputs.ParetoFile));
        var baseline = Baseline.Load(context.BaselineFile);
        var budget = context.Project.BudgetBytes(baseline.BaseModel.SizeBytes);
        var quantization = context.Project.Quantization;
        var front = quantization == "int8"
            ? pareto.Int8Front?.FrontEntries().ToList() ?? throw new LlamaNasException(DiagnosticCodes.SearchStateInvalid, "pareto.json has no INT8 front; rebuild the search stage (delete obj/ or change a search setting).", new DiagnosticLocation(Path.Combine(context.SearchDir, SearchOutputs.ParetoFile)))
            : [.. pareto.Front];
        var candidates = front.Where(e => e.SizeBytes <= budget).ToList();
        var best = candidates.OrderBy(e => e.Objectives[0]).ThenBy(e => e.SizeBytes).ThenBy(e => e.Index).FirstOrDefault();
        if (best is null)
        {
            var smallest = front.Min(e => e.SizeBytes);
            var where = context.Project.MaxModelBytes is null ? context.Project.Where("SizeBudget") : context.Project.Where("MaxModelBytes");
            throw new LlamaNasException(DiagnosticCodes.BuildNoCandidateInBudget, BuildPipeline.Invariant($"no evaluated sub-network fits the size budget of {budget:N0} bytes; the smallest on the Pareto front takes {smallest:N0}. Raise the budget, add smaller choices, or search longer (SearchEvaluations)."), where);
        }

        var metric = pareto.Objectives[0].Metric;
        AtomicFile.WriteAllText(context.SelectionFile, new Selection
        {
            Selected = best,
            Quantization = quantization,
            QualityMetric = metric,
            BudgetBytes = budget,
            BaseSizeBytes = baseline.BaseModel.SizeBytes,
            Candidates = candidates.Count,
        }.ToJson());
        var form = quantization == "int8" ? " as INT8" : string.Empty;
        log.Progress(BuildPipeline.Invariant($"selected sub-network #{best.Index}{form}: {metric} {best.Metrics[metric]:G6}, {best.SizeBytes:N0} bytes ({(double)best.SizeBytes / baseline.BaseModel.SizeBytes:P1} of the base model; budget {budget:N0})"));
    }
}
