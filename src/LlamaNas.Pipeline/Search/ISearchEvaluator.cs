using LlamaNas.Core.Search;
using LlamaNas.Engine.Search;

namespace LlamaNas.Pipeline.Search;

/// <summary>
/// What a search measures its candidates with: the super-network loaded in this process (<see cref="LoadedEvaluator"/>)
/// or workers elsewhere (<see cref="ScaleOut.DistributedEvaluator"/>). Both describe a measurement the same way
/// (<see cref="SubnetworkEvaluator.Describe(SearchSpace, IReadOnlyList{SearchObjective}, SizeModel, IReadOnlyList{int}, SubnetworkArchitecture, IReadOnlyList{double}, double?)"/>),
/// so a search's outputs do not depend on where it ran.
/// </summary>
public interface ISearchEvaluator : IDisposable
{
    SearchSpace Space { get; }

    /// <summary>The objectives, in the order of every metrics and objectives vector.</summary>
    IReadOnlyList<SearchObjective> Objectives { get; }

    /// <summary>The objectives as <see cref="EvaluateInt8"/> measures them (a size objective counts INT8 bytes).</summary>
    IReadOnlyList<SearchObjective> Int8Objectives { get; }

    /// <summary>Storage format of <see cref="SubnetworkEvaluation.SizeBytes"/> for float evaluations.</summary>
    SizeModel SizeModel { get; }

    /// <summary>Every objective's hypervolume reference value (may measure the whole model).</summary>
    double[] ReferencePoint();

    /// <summary>Measures a batch; <paramref name="done"/> sees each evaluation as it is known.</summary>
    IReadOnlyList<SubnetworkEvaluation> Evaluate(IReadOnlyList<int[]> batch, Action<SubnetworkEvaluation>? done = null);

    /// <summary>Measures each sub-network's INT8 form (<see cref="SubnetworkEvaluator.EvaluateInt8"/>).</summary>
    IReadOnlyList<SubnetworkEvaluation> EvaluateInt8(IReadOnlyList<IReadOnlyList<int>> batch);

    /// <summary>Measures the whole model (a baseline; its genes are empty).</summary>
    SubnetworkEvaluation EvaluateWhole();
}

public static class SearchEvaluatorExtensions
{
    /// <summary>The evaluation behind a saved record, rebuilt without measuring (metrics from the saved objectives).</summary>
    public static SubnetworkEvaluation Describe(this ISearchEvaluator evaluator, EvaluationRecord record, double? seconds = null)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        ArgumentNullException.ThrowIfNull(record);
        var metrics = evaluator.Objectives.Select((o, k) => o.ToMetric(record.Objectives[k])).ToArray();
        return SubnetworkEvaluator.Describe(evaluator.Space, evaluator.Objectives, evaluator.SizeModel, record.Genes, evaluator.Space.Decode(record.Genes), metrics, seconds);
    }
}
