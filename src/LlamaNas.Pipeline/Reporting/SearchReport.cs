using System.Globalization;
using System.Text;
using LlamaNas.Core.IO;

namespace LlamaNas.Pipeline.Reporting;

/// <summary>
/// The figures and search-space analysis of a search, shared by the build's report stage and <c>llamanas report</c>.
/// Everything is rendered in memory before the first file is written, and each file is written atomically, so a
/// failure leaves no half-written figure behind.
/// </summary>
public static class SearchReport
{
    /// <summary>The output files (relative, '/'-separated) for a search with or without a speed objective.</summary>
    public static IReadOnlyList<string> Files(bool speed) =>
        [.. ReportFigures.Names(speed).SelectMany(n => new[] { $"{ReportFigures.Folder}/{n}.png", $"{ReportFigures.Folder}/{n}.svg" })];

    public static IReadOnlyList<TopChoices> Analyse(SearchResults results) =>
        [.. SearchSpaceAnalysis.Percents.Select(p => SearchSpaceAnalysis.Analyse(results, p))];

    /// <summary>The markdown sections (figures, then the analysis) with links relative to the report.</summary>
    public static string Markdown(SearchResults results, IReadOnlyList<TopChoices> analyses)
    {
        ArgumentNullException.ThrowIfNull(results);
        var text = new StringBuilder("## Figures\n\n");
        text.Append("Every evaluated sub-network and the Pareto front");
        text.Append(results.BaseModel is null && results.Selected is null ? ". " : ", with the base model, the selected sub-network and the size budget marked. ");
        text.Append("Sizes in MB (10⁶ bytes); SVG versions next to the PNGs.\n\n");
        text.Append(I($"![quality vs size]({Link(ReportFigures.QualityVsSize)})\n\n"));
        if (results.Speed is not null)
        {
            text.Append(I($"![quality vs speed]({Link(ReportFigures.QualityVsSpeed)})\n\n"));
        }

        text.Append("## Search-space analysis\n\n");
        text.Append("How often the best evaluated sub-networks took each depth and, per layer, each choice (as in LLaMA-NAS, Figs. 6–9); ");
        text.Append(I($"`{SearchSpaceAnalysis.Dropped}`: the layer lies beyond the sub-network's depth. Few evaluations make these rough estimates.\n\n"));
        text.Append(SearchSpaceAnalysis.Markdown(analyses, results.QualityMetric, p => Link(ReportFigures.SearchSpace(p))));
        return text.ToString();
    }

    /// <summary>Renders the figures and writes them under <paramref name="outputDir"/>; returns their relative paths.</summary>
    public static IReadOnlyList<string> WriteFigures(SearchResults results, IReadOnlyList<TopChoices> analyses, string outputDir)
    {
        var figures = ReportFigures.Render(results, analyses);
        Directory.CreateDirectory(Path.Combine(outputDir, ReportFigures.Folder));
        foreach (var (path, bytes) in figures)
        {
            AtomicFile.Write(Path.Combine(outputDir, path), s => s.Write(bytes));
        }

        return [.. figures.Select(f => f.Path)];
    }

    /// <summary>
    /// <c>llamanas report</c>: <c>report.md</c> (a summary, the figures and the analysis) and <c>figures/</c> in
    /// <paramref name="outputDir"/>, from a search folder; returns the report's path.
    /// </summary>
    public static string WriteStandalone(SearchResults results, string outputDir)
    {
        ArgumentNullException.ThrowIfNull(results);
        var analyses = Analyse(results);
        var p = results.Pareto;
        var text = new StringBuilder("# Search report\n\n");
        text.Append(I($"{p.Settings.GetValueOrDefault("algorithm", "?")}, {p.Evaluations} sub-networks evaluated{(p.Finished ? string.Empty : " (unfinished)")}, "));
        text.Append(I($"objectives {string.Join(", ", p.Objectives.Select(o => o.Metric))}; {p.Front.Count} on the Pareto front, hypervolume {p.Hypervolume:G6}.\n\n"));
        text.Append(Markdown(results, analyses));

        // Figures first: the report links them, so it only appears once they are all there.
        Directory.CreateDirectory(outputDir);
        WriteFigures(results, analyses, outputDir);
        var report = Path.Combine(outputDir, Build.ReportStage.ReportFile);
        AtomicFile.WriteAllText(report, text.ToString());
        return report;
    }

    private static string Link(string name) => $"{ReportFigures.Folder}/{name}.png";

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
