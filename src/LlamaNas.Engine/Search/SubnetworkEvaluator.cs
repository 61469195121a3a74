using System.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Modeling;

namespace LlamaNas.Engine.Search;

/// <summary>
/// One real evaluation of a sub-network: its canonical genes and decoded architecture, every objective's raw
/// metric (accuracy as accuracy) and minimised value, its analytic parameter count and stored size, and the
/// wall time the evaluation took (null when it is not known, e.g. for evaluations read back from saved state).
/// </summary>
public sealed record SubnetworkEvaluation(
    IReadOnlyList<int> Genes,
    SubnetworkArchitecture Architecture,
    IReadOnlyList<double> Metrics,
    IReadOnlyList<double> Objectives,
    long Parameters,
    long SizeBytes,
    double? Seconds);

/// <summary>
/// Evaluates gene vectors of <see cref="SearchSpace"/> on a loaded super-network for real: decode, activate the
/// sub-network (views only, no copies), measure every objective, and go back to the whole model.
/// </summary>
public sealed class SubnetworkEvaluator
{
    private readonly LlamaForCausalLM _model;

    /// <param name="sizeModel">Storage format of the reported <see cref="SubnetworkEvaluation.SizeBytes"/>.</param>
    public SubnetworkEvaluator(LlamaForCausalLM model, SearchSpace space, IReadOnlyList<SubnetworkObjective> objectives, SizeModel sizeModel)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(objectives);
        ArgumentNullException.ThrowIfNull(sizeModel);
        (_model, Space, Objectives, SizeModel) = (model, space, objectives, sizeModel);
        Int8Objectives = [.. objectives.Select(o => o.ForInt8())];
    }

    /// <summary>The objectives as <see cref="EvaluateInt8"/> measures them (a size objective counts INT8 bytes).</summary>
    public IReadOnlyList<SubnetworkObjective> Int8Objectives { get; }

    public SearchSpace Space { get; }

    public IReadOnlyList<SubnetworkObjective> Objectives { get; }

    public SizeModel SizeModel { get; }

    /// <summary>Every objective's <see cref="SubnetworkObjective.Reference"/> (may measure the whole model).</summary>
    public double[] ReferencePoint() => [.. Objectives.Select(o => o.Reference(_model))];

    /// <summary>Measures one sub-network; the whole model is active again afterwards, also when a measurement fails.</summary>
    public SubnetworkEvaluation Evaluate(IReadOnlyList<int> genes)
    {
        var canonical = Space.Canonicalize(genes);
        return EvaluateArchitecture(Space.Decode(canonical)) with { Genes = canonical };
    }

    /// <summary>
    /// Measures an architecture that need not be in the space (e.g. the whole model as a baseline); its
    /// <see cref="SubnetworkEvaluation.Genes"/> are empty.
    /// </summary>
    public SubnetworkEvaluation EvaluateArchitecture(SubnetworkArchitecture arch) => Measure(arch, _ => null);

    /// <summary>Measures <paramref name="arch"/>'s objectives, except those <paramref name="known"/> already gives.</summary>
    private SubnetworkEvaluation Measure(SubnetworkArchitecture arch, Func<int, double?> known) => Measure(arch, Objectives, SizeModel, known, null);

    /// <summary>
    /// Measures <paramref name="objectives"/> on <paramref name="arch"/> (its INT8 form with <paramref name="int8"/>),
    /// except those <paramref name="known"/> already gives; the whole float model is active again afterwards.
    /// </summary>
    private SubnetworkEvaluation Measure(SubnetworkArchitecture arch, IReadOnlyList<SubnetworkObjective> objectives, SizeModel sizeModel, Func<int, double?> known, Int8Execution? int8)
    {
        ArgumentNullException.ThrowIfNull(arch);
        var sw = Stopwatch.StartNew();
        double[] metrics;
        _model.ActivateSubnetwork(arch);
        try
        {
            using var quantized = int8 is { } execution ? _model.QuantizeActive(execution) : null;
            metrics = [.. objectives.Select((o, k) => known(k) ?? o.Measure(_model, arch))];
        }
        finally
        {
            _model.ActivateFull();
        }

        return Describe([], arch, metrics, sw.Elapsed.TotalSeconds, objectives, sizeModel);
    }

    /// <summary>
    /// Measures the INT8 form of <paramref name="genes"/>' sub-network (<see cref="LlamaForCausalLM.QuantizeActive"/>)
    /// on <see cref="Int8Objectives"/>, its size as the INT8 export's bytes; the whole float model is active again afterwards.
    /// </summary>
    public SubnetworkEvaluation EvaluateInt8(IReadOnlyList<int> genes, Int8Execution execution = Int8Execution.Dequantized)
    {
        var canonical = Space.Canonicalize(genes);
        return Measure(Space.Decode(canonical), Int8Objectives, SizeModel.Int8Linear(), _ => null, execution) with { Genes = canonical };
    }

    /// <summary>
    /// Whether <see cref="Evaluate(IReadOnlyList{int[]}, Action{SubnetworkEvaluation}?)"/> measures the objectives that
    /// can share work (perplexity: the blocks of common prefixes) for the whole batch at once. The metrics are the same
    /// either way; only the time differs.
    /// </summary>
    public bool SharePrefixes { get; init; } = true;

    /// <summary>The same evaluator (model, space, objectives, size model) with <see cref="SharePrefixes"/> set to <paramref name="share"/>.</summary>
    public SubnetworkEvaluator WithSharePrefixes(bool share) => new(_model, Space, Objectives, SizeModel) { SharePrefixes = share };

    /// <summary>
    /// Measures a batch in order, handing each result to <paramref name="done"/> as it completes. With
    /// <see cref="SharePrefixes"/>, shareable objectives are measured for the whole batch first, and each evaluation's
    /// <see cref="SubnetworkEvaluation.Seconds"/> holds an even share of that time.
    /// </summary>
    public IReadOnlyList<SubnetworkEvaluation> Evaluate(IReadOnlyList<int[]> batch, Action<SubnetworkEvaluation>? done = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var canonical = batch.Select(Space.Canonicalize).ToList();
        var archs = canonical.Select(Space.Decode).ToList();
        var shared = new IReadOnlyList<double>?[Objectives.Count];
        var sharedSeconds = 0.0;
        if (SharePrefixes && batch.Count > 1)
        {
            var sw = Stopwatch.StartNew();
            for (var k = 0; k < Objectives.Count; k++)
            {
                shared[k] = Objectives[k].MeasureShared(archs);
            }

            sharedSeconds = sw.Elapsed.TotalSeconds / batch.Count;
        }

        var results = new List<SubnetworkEvaluation>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            var r = Measure(archs[i], k => shared[k]?[i]) with { Genes = canonical[i] };
            r = r with { Seconds = r.Seconds + sharedSeconds };
            done?.Invoke(r);
            results.Add(r);
        }

        return results;
    }

    /// <summary>
    /// The evaluation that produced <paramref name="record"/>, rebuilt without measuring: metrics from the saved
    /// objectives (exact: negation), sizes recomputed; <paramref name="seconds"/> if known.
    /// </summary>
    public SubnetworkEvaluation Describe(EvaluationRecord record, double? seconds = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        var arch = Space.Decode(record.Genes);
        return Describe(record.Genes, arch, [.. Objectives.Select((o, k) => o.Spec.ToMetric(record.Objectives[k]))], seconds, Objectives, SizeModel);
    }

    private SubnetworkEvaluation Describe(IReadOnlyList<int> genes, SubnetworkArchitecture arch, double[] metrics, double? seconds, IReadOnlyList<SubnetworkObjective> objectives, SizeModel sizeModel) =>
        Describe(Space, [.. objectives.Select(o => o.Spec)], sizeModel, genes, arch, metrics, seconds);

    /// <summary>
    /// An evaluation from measured <paramref name="metrics"/> (one per objective, in their order): objectives by the
    /// specs' conversions, parameters and size by <paramref name="space"/>'s analytic counts. Shared with evaluators
    /// that measure elsewhere (the sharded search's workers), so both describe a measurement identically.
    /// </summary>
    public static SubnetworkEvaluation Describe(SearchSpace space, IReadOnlyList<SearchObjective> objectives, SizeModel sizeModel, IReadOnlyList<int> genes, SubnetworkArchitecture arch, IReadOnlyList<double> metrics, double? seconds)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(objectives);
        ArgumentNullException.ThrowIfNull(metrics);
        return new(genes, arch, metrics, [.. objectives.Select((o, k) => o.ToObjective(metrics[k]))], space.ParameterCount(arch), space.SizeBytes(arch, sizeModel), seconds);
    }
}
