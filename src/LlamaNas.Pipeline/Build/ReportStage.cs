using System.Globalization;
using System.Text;
using LlamaNas.Core.IO;
using LlamaNas.Core.Project;
using LlamaNas.Pipeline.Reporting;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Pipeline.Build;

/// <summary>
/// The report stage: <c>report.md</c> (what was selected and why, its size and quality next to the base model's and
/// the whole super-network's, the Pareto front, the figures and the search-space analysis) plus copies of the
/// search's <c>pareto.json</c> and <c>evaluations.csv</c> and the figures (<c>figures/*.png|svg</c>) in the output
/// folder. Everything but the section between the timing markers is a function of the project and seed alone.
/// </summary>
public static class ReportStage
{
    public const string ReportFile = "report.md";
    public const string TimingsBegin = "<!-- llamanas:timings -->";
    public const string TimingsEnd = "<!-- /llamanas:timings -->";

    /// <summary>The stage's outputs, relative to the output folder; the speed figure only with a speed objective.</summary>
    public static IReadOnlyList<string> Files(NasProject project)
    {
        ArgumentNullException.ThrowIfNull(project);
        return [ReportFile, SearchOutputs.ParetoFile, SearchOutputs.EvaluationsFile, .. SearchReport.Files(project.SpeedObjective != "none")];
    }

    internal static void Run(BuildContext context, BuildLog log)
    {
        foreach (var name in new[] { SearchOutputs.ParetoFile, SearchOutputs.EvaluationsFile })
        {
            var bytes = File.ReadAllBytes(Path.Combine(context.SearchDir, name));
            AtomicFile.Write(Path.Combine(context.OutDir, name), s => s.Write(bytes));
        }

        var results = SearchResults.Load(context.SearchDir, context.BaselineFile, context.SelectionFile);
        var analyses = SearchReport.Analyse(results);
        SearchReport.WriteFigures(results, analyses, context.OutDir);
        var report = Render(context, results.Pareto, Baseline.Load(context.BaselineFile), Selection.Load(context.SelectionFile), SearchReport.Markdown(results, analyses), BuildPipeline.ReadTimes(context));
        AtomicFile.WriteAllText(Path.Combine(context.OutDir, ReportFile), report);
        log.Progress($"wrote {Path.Combine(context.OutDir, ReportFile)}");
    }

    internal static string Render(BuildContext context, ParetoDocument pareto, Baseline baseline, Selection selection, string figures, IReadOnlyDictionary<string, double> times)
    {
        var p = context.Project;
        var s = selection.Selected;
        var quality = selection.QualityMetric;
        var metrics = pareto.Objectives.Select(o => o.Metric).Where(m => !m.StartsWith("size_gb", StringComparison.Ordinal)).ToList();
        var lowerIsBetter = pareto.Objectives[0].MinimisedAs != "-metric";
        var baseQuality = baseline.BaseModel.Metrics[quality];
        var change = (s.Metrics[quality] - baseQuality) / baseQuality;
        var text = new StringBuilder();
        text.Append(I($"# {p.Name}: compressed model\n\n"));
        text.Append(I($"The build selected sub-network **#{s.Index}** of the search: depth {s.Architecture.Depth}, hidden size {s.Architecture.HiddenSize}, MLP widths {string.Join(", ", s.Architecture.IntermediateSizes)}, attention heads {string.Join(", ", s.Architecture.AttentionHeads)}. "));
        text.Append(I($"It has the {(lowerIsBetter ? "lowest" : "highest")} {quality} of the {selection.Candidates} Pareto-optimal sub-networks whose size is within the budget of {selection.BudgetBytes:N0} bytes "));
        text.Append(p.MaxModelBytes is null ? I($"(SizeBudget {p.SizeBudget:G6} × the base model's {selection.BaseSizeBytes:N0} bytes).\n\n") : "(MaxModelBytes).\n\n");
        text.Append(I($"It takes {(double)s.SizeBytes / selection.BaseSizeBytes:P1} of the base model's size and {(double)s.Params / baseline.BaseModel.Params:P1} of its parameters; its {quality} is {s.Metrics[quality]:G6} against the base model's {baseQuality:G6} ({change:+0.0%;-0.0%;0.0%}).\n\n"));
        text.Append(I($"| model | params | size (bytes) | size vs base | {string.Join(" | ", metrics)} |\n"));
        text.Append(I($"|---|---:|---:|---:|{string.Concat(metrics.Select(_ => "---:|"))}\n"));
        Row(text, "base model", baseline.BaseModel.Params, baseline.BaseModel.SizeBytes, selection.BaseSizeBytes, metrics.Select(m => baseline.BaseModel.Metrics[m]));
        if (p.FineTune)
        {
            Row(text, "super-network (whole)", baseline.Supernet.Params, baseline.Supernet.SizeBytes, selection.BaseSizeBytes, metrics.Select(m => baseline.Supernet.Metrics[m]));
        }

        var int8 = pareto.Int8Front;
        var floatForm = pareto.Front.FirstOrDefault(e => e.Index == s.Index);
        var int8Form = int8?.Evaluations.FirstOrDefault(e => e.Index == s.Index);
        if (selection.Quantization == "int8")
        {
            if (floatForm is not null)
            {
                Row(text, I($"selected (#{s.Index}) before INT8"), floatForm.Params, floatForm.SizeBytes, selection.BaseSizeBytes, metrics.Select(m => floatForm.Metrics[m]));
            }

            Row(text, I($"**selected (#{s.Index}), INT8**"), s.Params, s.SizeBytes, selection.BaseSizeBytes, metrics.Select(m => s.Metrics[m]));
        }
        else
        {
            Row(text, I($"**selected (#{s.Index})**"), s.Params, s.SizeBytes, selection.BaseSizeBytes, metrics.Select(m => s.Metrics[m]));
            if (int8Form is not null)
            {
                Row(text, I($"selected (#{s.Index}) as INT8 (Quantization int8)"), int8Form.Params, int8Form.SizeBytes, selection.BaseSizeBytes, metrics.Select(m => int8Form.Metrics[m]));
            }
        }

        QualityLossTable(text, pareto, baseline, selection, quality, lowerIsBetter);
        text.Append(I($"\n## Search\n\n{pareto.Settings.GetValueOrDefault("algorithm", "?")} over the project's space ({context.Space.CanonicalCount():N0} sub-networks), {pareto.Evaluations} evaluated"));
        text.Append(I($" (population {p.SearchPopulation}, seed {p.Seed}); {pareto.Front.Count} on the Pareto front, hypervolume {pareto.Hypervolume:G6}.\n"));
        text.Append(p.FineTune
            ? I($"The super-network was fine-tuned with {p.FineTuneStrategy} for {p.FineTuneSteps} steps on {(p.SelfGeneratedData ? "text sampled from the base model itself" : "the project's TrainingData")}.\n\n")
            : "The base model was searched as it is (FineTune false).\n\n");
        text.Append(I($"| # | depth | MLP widths | heads | {string.Join(" | ", pareto.Objectives.Select(o => o.Metric))} | params | within budget |\n"));
        text.Append(I($"|---:|---:|---|---|{string.Concat(pareto.Objectives.Select(_ => "---:|"))}---:|---|\n"));
        foreach (var e in pareto.Front)
        {
            text.Append(I($"| {e.Index} | {e.Architecture.Depth} | {string.Join(",", e.Architecture.IntermediateSizes)} | {string.Join(",", e.Architecture.AttentionHeads)} | {string.Join(" | ", pareto.Objectives.Select(o => e.Metrics[o.Metric].ToString("G6", CultureInfo.InvariantCulture)))} | {e.Params:N0} | {(e.SizeBytes <= selection.BudgetBytes ? "yes" : "no")} |\n"));
        }

        if (int8 is not null)
        {
            text.Append(I($"\nAfter INT8 ({int8.Scheme}), {int8.Front.Count} of the {int8.Evaluations.Count} front members stay Pareto-optimal:\n\n"));
            text.Append(I($"| # | depth | MLP widths | heads | {string.Join(" | ", int8.Objectives.Select(o => o.Metric))} | within budget |\n"));
            text.Append(I($"|---:|---:|---|---|{string.Concat(int8.Objectives.Select(_ => "---:|"))}---|\n"));
            foreach (var e in int8.FrontEntries())
            {
                text.Append(I($"| {e.Index} | {e.Architecture.Depth} | {string.Join(",", e.Architecture.IntermediateSizes)} | {string.Join(",", e.Architecture.AttentionHeads)} | {string.Join(" | ", int8.Objectives.Select(o => e.Metrics[o.Metric].ToString("G6", CultureInfo.InvariantCulture)))} | {(e.SizeBytes <= selection.BudgetBytes ? "yes" : "no")} |\n"));
            }
        }

        text.Append(I($"\n## Outputs\n\n- `{p.ModelFolder}/`: the selected sub-network as a standalone model (safetensors, config.json, tokenizer); run it with `llamanas generate {p.ModelFolder}` or `llamanas evaluate {p.ModelFolder}`.\n"));
        if (p.GgufType != "none")
        {
            text.Append(I($"- `{p.ModelFolder}.gguf`: the same model for llama.cpp ({p.GgufType}).\n"));
        }

        text.Append("- `pareto.json`: the Pareto front with its settings; `evaluations.csv`: every evaluated sub-network; `figures/`: the figures below, as PNG and SVG.\n\n");
        text.Append(figures);
        text.Append(TimingsBegin).Append('\n').Append("## Timings\n\n| stage | seconds |\n|---|---:|\n");
        foreach (var stage in StageNames.All.Where(times.ContainsKey))
        {
            text.Append(I($"| {stage} | {times[stage]:F1} |\n"));
        }

        text.Append(TimingsEnd).Append('\n');
        return text.ToString();
    }

    /// <summary>
    /// The smallest evaluated size whose quality is within 1 % and 5 % of the base model's (relative: perplexity at
    /// most 1.01 × the base's, accuracy at least 0.99 ×), as a share of the base model's size, float and INT8.
    /// </summary>
    private static void QualityLossTable(StringBuilder text, ParetoDocument pareto, Baseline baseline, Selection selection, string quality, bool lowerIsBetter)
    {
        var baseQuality = baseline.BaseModel.Metrics[quality];
        string Smallest(IEnumerable<ParetoEntry> entries, double loss)
        {
            var limit = lowerIsBetter ? baseQuality * (1 + loss) : baseQuality * (1 - loss);
            var fits = entries.Where(e => lowerIsBetter ? e.Metrics[quality] <= limit : e.Metrics[quality] >= limit).ToList();
            return fits.Count == 0 ? "none" : I($"{(double)fits.Min(e => e.SizeBytes) / selection.BaseSizeBytes:P1} (#{fits.MinBy(e => e.SizeBytes)!.Index})");
        }

        text.Append(I($"\nSmallest size on the front whose {quality} is within a relative loss of the base model's {baseQuality:G6} (share of the base model's size; none: no sub-network is that close):\n\n"));
        text.Append("| weights | ≤ 1 % loss | ≤ 5 % loss |\n|---|---:|---:|\n");
        text.Append(I($"| float | {Smallest(pareto.Front, 0.01)} | {Smallest(pareto.Front, 0.05)} |\n"));
        if (pareto.Int8Front is { } int8)
        {
            text.Append(I($"| INT8 | {Smallest(int8.Evaluations, 0.01)} | {Smallest(int8.Evaluations, 0.05)} |\n"));
        }
    }

    private static void Row(StringBuilder text, string name, long parameters, long size, long baseSize, IEnumerable<double> metrics) =>
        text.Append(I($"| {name} | {parameters:N0} | {size:N0} | {(double)size / baseSize:P1} | {string.Join(" | ", metrics.Select(m => m.ToString("G6", CultureInfo.InvariantCulture)))} |\n"));

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
