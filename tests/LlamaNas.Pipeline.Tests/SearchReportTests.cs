using System.Text;
using System.Xml.Linq;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Pipeline.Reporting;
using LlamaNas.TestSupport;
using SkiaSharp;

namespace LlamaNas.Pipeline.Tests;

/// <summary>The search-space analysis on a hand-made evaluation set, and the report's figures.</summary>
public sealed class SearchReportTests
{
    private const double Third = 1.0 / 3;

    [Fact]
    public void The_analysis_counts_the_choices_of_the_best_evaluations()
    {
        var results = ReportFixture.Results(marked: false);
        Assert.Equal([2, 3], results.Depths);
        Assert.Equal([8, 16, 32], results.IntermediateSizes);
        Assert.Equal([2, 4], results.AttentionHeads);

        // 20 evaluations: the top 10, 15 and 20 % are the best 2, 3 and 4.
        var top = SearchReport.Analyse(results);
        Assert.Equal([(10, 2), (15, 3), (20, 4)], top.Select(t => (t.Percent, t.Count)));
        Assert.All(top, t => Assert.Equal(20, t.Total));
        Assert.Equal(["8", "16", "32", SearchSpaceAnalysis.Dropped], top[0].Mlp.Columns);
        Assert.Equal(["2", "4", SearchSpaceAnalysis.Dropped], top[0].Heads!.Columns);

        Equal([0.5, 0.5], top[0].DepthProbabilities);
        Equal([[0, 1, 0, 0], [0.5, 0.5, 0, 0], [0.5, 0, 0, 0.5]], top[0].Mlp.Probabilities);
        Equal([[0, 1, 0], [0.5, 0.5, 0], [0.5, 0, 0.5]], top[0].Heads!.Probabilities);

        Equal([Third, 2 * Third], top[1].DepthProbabilities);
        Equal([[Third, 2 * Third, 0, 0], [Third, 2 * Third, 0, 0], [Third, Third, 0, Third]], top[1].Mlp.Probabilities);
        Equal([[0, 1, 0], [Third, 2 * Third, 0], [Third, Third, Third]], top[1].Heads!.Probabilities);

        Equal([0.25, 0.75], top[2].DepthProbabilities);
        Equal([[0.25, 0.75, 0, 0], [0.25, 0.75, 0, 0], [0.25, 0.5, 0, 0.25]], top[2].Mlp.Probabilities);
        Equal([[0.25, 0.75, 0], [0.25, 0.75, 0], [0.25, 0.5, 0.25]], top[2].Heads!.Probabilities);

        var markdown = SearchSpaceAnalysis.Markdown(top, ReportFixture.Quality, null);
        Assert.Contains("### Top 15 % (3 of 20 evaluated sub-networks by perplexity:heldout.txt)", markdown, StringComparison.Ordinal);
        Assert.Contains("| probability | 0.33 | 0.67 |", markdown, StringComparison.Ordinal);
        Assert.Contains("| layer \\ MLP width | 8 | 16 | 32 | dropped |\n|---:|---:|---:|---:|---:|\n| 0 | 0.33 | 0.67 | 0.00 | 0.00 |", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void A_quality_that_is_better_higher_ranks_the_highest_first()
    {
        var results = ReportFixture.Results(marked: false);
        var accuracy = results with
        {
            Pareto = results.Pareto with { Objectives = [new Search.ParetoObjective("acc", ReportFixture.Quality, "-metric", 0), results.Pareto.Objectives[1]] },
        };
        Assert.Equal([19, 18], SearchSpaceAnalysis.Top(accuracy, 10).Select(e => e.Index));
        Assert.Equal([0, 1], SearchSpaceAnalysis.Top(results, 10).Select(e => e.Index));
    }

    [Fact]
    public void Without_searched_heads_or_depth_the_analysis_has_neither_heads_nor_dropped_layers()
    {
        var evaluations = ReportFixture.Evaluations().Where(e => e.Depth == 2).Select(e => e with { AttentionHeads = [4, 4] }).ToList();
        var (depths, mlp, heads) = SearchResults.Choices("layers=2;depths=2;IntermediateSize@0=8,16;IntermediateSize@1=8,16", evaluations);
        Assert.Equal([2], depths);
        Assert.Equal([8, 16], mlp);
        Assert.Empty(heads);
        var results = ReportFixture.Results(marked: false) with { Evaluations = evaluations, Depths = depths, IntermediateSizes = mlp, AttentionHeads = heads };
        var top = SearchSpaceAnalysis.Analyse(results, 20);
        Assert.Null(top.Heads);
        Assert.Equal(["8", "16"], top.Mlp.Columns);
        Equal([1], top.DepthProbabilities);
    }

    [Fact]
    public void The_figures_are_png_and_svg_with_labels_and_legend_and_render_identically()
    {
        var results = ReportFixture.Results(marked: true);
        var analyses = SearchReport.Analyse(results);
        var figures = ReportFigures.Render(results, analyses);
        Assert.Equal(SearchReport.Files(speed: false), figures.Select(f => f.Path));
        foreach (var (path, bytes) in figures.Where(f => f.Path.EndsWith(".png", StringComparison.Ordinal)))
        {
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
            using var bitmap = SKBitmap.Decode(bytes);
            Assert.True(bitmap is { Width: 800, Height: 560 }, path);
        }

        var size = Svg(figures, "figures/quality_vs_size.svg");
        foreach (var text in new[] { "size (MB)", "perplexity:heldout.txt (log scale)", "evaluated (20)", "Pareto front (", "base model", "selected (#3)", "size budget (0.05 MB)" })
        {
            Assert.Contains(text, size);
        }

        var heat = Svg(figures, "figures/search_space_top15.svg");
        foreach (var text in new[] { "layer", "MLP 16", "heads 4", "MLP dropped", "0.67", "probability" })
        {
            Assert.Contains(text, heat);
        }

        var again = ReportFigures.Render(results, analyses);
        Assert.All(figures.Zip(again), p => Assert.True(p.First.Bytes.AsSpan().SequenceEqual(p.Second.Bytes), p.First.Path));
    }

    [Fact]
    public void A_speed_objective_adds_quality_against_speed_with_its_own_front()
    {
        var results = ReportFixture.Results(marked: true, speed: true);
        var figures = ReportFigures.Render(results, SearchReport.Analyse(results));
        Assert.Equal(SearchReport.Files(speed: true), figures.Select(f => f.Path));
        var speed = Svg(figures, "figures/quality_vs_speed.svg");
        foreach (var text in new[] { "throughput (prefill tokens/s)", "quality vs speed", "base model", "selected (#3)", "Pareto front (1)" })
        {
            Assert.Contains(text, speed);
        }

        // The budget is a size: it has no place on the speed axis.
        Assert.DoesNotContain("size budget", speed, StringComparison.Ordinal);
        Assert.Contains("![quality vs speed](figures/quality_vs_speed.png)", SearchReport.Markdown(results, SearchReport.Analyse(results)), StringComparison.Ordinal);
    }

    [Fact]
    public void Log_ticks_fall_on_round_values_as_dense_as_the_range_needs()
    {
        Assert.Equal([1, 10, 100, 1000, 10000], ReportFigures.LogTickValues(-0.1, 4.2));
        Assert.Equal([5, 10, 20, 50, 100, 200, 500], ReportFigures.LogTickValues(Math.Log10(2.6), Math.Log10(532)));
        Assert.Equal([4, 5, 6, 7, 8, 9, 10], ReportFigures.LogTickValues(Math.Log10(3.16), Math.Log10(15.85)));
        Assert.Equal([3], ReportFigures.LogTickValues(Math.Log10(2.6), Math.Log10(3.2)));
    }

    [Fact]
    public void Two_pareto_fronts_step_the_right_way_and_keep_only_the_non_dominated()
    {
        var evaluations = ReportFixture.Evaluations();
        var front = ReportFigures.Front(evaluations, e => e.SizeBytes, e => e.Metrics[ReportFixture.Quality], xLower: true, yLower: true);

        // Evaluation 1 (size 24,000, perplexity 2) and the smallest (4: 16,000, perplexity 5) dominate the rest of their size.
        Assert.Equal([4, 1, 0], front.Select(e => e.Index));
    }

    [Fact]
    public void The_report_folder_reader_rejects_missing_and_inconsistent_files_with_LNAS0550()
    {
        using var dir = new TempDir();
        var folder = dir.File("search");
        Assert.Equal(DiagnosticCodes.SearchReportFolderIncomplete, Assert.Throws<LlamaNasException>(() => SearchResults.Load(folder, null, null)).Code);
        ReportFixture.Write(folder, marked: true);
        var loaded = SearchResults.Load(folder, Path.Combine(folder, "baseline.json"), Path.Combine(folder, "selection.json"));
        Assert.Equal(20, loaded.Evaluations.Count);
        Assert.Equal([8, 16, 32], loaded.IntermediateSizes);
        Assert.Equal(50_000, loaded.BudgetBytes);
        Assert.Equal("selected (#3)", loaded.Selected!.Label);
        Assert.Equal(0.5, loaded.BaseModel!.Metrics[ReportFixture.Quality]);

        var csv = Path.Combine(folder, "evaluations.csv");
        File.WriteAllLines(csv, File.ReadAllLines(csv).SkipLast(1));
        var e = Assert.Throws<LlamaNasException>(() => SearchResults.Load(folder, null, null));
        Assert.Equal(DiagnosticCodes.SearchReportFolderIncomplete, e.Code);
        Assert.Contains("19 evaluations", e.Message, StringComparison.Ordinal);

        File.Delete(Path.Combine(folder, "search_state.json"));
        Assert.Contains("search_state.json is missing", Assert.Throws<LlamaNasException>(() => SearchResults.Load(folder, null, null)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_fields_with_commas_and_quotes_split_as_written()
    {
        Assert.Equal(["a", "b,c", "d\"e", string.Empty], SearchResults.Fields("a,\"b,c\",\"d\"\"e\","));
    }

    private static string Svg(IReadOnlyList<(string Path, byte[] Bytes)> figures, string path)
    {
        var xml = XDocument.Parse(Encoding.UTF8.GetString(figures.Single(f => f.Path == path).Bytes));
        Assert.Equal("svg", xml.Root!.Name.LocalName);
        return string.Join("\n", xml.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()));
    }

    private static void Equal(double[] expected, IReadOnlyList<double> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 12);
        }
    }

    private static void Equal(double[][] expected, IReadOnlyList<IReadOnlyList<double>> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var l = 0; l < expected.Length; l++)
        {
            Equal(expected[l], actual[l]);
        }
    }
}
