using System.Globalization;
using System.Text;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Pipeline.Build;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Pipeline.Reporting;

/// <summary>One evaluated sub-network as <c>evaluations.csv</c> records it: raw metrics by column name.</summary>
public sealed record EvaluatedSubnetwork(int Index, int Depth, IReadOnlyList<int> IntermediateSizes, IReadOnlyList<int> AttentionHeads, IReadOnlyDictionary<string, double> Metrics, long SizeBytes);

/// <summary>A model drawn apart from the evaluations (the base model, the selected sub-network).</summary>
public sealed record MarkedModel(string Label, IReadOnlyDictionary<string, double> Metrics, long SizeBytes);

/// <summary>
/// What the figures and the search-space analysis are drawn from: a search folder's <c>pareto.json</c>,
/// <c>evaluations.csv</c> (every evaluation) and <c>search_state.json</c> (the space's choices), plus the base model and
/// the selection when they are known.
/// </summary>
public sealed record SearchResults
{
    public required ParetoDocument Pareto { get; init; }

    public required IReadOnlyList<EvaluatedSubnetwork> Evaluations { get; init; }

    /// <summary>Depth choices of the space searched.</summary>
    public required IReadOnlyList<int> Depths { get; init; }

    /// <summary>MLP width choices of the space (any layer).</summary>
    public required IReadOnlyList<int> IntermediateSizes { get; init; }

    /// <summary>Head-count choices, empty when head counts were not searched.</summary>
    public required IReadOnlyList<int> AttentionHeads { get; init; }

    public MarkedModel? BaseModel { get; init; }

    public MarkedModel? Selected { get; init; }

    public long? BudgetBytes { get; init; }

    /// <summary>The quality objective's metric column: the first objective.</summary>
    public string QualityMetric => Pareto.Objectives[0].Metric;

    public bool QualityLowerIsBetter => Pareto.Objectives[0].MinimisedAs != "-metric";

    /// <summary>The measured speed objective (throughput or latency), when the search had one.</summary>
    public ParetoObjective? Speed => Pareto.Objectives.Skip(1).FirstOrDefault(o => o.Metric is "throughput_tokens_per_s" or "latency_s_per_token");

    /// <summary>
    /// Reads a search folder; <paramref name="baselineFile"/> and <paramref name="selectionFile"/> are used when they exist.
    /// LNAS0550 when a required file is missing or unreadable, or the files disagree.
    /// </summary>
    public static SearchResults Load(string searchFolder, string? baselineFile, string? selectionFile)
    {
        ArgumentNullException.ThrowIfNull(searchFolder);
        if (!Directory.Exists(searchFolder))
        {
            throw Incomplete(searchFolder, "the search folder does not exist.");
        }

        foreach (var name in new[] { SearchOutputs.ParetoFile, SearchOutputs.EvaluationsFile, SearchOutputs.StateFile })
        {
            if (!File.Exists(Path.Combine(searchFolder, name)))
            {
                throw Incomplete(Path.Combine(searchFolder, name), $"{name} is missing; run (or resume) `llamanas search` into this folder first.");
            }
        }

        ParetoDocument pareto;
        SearchState state;
        try
        {
            pareto = ParetoDocument.Load(Path.Combine(searchFolder, SearchOutputs.ParetoFile));
            state = SearchState.Load(Path.Combine(searchFolder, SearchOutputs.StateFile));
        }
        catch (LlamaNasException e)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchReportFolderIncomplete, $"the search folder cannot be reported on: {e.Message}", new DiagnosticLocation(searchFolder), e);
        }

        if (pareto.Objectives.Count == 0)
        {
            throw Incomplete(Path.Combine(searchFolder, SearchOutputs.ParetoFile), "pareto.json names no objectives.");
        }

        var evaluationsFile = Path.Combine(searchFolder, SearchOutputs.EvaluationsFile);
        var evaluations = ReadEvaluations(evaluationsFile, pareto.Objectives);
        if (evaluations.Count == 0 || evaluations.Count != pareto.Evaluations)
        {
            throw Incomplete(evaluationsFile, string.Create(CultureInfo.InvariantCulture, $"evaluations.csv holds {evaluations.Count} evaluations, pareto.json counts {pareto.Evaluations}; the folder is empty or was written by two searches."));
        }

        var (depths, mlp, heads) = Choices(state.Space, evaluations);
        var baseline = baselineFile is not null && File.Exists(baselineFile) ? ReadOptional(baselineFile, Baseline.Load) : null;
        var selection = selectionFile is not null && File.Exists(selectionFile) ? ReadOptional(selectionFile, Selection.Load) : null;
        return new SearchResults
        {
            Pareto = pareto,
            Evaluations = evaluations,
            Depths = depths,
            IntermediateSizes = mlp,
            AttentionHeads = heads,
            BaseModel = baseline is null ? null : new MarkedModel("base model", baseline.BaseModel.Metrics, baseline.BaseModel.SizeBytes),
            Selected = selection is null ? null : new MarkedModel(string.Create(CultureInfo.InvariantCulture, $"selected (#{selection.Selected.Index}{(selection.Quantization == "int8" ? ", INT8" : string.Empty)})"), selection.Selected.Metrics, selection.Selected.SizeBytes),
            BudgetBytes = selection?.BudgetBytes,
        };
    }

    /// <summary>
    /// The space's choices from the state's signature (<c>depths=3,5;IntermediateSize@0=86,172;…</c>), joined with what
    /// the evaluations hold, so a choice no evaluation took still gets its column.
    /// </summary>
    internal static (IReadOnlyList<int> Depths, IReadOnlyList<int> Mlp, IReadOnlyList<int> Heads) Choices(string signature, IReadOnlyList<EvaluatedSubnetwork> evaluations)
    {
        var depths = new SortedSet<int>(evaluations.Select(e => e.Depth));
        var mlp = new SortedSet<int>(evaluations.SelectMany(e => e.IntermediateSizes));
        var heads = new SortedSet<int>(evaluations.SelectMany(e => e.AttentionHeads));
        var headsSearched = heads.Count > 1;
        foreach (var part in signature.Split(';'))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                continue;
            }

            var name = part[..eq];
            var values = part[(eq + 1)..].Split(',').Select(v => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : (int?)null).OfType<int>();
            if (name == "depths")
            {
                depths.UnionWith(values);
            }
            else if (name.StartsWith(nameof(GeneKind.IntermediateSize) + "@", StringComparison.Ordinal))
            {
                mlp.UnionWith(values);
            }
            else if (name.StartsWith(nameof(GeneKind.AttentionHeads) + "@", StringComparison.Ordinal))
            {
                heads.UnionWith(values);
                headsSearched = true;
            }
        }

        return ([.. depths], [.. mlp], headsSearched ? [.. heads] : []);
    }

    private static List<EvaluatedSubnetwork> ReadEvaluations(string path, IReadOnlyList<ParetoObjective> objectives)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0)
        {
            throw Incomplete(path, "evaluations.csv is empty.");
        }

        var header = Fields(lines[0]);
        int Column(string name)
        {
            var i = header.IndexOf(name);
            return i >= 0 ? i : throw Incomplete(path, $"evaluations.csv has no column '{name}'.");
        }

        var index = Column("index");
        var depth = Column("depth");
        var mlp = Column("mlp");
        var heads = Column("heads");
        var size = Column("size_bytes");
        var metrics = objectives.Select(o => (o.Metric, Column(o.Metric))).ToList();
        var rows = new List<EvaluatedSubnetwork>();
        for (var r = 1; r < lines.Length; r++)
        {
            if (lines[r].Length == 0)
            {
                continue;
            }

            var f = Fields(lines[r]);
            try
            {
                rows.Add(new EvaluatedSubnetwork(
                    int.Parse(f[index], CultureInfo.InvariantCulture),
                    int.Parse(f[depth], CultureInfo.InvariantCulture),
                    Ints(f[mlp]),
                    Ints(f[heads]),
                    metrics.ToDictionary(m => m.Metric, m => double.Parse(f[m.Item2], NumberStyles.Float, CultureInfo.InvariantCulture)),
                    long.Parse(f[size], CultureInfo.InvariantCulture)));
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentOutOfRangeException)
            {
                throw Incomplete(path, string.Create(CultureInfo.InvariantCulture, $"evaluations.csv line {r + 1} cannot be read: {e.Message}"));
            }
        }

        return rows;
    }

    private static int[] Ints(string field) => [.. field.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture))];

    /// <summary>Splits one CSV line; fields with commas or quotes are quoted, quotes doubled.</summary>
    internal static List<string> Fields(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c != '"')
                {
                    field.Append(c);
                }
                else if (i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else
                {
                    quoted = false;
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return fields;
    }

    private static T ReadOptional<T>(string path, Func<string, T> load)
    {
        try
        {
            return load(path);
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            throw Incomplete(path, $"{Path.GetFileName(path)} could not be read: {e.Message}");
        }
    }

    private static LlamaNasException Incomplete(string path, string message) =>
        new(DiagnosticCodes.SearchReportFolderIncomplete, message, new DiagnosticLocation(path));
}
