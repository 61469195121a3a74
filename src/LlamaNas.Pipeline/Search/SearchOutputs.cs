using System.Globalization;
using System.Text;
using LlamaNas.Core.IO;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Search;

namespace LlamaNas.Pipeline.Search;

/// <summary>
/// The files of a search's output folder, all written atomically (temp file + rename). <c>evaluations.csv</c>,
/// <c>history.csv</c> and <c>pareto.json</c> are derived from the saved state alone, so they are byte-identical
/// for runs that evaluate the same (deterministic) objectives, resumed or not; wall times go to <c>timings.csv</c>.
/// </summary>
public sealed class SearchOutputs(string directory)
{
    public const string StateFile = "search_state.json";
    public const string EvaluationsFile = "evaluations.csv";
    public const string TimingsFile = "timings.csv";
    public const string HistoryFile = "history.csv";
    public const string ParetoFile = "pareto.json";

    public string Directory { get; } = directory;

    public string StatePath => Path.Combine(Directory, StateFile);

    private string TimingsPath => Path.Combine(Directory, TimingsFile);

    /// <summary>The saved state, or null when this folder holds none.</summary>
    public SearchState? LoadState() => File.Exists(StatePath) ? SearchState.Load(StatePath) : null;

    /// <summary>Wall seconds by evaluation index from <c>timings.csv</c>, for the first <paramref name="count"/> evaluations; unreadable rows are skipped.</summary>
    public Dictionary<int, double> LoadTimings(int count)
    {
        var timings = new Dictionary<int, double>();
        if (!File.Exists(TimingsPath))
        {
            return timings;
        }

        foreach (var line in File.ReadLines(TimingsPath).Skip(1))
        {
            var f = line.Split(',');
            if (f.Length == 3 && int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < count
                && double.TryParse(f[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            {
                timings[index] = seconds;
            }
        }

        return timings;
    }

    /// <summary>Writes the state (with <paramref name="settings"/>), then timings and the derived files; pareto.json carries <paramref name="int8Front"/> when given.</summary>
    public void Write(SearchState state, IReadOnlyDictionary<string, string> settings, ISearchEvaluator evaluator, IReadOnlyDictionary<int, double> timings, QuantizedFront? int8Front = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(evaluator);
        var evaluations = state.Evaluations.Select((r, i) => evaluator.Describe(r, timings.TryGetValue(i, out var s) ? s : null)).ToList();
        AtomicFile.WriteAllText(TimingsPath, Timings(state, evaluations));
        (state with { Settings = settings }).Save(StatePath);
        AtomicFile.WriteAllText(Path.Combine(Directory, EvaluationsFile), Evaluations(state, evaluations, evaluator.Objectives));
        AtomicFile.WriteAllText(Path.Combine(Directory, HistoryFile), History(state));
        AtomicFile.WriteAllText(Path.Combine(Directory, ParetoFile), Pareto(state, settings, evaluations, evaluator.Objectives, int8Front));
    }

    /// <summary>Indices of the non-dominated evaluations, sorted by their objectives.</summary>
    public static IReadOnlyList<int> Front(IReadOnlyList<EvaluationRecord> evaluations) =>
        [.. Core.Search.Pareto.NonDominated([.. evaluations.Select(e => e.Objectives)])
            .OrderBy(i => evaluations[i].Objectives, Lexicographic.Instance).ThenBy(i => i)];

    /// <summary>The Pareto front as a markdown table (raw metrics; accuracy as accuracy).</summary>
    public static string Table(IReadOnlyList<SubnetworkEvaluation> evaluations, IReadOnlyList<int> front, IReadOnlyList<SearchObjective> objectives)
    {
        ArgumentNullException.ThrowIfNull(evaluations);
        ArgumentNullException.ThrowIfNull(front);
        ArgumentNullException.ThrowIfNull(objectives);
        var sb = new StringBuilder();
        sb.AppendLine($"| # | depth | hidden | mlp | heads | {string.Join(" | ", objectives.Select(o => o.MetricName))} | params |");
        sb.AppendLine($"|---:|---:|---:|---|---|{string.Concat(objectives.Select(_ => "---:|"))}---:|");
        foreach (var i in front)
        {
            var e = evaluations[i];
            var a = e.Architecture;
            sb.AppendLine(Invariant($"| {i} | {a.Depth} | {a.HiddenSize} | {string.Join(',', a.IntermediateSizes)} | {string.Join(',', a.AttentionHeads)} | {string.Join(" | ", e.Metrics.Select(m => m.ToString("G6", CultureInfo.InvariantCulture)))} | {e.Parameters:N0} |"));
        }

        return sb.ToString();
    }

    private static string Timings(SearchState state, List<SubnetworkEvaluation> evaluations)
    {
        var sb = new StringBuilder("index,batch,seconds\n");
        for (var i = 0; i < evaluations.Count; i++)
        {
            sb.Append(Invariant($"{i},{state.Evaluations[i].Batch},{(evaluations[i].Seconds is { } s ? Number(s) : string.Empty)}\n"));
        }

        return sb.ToString();
    }

    private static string Evaluations(SearchState state, List<SubnetworkEvaluation> evaluations, IReadOnlyList<SearchObjective> objectives)
    {
        var sb = new StringBuilder("index,batch,genes,depth,hidden,mlp,heads,kv_heads,");
        sb.Append(string.Join(',', objectives.Select(o => Csv(o.MetricName)))).Append(",params,size_bytes\n");
        for (var i = 0; i < evaluations.Count; i++)
        {
            var e = evaluations[i];
            var a = e.Architecture;
            sb.Append(Invariant($"{i},{state.Evaluations[i].Batch},{Ints(e.Genes)},{a.Depth},{a.HiddenSize},{Ints(a.IntermediateSizes)},{Ints(a.AttentionHeads)},{Ints(a.KeyValueHeads)},"));
            sb.Append(string.Join(',', e.Metrics.Select(Number))).Append(Invariant($",{e.Parameters},{e.SizeBytes}\n"));
        }

        return sb.ToString();
    }

    private static string History(SearchState state)
    {
        var sb = new StringBuilder("batch,evaluations,hypervolume,reference_point,predictors\n");
        var reference = string.Join(' ', state.Options.ReferencePoint.Select(Number));
        foreach (var h in state.History)
        {
            var predictors = h.Predictors is null ? string.Empty : string.Join(' ', h.Predictors.Select(p => $"{p.Name}:mape={Number(p.Mape)}"));
            sb.Append(Invariant($"{h.Batch},{h.Evaluations},{Number(h.Hypervolume)},{reference},{Csv(predictors)}\n"));
        }

        return sb.ToString();
    }

    /// <summary>
    /// The INT8 re-ranking of a front: <paramref name="quantized"/>[k] is the INT8 evaluation of float evaluation
    /// <paramref name="indices"/>[k] (with its batch); the re-ranked front is the non-dominated set among them.
    /// </summary>
    public static QuantizedFront RerankedFront(IReadOnlyList<int> indices, IReadOnlyList<int> batches, IReadOnlyList<SubnetworkEvaluation> quantized, IReadOnlyList<SearchObjective> objectives, IReadOnlyList<double> referencePoint)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(quantized);
        ArgumentNullException.ThrowIfNull(objectives);
        ArgumentNullException.ThrowIfNull(referencePoint);
        var entries = quantized.Select((e, k) => Entry(indices[k], batches[k], e, objectives)).ToList();
        var front = Front([.. entries.Select(e => new EvaluationRecord(e.Batch, e.Genes, e.Objectives))]);
        return new QuantizedFront
        {
            Scheme = "int8 weight-only: decoder linear weights symmetric per output channel with fp16 scales; embeddings, norms and LM head fp16",
            Objectives = [.. objectives.Select((o, k) => new ParetoObjective(o.PortableName, o.MetricName, o.MinimisedAs, referencePoint[k]))],
            Evaluations = entries,
            Front = [.. front.Select(k => entries[k].Index)],
        };
    }

    private static ParetoEntry Entry(int index, int batch, SubnetworkEvaluation e, IReadOnlyList<SearchObjective> objectives) => new()
    {
        Index = index,
        Batch = batch,
        Genes = e.Genes,
        Architecture = ArchitectureRecord.Of(e.Architecture),
        Metrics = objectives.Select((o, k) => (o.MetricName, e.Metrics[k])).ToDictionary(m => m.MetricName, m => m.Item2),
        Objectives = e.Objectives,
        Params = e.Parameters,
        SizeBytes = e.SizeBytes,
    };

    private static string Pareto(SearchState state, IReadOnlyDictionary<string, string> settings, List<SubnetworkEvaluation> evaluations, IReadOnlyList<SearchObjective> objectives, QuantizedFront? int8Front) => new ParetoDocument
    {
        Settings = new SortedDictionary<string, string>(settings.ToDictionary(), StringComparer.Ordinal),
        Evaluations = state.Evaluations.Count,
        Finished = state.Exhausted || state.Evaluations.Count >= state.Options.Budget,
        Objectives = [.. objectives.Select((o, k) => new ParetoObjective(o.PortableName, o.MetricName, o.MinimisedAs, state.Options.ReferencePoint[k]))],
        Hypervolume = state.History.Count > 0 ? state.History[^1].Hypervolume : 0,
        Front = [.. Front(state.Evaluations).Select(i => Entry(i, state.Evaluations[i].Batch, evaluations[i], objectives))],
        Int8Front = int8Front,
    }.ToJson();

    private static string Ints(IEnumerable<int> values) => string.Join(' ', values.Select(v => v.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Shortest round-trip form, so the CSV holds exactly the saved values.</summary>
    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Csv(string field) =>
        field.AsSpan().IndexOfAny(",\"\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Orders objective vectors lexicographically.</summary>
    private sealed class Lexicographic : IComparer<IReadOnlyList<double>>
    {
        public static Lexicographic Instance { get; } = new();

        public int Compare(IReadOnlyList<double>? x, IReadOnlyList<double>? y)
        {
            ArgumentNullException.ThrowIfNull(x);
            ArgumentNullException.ThrowIfNull(y);
            for (var k = 0; k < Math.Min(x.Count, y.Count); k++)
            {
                var c = x[k].CompareTo(y[k]);
                if (c != 0)
                {
                    return c;
                }
            }

            return x.Count.CompareTo(y.Count);
        }
    }
}
