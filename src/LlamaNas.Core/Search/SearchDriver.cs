using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search.Predictors;

using LlamaNas.Core.Randomness;

namespace LlamaNas.Core.Search;

/// <summary>
/// The outer loop shared by every <see cref="SearchAlgorithm"/>: ask the strategy for a batch of new sub-networks
/// (canonically distinct, never evaluated before, never beyond the budget), evaluate it for real, record it and
/// the hypervolume of everything so far. State can be saved after any batch and resumed to the same result.
/// </summary>
public abstract class SearchDriver
{
    private readonly List<EvaluationRecord> _evaluations = [];
    private readonly List<BatchRecord> _history = [];
    private readonly HashSet<IReadOnlyList<int>> _evaluated = new(GenesComparer.Instance);

    protected SearchDriver(SearchSpace space, SearchOptions options, SearchState? resume)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        (Space, Options) = (space, options);
        Rng = new Xoshiro256StarStar(options.Seed);
        if (resume is not null)
        {
            Restore(resume);
        }
    }

    public SearchSpace Space { get; }

    public SearchOptions Options { get; }

    public int Batches { get; private set; }

    public bool Exhausted { get; private set; }

    public IReadOnlyList<EvaluationRecord> Evaluations => _evaluations;

    public IReadOnlyList<BatchRecord> History => _history;

    public bool IsFinished => Exhausted || _evaluations.Count >= Options.Budget;

    /// <summary>The one random stream of the run, saved with its state.</summary>
    protected Xoshiro256StarStar Rng { get; private set; }

    public static SearchDriver Create(SearchSpace space, SearchOptions options, SearchState? resume = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Algorithm switch
        {
            SearchAlgorithm.Linas => new Linas(space, options, resume),
            SearchAlgorithm.Nsga2 => new Nsga2Search(space, options, resume),
            _ => new RandomSearch(space, options, resume),
        };
    }

    /// <summary>The non-dominated evaluations so far.</summary>
    public IReadOnlyList<EvaluationRecord> ParetoFront() =>
        [.. Pareto.NonDominated([.. _evaluations.Select(e => e.Objectives)]).Select(i => _evaluations[i])];

    /// <summary>
    /// Runs batches until the budget is spent, the space is exhausted or <paramref name="maxBatches"/> batches
    /// ran; <paramref name="afterBatch"/> sees the state after each batch (to save a checkpoint). Returns the
    /// Pareto front.
    /// </summary>
    public IReadOnlyList<EvaluationRecord> Run(Func<IReadOnlyList<int[]>, double[][]> evaluate, int maxBatches = int.MaxValue, Action<SearchState>? afterBatch = null)
    {
        for (var b = 0; b < maxBatches && Step(evaluate); b++)
        {
            afterBatch?.Invoke(SaveState());
        }

        return ParetoFront();
    }

    /// <summary>Proposes, evaluates and records one batch; false when there was nothing left to do.</summary>
    public bool Step(Func<IReadOnlyList<int[]>, double[][]> evaluate)
    {
        ArgumentNullException.ThrowIfNull(evaluate);
        if (IsFinished)
        {
            return false;
        }

        var room = Math.Min(Options.PopulationSize, Options.Budget - _evaluations.Count);
        var proposal = Propose(room);
        var genes = Options.IncludeExtremes && Batches == 0 ? Extremes().Concat(proposal.Genes) : proposal.Genes;
        var batch = new List<int[]>();
        var keys = new HashSet<IReadOnlyList<int>>(GenesComparer.Instance);
        foreach (var canonical in genes.Select(Space.Canonicalize))
        {
            if (batch.Count < room && !_evaluated.Contains(canonical) && keys.Add(canonical))
            {
                batch.Add(canonical);
            }
        }

        if (batch.Count == 0)
        {
            Exhausted = true;
            return false;
        }

        var objectives = CheckedEvaluate(evaluate, batch);
        var records = batch.Select((g, i) => new EvaluationRecord(Batches, g, objectives[i])).ToList();
        foreach (var r in records)
        {
            _evaluations.Add(r);
            _evaluated.Add(r.Genes);
        }

        Observe(records);
        var hypervolume = Hypervolume.Compute(_evaluations.Select(e => e.Objectives), Options.ReferencePoint);
        _history.Add(new BatchRecord(Batches, _evaluations.Count, hypervolume, proposal.Predictors));
        Batches++;
        return true;
    }

    public SearchState SaveState() => new()
    {
        Options = Options,
        Space = Space.Signature(),
        Rng = Rng.SaveState(),
        Batches = Batches,
        Exhausted = Exhausted,
        Evaluations = [.. _evaluations],
        History = [.. _history],
        Population = SavePopulation(),
    };

    /// <summary>Up to <paramref name="count"/> new gene vectors (the driver drops repeats and evaluated ones).</summary>
    protected abstract Proposal Propose(int count);

    /// <summary>Sees each evaluated batch (in proposal order, canonical genes).</summary>
    protected virtual void Observe(IReadOnlyList<EvaluationRecord> batch)
    {
    }

    protected virtual IReadOnlyList<PopulationMember>? SavePopulation() => null;

    protected bool IsEvaluated(IReadOnlyList<int> genes) => _evaluated.Contains(Space.Canonicalize(genes));

    /// <summary>The largest and the smallest gene vectors (every gene at its last, then its first choice).</summary>
    private IEnumerable<int[]> Extremes() =>
        [[.. Enumerable.Range(0, Space.GeneCount).Select(Space.UpperBound)], new int[Space.GeneCount]];

    /// <summary>Random gene vectors not evaluated yet and distinct from each other.</summary>
    protected List<int[]> RandomUnevaluated(int count) =>
        SearchSampling.DistinctRandom(Space, Rng, count, new HashSet<IReadOnlyList<int>>(_evaluated, GenesComparer.Instance));

    private double[][] CheckedEvaluate(Func<IReadOnlyList<int[]>, double[][]> evaluate, List<int[]> batch)
    {
        var objectives = evaluate(batch);
        var m = Options.ReferencePoint.Count;
        string? problem = objectives is null || objectives.Length != batch.Count ? $"returned {objectives?.Length ?? 0} results for {batch.Count} sub-networks"
            : objectives.Any(o => o is null || o.Length != m) ? $"must return {m} objectives per sub-network (one per reference point value)"
            : objectives.Any(o => o.Any(v => !double.IsFinite(v))) ? "returned a value that is not a finite number"
            : null;
        return problem is null ? objectives! : throw new LlamaNasException(DiagnosticCodes.SearchEvaluatorResultInvalid, $"the evaluator {problem}.");
    }

    private void Restore(SearchState state)
    {
        var mismatch = SearchState.Serialize(state.Options) != SearchState.Serialize(Options) ? "options" : state.Space != Space.Signature() ? "search space" : null;
        if (mismatch is not null)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchStateMismatch, $"the saved search was run with a different {mismatch}; resume it with the same settings, or delete the state to start afresh.");
        }

        try
        {
            Rng = Xoshiro256StarStar.RestoreState(state.Rng);
        }
        catch (FormatException e)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchStateInvalid, $"the saved random state is not valid ({e.Message}); delete the state to start afresh.", inner: e);
        }

        (Batches, Exhausted) = (state.Batches, state.Exhausted);
        foreach (var e in state.Evaluations)
        {
            _evaluations.Add(e);
            _evaluated.Add(Space.Canonicalize(e.Genes));
        }

        _history.AddRange(state.History);
    }

    /// <summary>A strategy's proposed genes, and (LINAS) the predictors that guided it.</summary>
    protected sealed record Proposal(IReadOnlyList<int[]> Genes, IReadOnlyList<PredictorScore>? Predictors = null);
}
