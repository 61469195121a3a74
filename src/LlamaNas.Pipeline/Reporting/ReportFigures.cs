using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace LlamaNas.Pipeline.Reporting;

/// <summary>
/// The report's figures, drawn with ScottPlot: quality against size (and against the measured speed, when searched),
/// and one heat map of the search-space analysis per top percentage. Each is rendered as PNG and SVG bytes; the
/// drawing uses no clock, path or random state, so the same inputs give the same SVG.
/// </summary>
public static partial class ReportFigures
{
    public const string Folder = "figures";
    public const string QualityVsSize = "quality_vs_size";
    public const string QualityVsSpeed = "quality_vs_speed";

    private const int Width = 800;
    private const int Height = 560;
    private const double BytesPerMb = 1e6;

    /// <summary>The figure names (without extension) drawn for a search with or without a speed objective.</summary>
    public static IReadOnlyList<string> Names(bool speed) =>
        [QualityVsSize, .. speed ? new[] { QualityVsSpeed } : [], .. SearchSpaceAnalysis.Percents.Select(SearchSpace)];

    public static string SearchSpace(int percent) => string.Create(CultureInfo.InvariantCulture, $"search_space_top{percent}");

    /// <summary>Every figure as <c>figures/&lt;name&gt;.png|svg</c> relative paths with their bytes, in a fixed order.</summary>
    public static IReadOnlyList<(string Path, byte[] Bytes)> Render(SearchResults results, IReadOnlyList<TopChoices> analyses)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(analyses);
        var plots = new List<(string Name, Plot Plot)> { (QualityVsSize, Tradeoff(results, null)) };
        if (results.Speed is { } speed)
        {
            plots.Add((QualityVsSpeed, Tradeoff(results, speed)));
        }

        plots.AddRange(analyses.Select(a => (SearchSpace(a.Percent), HeatMap(a, results.QualityMetric))));
        var files = new List<(string, byte[])>();
        foreach (var (name, plot) in plots)
        {
            files.Add(($"{Folder}/{name}.png", plot.GetImageBytes(Width, Height, ImageFormat.Png)));
            files.Add(($"{Folder}/{name}.svg", Encoding.UTF8.GetBytes(NumberIds(plot.GetSvgXml(Width, Height)))));
        }

        return files;
    }

    /// <summary>
    /// Skia's SVG canvas names clip paths and images from process-wide hexadecimal counters (<c>cl_4</c>, then <c>cl_6</c> for the
    /// next figure); renumbering them by first appearance makes a figure's SVG depend on the figure alone.
    /// </summary>
    internal static string NumberIds(string svg)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        return SvgId().Replace(svg, m =>
        {
            if (!ids.TryGetValue(m.Value, out var id))
            {
                var prefix = m.Groups["prefix"].Value;
                var n = counts.GetValueOrDefault(prefix);
                counts[prefix] = n + 1;
                id = string.Create(CultureInfo.InvariantCulture, $"{prefix}_{n}");
                ids[m.Value] = id;
            }

            return id;
        });
    }

    /// <summary>An element id where it is defined (<c>id="…"</c>) or referenced (<c>#…</c>).</summary>
    [GeneratedRegex(@"(?<=id=""|#)(?<prefix>[a-z]+)_[0-9a-f]+\b")]
    private static partial Regex SvgId();

    /// <summary>Quality against size in MB, or against the speed objective's metric.</summary>
    private static Plot Tradeoff(SearchResults results, Search.ParetoObjective? speed)
    {
        var quality = results.QualityMetric;
        var logQuality = quality.StartsWith("perplexity", StringComparison.Ordinal);
        double X(IReadOnlyDictionary<string, double> metrics, long size) => speed is null ? size / BytesPerMb : metrics[speed.Metric];
        double Y(IReadOnlyDictionary<string, double> metrics) => logQuality ? Math.Log10(metrics[quality]) : metrics[quality];

        var plot = new Plot();
        var all = results.Evaluations;
        var points = plot.Add.ScatterPoints(all.Select(e => X(e.Metrics, e.SizeBytes)).ToArray(), all.Select(e => Y(e.Metrics)).ToArray(), Colors.Gray.WithAlpha(0.6));
        points.LegendText = string.Create(CultureInfo.InvariantCulture, $"evaluated ({all.Count})");
        points.MarkerSize = 6;

        // The two-objective front of the plotted pair; with two search objectives it is pareto.json's front.
        var xLowerIsBetter = speed is null || speed.MinimisedAs != "-metric";
        var front = Front(all, e => X(e.Metrics, e.SizeBytes), e => e.Metrics[quality], xLowerIsBetter, results.QualityLowerIsBetter);
        var line = plot.Add.Scatter(front.Select(e => X(e.Metrics, e.SizeBytes)).ToArray(), front.Select(e => Y(e.Metrics)).ToArray(), Colors.C0);
        line.LegendText = string.Create(CultureInfo.InvariantCulture, $"Pareto front ({front.Count})");
        line.MarkerSize = 7;
        line.LineWidth = 2;

        // The staircase bounds what the front attains: along x towards worse values the quality holds until the next point.
        line.ConnectStyle = xLowerIsBetter ? ConnectStyle.StepHorizontal : ConnectStyle.StepVertical;

        if (results.Pareto.Int8Front is { } int8)
        {
            // The front "shifted left": every float front member again as its INT8 form, and the front among those.
            var quantized = int8.Evaluations.Select(e => new EvaluatedSubnetwork(e.Index, e.Architecture.Depth, e.Architecture.IntermediateSizes, e.Architecture.AttentionHeads, e.Metrics, e.SizeBytes)).ToList();
            var qFront = Front(quantized, e => X(e.Metrics, e.SizeBytes), e => e.Metrics[quality], xLowerIsBetter, results.QualityLowerIsBetter);
            var qLine = plot.Add.Scatter(qFront.Select(e => X(e.Metrics, e.SizeBytes)).ToArray(), qFront.Select(e => Y(e.Metrics)).ToArray(), Colors.C1);
            qLine.LegendText = string.Create(CultureInfo.InvariantCulture, $"front after INT8 ({qFront.Count} of {quantized.Count} quantized)");
            qLine.MarkerSize = 7;
            qLine.LineWidth = 2;
            qLine.LinePattern = LinePattern.Dotted;
            qLine.ConnectStyle = line.ConnectStyle;
            var rest = quantized.Except(qFront).ToList();
            if (rest.Count > 0)
            {
                var qPoints = plot.Add.ScatterPoints(rest.Select(e => X(e.Metrics, e.SizeBytes)).ToArray(), rest.Select(e => Y(e.Metrics)).ToArray(), Colors.C1.WithAlpha(0.5));
                qPoints.MarkerSize = 6;
            }
        }

        Mark(plot, results.BaseModel, MarkerShape.FilledDiamond, Colors.Red, X, Y, speed);
        Mark(plot, results.Selected, MarkerShape.FilledTriangleUp, Colors.Green, X, Y, speed);
        if (speed is null && results.BudgetBytes is { } budget)
        {
            var v = plot.Add.VerticalLine(budget / BytesPerMb, 1.5f, Colors.Orange, LinePattern.Dashed);
            v.LegendText = string.Create(CultureInfo.InvariantCulture, $"size budget ({budget / BytesPerMb:G4} MB)");
        }

        plot.XLabel(speed is null ? "size (MB)" : speed.Metric switch
        {
            "throughput_tokens_per_s" => "throughput (prefill tokens/s)",
            _ => "latency (s per decoded token)",
        });
        plot.YLabel(logQuality ? $"{quality} (log scale)" : quality);
        plot.Title(speed is null ? "quality vs size" : "quality vs speed");
        if (logQuality)
        {
            var int8Metrics = results.Pareto.Int8Front?.Evaluations.Select(e => e.Metrics) ?? [];
            LogTicks(plot, all.Select(e => e.Metrics).Concat(int8Metrics).Concat(new[] { results.BaseModel, results.Selected }.OfType<MarkedModel>().Select(m => m.Metrics)).Where(m => m.ContainsKey(quality)).Select(Y));
        }

        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static void Mark(Plot plot, MarkedModel? model, MarkerShape shape, Color color, Func<IReadOnlyDictionary<string, double>, long, double> x, Func<IReadOnlyDictionary<string, double>, double> y, Search.ParetoObjective? speed)
    {
        if (model is null || (speed is not null && !model.Metrics.ContainsKey(speed.Metric)))
        {
            return;
        }

        var marker = plot.Add.Marker(x(model.Metrics, model.SizeBytes), y(model.Metrics), shape, 14, color);
        marker.LegendText = model.Label;
    }

    /// <summary>Non-dominated evaluations of the plotted pair, by ascending x.</summary>
    internal static List<EvaluatedSubnetwork> Front(IReadOnlyList<EvaluatedSubnetwork> all, Func<EvaluatedSubnetwork, double> x, Func<EvaluatedSubnetwork, double> y, bool xLower, bool yLower)
    {
        double Cx(EvaluatedSubnetwork e) => xLower ? x(e) : -x(e);
        double Cy(EvaluatedSubnetwork e) => yLower ? y(e) : -y(e);
        return [.. all.Where(e => !all.Any(o => Cx(o) <= Cx(e) && Cy(o) <= Cy(e) && (Cx(o) < Cx(e) || Cy(o) < Cy(e))))
            .GroupBy(e => (Cx(e), Cy(e))).Select(g => g.OrderBy(e => e.Index).First())
            .OrderBy(x).ThenBy(e => e.Index)];
    }

    /// <summary>Ticks of the log10 quality axis at round metric values, labelled with the metric itself.</summary>
    private static void LogTicks(Plot plot, IEnumerable<double> logValues)
    {
        var values = logValues.ToList();

        // The axis shows a margin around the data; ticks there too, so no point lies beyond the last label.
        var margin = 0.1 * (values.Max() - values.Min());
        var ticks = LogTickValues(values.Min() - margin, values.Max() + margin);
        plot.Axes.Left.TickGenerator = ticks.Count >= 2
            ? new NumericManual([.. ticks.Select(v => new Tick(Math.Log10(v), v.ToString("G4", CultureInfo.InvariantCulture)))])
            : new NumericAutomatic { LabelFormatter = y => Math.Pow(10, y).ToString("G4", CultureInfo.InvariantCulture) };
    }

    /// <summary>
    /// Metric values between 10^<paramref name="min"/> and 10^<paramref name="max"/> at powers of ten, else at 1, 2, 5
    /// × 10^k, else at every integer multiple, whichever first gives four; a narrower range gets what the last gives.
    /// </summary>
    internal static IReadOnlyList<double> LogTickValues(double min, double max)
    {
        var ticks = new List<double>();
        foreach (var mantissas in new[] { new[] { 1.0 }, [1.0, 2, 5], [1.0, 2, 3, 4, 5, 6, 7, 8, 9] })
        {
            ticks.Clear();
            for (var k = (int)Math.Floor(min); k <= (int)Math.Ceiling(max); k++)
            {
                ticks.AddRange(mantissas.Where(m => Math.Log10(m) + k >= min && Math.Log10(m) + k <= max).Select(m => m * Math.Pow(10, k)));
            }

            if (ticks.Count >= 4)
            {
                break;
            }
        }

        return ticks;
    }

    /// <summary>Layers (rows, layer 0 at the top) × choices (MLP widths, then head counts), one cell per probability.</summary>
    private static Plot HeatMap(TopChoices analysis, string qualityMetric)
    {
        var groups = new List<LayerChoices> { analysis.Mlp };
        if (analysis.Heads is { } heads)
        {
            groups.Add(heads);
        }

        var columns = groups.SelectMany(g => g.Columns.Select(c => g == analysis.Mlp ? $"MLP {c}" : $"heads {c}")).ToList();
        var layers = analysis.Mlp.Probabilities.Count;
        var data = new double[layers, columns.Count];
        for (var l = 0; l < layers; l++)
        {
            var c = 0;
            foreach (var g in groups)
            {
                foreach (var p in g.Probabilities[l])
                {
                    data[l, c++] = p;
                }
            }
        }

        var plot = new Plot();
        var map = plot.Add.Heatmap(data);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.ManualRange = new ScottPlot.Range(0, 1);
        map.Rectangle = new CoordinateRect(-0.5, columns.Count - 0.5, -0.5, layers - 0.5);
        for (var l = 0; l < layers; l++)
        {
            for (var c = 0; c < columns.Count; c++)
            {
                var label = plot.Add.Text(data[l, c].ToString("0.00", CultureInfo.InvariantCulture), c, layers - 1 - l);
                label.LabelAlignment = Alignment.MiddleCenter;
                label.LabelFontColor = data[l, c] > 0.5 ? Colors.Black : Colors.White;
                label.LabelFontSize = 12;
            }
        }

        plot.Add.ColorBar(map).Label = "probability";
        plot.Axes.Bottom.TickGenerator = new NumericManual([.. columns.Select((name, c) => new Tick(c, name))]);
        plot.Axes.Left.TickGenerator = new NumericManual([.. Enumerable.Range(0, layers).Select(l => new Tick(layers - 1 - l, l.ToString(CultureInfo.InvariantCulture)))]);
        plot.XLabel("choice");
        plot.YLabel("layer");
        var depth = string.Join(", ", analysis.Depths.Select((d, i) => string.Create(CultureInfo.InvariantCulture, $"{d}: {analysis.DepthProbabilities[i]:0.00}")));
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"top {analysis.Percent} % by {qualityMetric} ({analysis.Count} of {analysis.Total}); depth {depth}"), 13);
        plot.Axes.SetLimits(-0.5, columns.Count - 0.5, -0.5, layers - 0.5);
        return plot;
    }
}
