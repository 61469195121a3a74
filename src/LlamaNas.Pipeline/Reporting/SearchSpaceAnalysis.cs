using System.Globalization;
using System.Text;

namespace LlamaNas.Pipeline.Reporting;

/// <summary>
/// Per-layer choice probabilities: <c>Probabilities[layer][column]</c>, each row summing to 1 over its columns. The last
/// column is <see cref="SearchSpaceAnalysis.Dropped"/> when the depth was searched (a layer beyond a sub-network's depth).
/// </summary>
public sealed record LayerChoices(string Name, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<double>> Probabilities);

/// <summary>The choices taken by the best <see cref="Percent"/>% of the evaluated sub-networks.</summary>
public sealed record TopChoices(int Percent, int Count, int Total, IReadOnlyList<int> Depths, IReadOnlyList<double> DepthProbabilities, LayerChoices Mlp, LayerChoices? Heads);

/// <summary>
/// The search-space analysis of LLaMA-NAS (Figs. 6–9): among the top 10, 15 and 20 % of the evaluated sub-networks by
/// quality, how often each depth, and each MLP width (and head count, if searched) of every layer, was taken.
/// </summary>
public static class SearchSpaceAnalysis
{
    public const string Dropped = "dropped";

    public static IReadOnlyList<int> Percents { get; } = [10, 15, 20];

    /// <summary>
    /// The top <c>ceil(percent × evaluations / 100)</c> sub-networks (at least one) by the quality metric; ties go to
    /// the smaller, then the earlier, as the selection breaks them.
    /// </summary>
    public static IReadOnlyList<EvaluatedSubnetwork> Top(SearchResults results, int percent)
    {
        ArgumentNullException.ThrowIfNull(results);
        var n = results.Evaluations.Count;
        var count = Math.Max(1, ((percent * n) + 99) / 100);
        var sign = results.QualityLowerIsBetter ? 1.0 : -1.0;
        return [.. results.Evaluations.OrderBy(e => sign * e.Metrics[results.QualityMetric]).ThenBy(e => e.SizeBytes).ThenBy(e => e.Index).Take(count)];
    }

    public static TopChoices Analyse(SearchResults results, int percent)
    {
        ArgumentNullException.ThrowIfNull(results);
        var top = Top(results, percent);
        var depths = results.Depths;
        var layers = depths[^1];
        var dropped = depths.Count > 1;
        return new TopChoices(
            percent,
            top.Count,
            results.Evaluations.Count,
            depths,
            [.. depths.Select(d => (double)top.Count(e => e.Depth == d) / top.Count)],
            Layers("MLP width", results.IntermediateSizes, top, layers, dropped, e => e.IntermediateSizes),
            results.AttentionHeads.Count == 0 ? null : Layers("attention heads", results.AttentionHeads, top, layers, dropped, e => e.AttentionHeads));
    }

    /// <summary>The analysis as markdown: per top percentage, the depth table and the per-layer tables.</summary>
    public static string Markdown(IReadOnlyList<TopChoices> analyses, string qualityMetric, Func<int, string>? figureLink)
    {
        ArgumentNullException.ThrowIfNull(analyses);
        var text = new StringBuilder();
        foreach (var a in analyses)
        {
            text.Append(I($"### Top {a.Percent} % ({a.Count} of {a.Total} evaluated sub-networks by {qualityMetric})\n\n"));
            if (figureLink is not null)
            {
                text.Append(I($"![choices of the top {a.Percent} %]({figureLink(a.Percent)})\n\n"));
            }

            text.Append("| depth | ").Append(string.Join(" | ", a.Depths.Select(d => d.ToString(CultureInfo.InvariantCulture)))).Append(" |\n");
            text.Append("|---|").Append(string.Concat(a.Depths.Select(_ => "---:|"))).Append('\n');
            text.Append("| probability | ").Append(string.Join(" | ", a.DepthProbabilities.Select(P))).Append(" |\n\n");
            Table(text, a.Mlp);
            if (a.Heads is not null)
            {
                Table(text, a.Heads);
            }
        }

        return text.ToString();
    }

    private static LayerChoices Layers(string name, IReadOnlyList<int> choices, IReadOnlyList<EvaluatedSubnetwork> top, int layers, bool dropped, Func<EvaluatedSubnetwork, IReadOnlyList<int>> values)
    {
        var rows = new List<IReadOnlyList<double>>();
        for (var l = 0; l < layers; l++)
        {
            var layer = l;
            var row = choices.Select(c => (double)top.Count(e => layer < values(e).Count && values(e)[layer] == c) / top.Count).ToList();
            if (dropped)
            {
                row.Add((double)top.Count(e => layer >= values(e).Count) / top.Count);
            }

            rows.Add(row);
        }

        return new LayerChoices(name, [.. choices.Select(c => c.ToString(CultureInfo.InvariantCulture)), .. dropped ? new[] { Dropped } : []], rows);
    }

    private static void Table(StringBuilder text, LayerChoices choices)
    {
        text.Append(I($"| layer \\ {choices.Name} | {string.Join(" | ", choices.Columns)} |\n"));
        text.Append("|---:|").Append(string.Concat(choices.Columns.Select(_ => "---:|"))).Append('\n');
        for (var l = 0; l < choices.Probabilities.Count; l++)
        {
            text.Append(I($"| {l} | {string.Join(" | ", choices.Probabilities[l].Select(P))} |\n"));
        }

        text.Append('\n');
    }

    private static string P(double p) => p.ToString("0.00", CultureInfo.InvariantCulture);

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
