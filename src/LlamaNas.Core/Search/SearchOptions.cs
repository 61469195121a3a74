using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Core.Search;

/// <summary>How the real evaluations are spent.</summary>
public enum SearchAlgorithm
{
    /// <summary>LINAS: NSGA-II on predicted objectives between batches of real evaluations.</summary>
    Linas,

    /// <summary>Plain NSGA-II, every offspring evaluated for real (the baseline LINAS is compared with).</summary>
    Nsga2,

    /// <summary>Uniform random gene vectors, a population at a time.</summary>
    Random,
}

/// <summary>Settings of one search run; saved with its state, and a resume must use the same.</summary>
public sealed record SearchOptions
{
    public SearchAlgorithm Algorithm { get; init; } = SearchAlgorithm.Linas;

    /// <summary>P: the initial random population, the most evaluated per batch, and the inner NSGA-II population.</summary>
    public int PopulationSize { get; init; } = 50;

    /// <summary>B: total real evaluations.</summary>
    public int Budget { get; init; } = 250;

    /// <summary>G: NSGA-II generations on predicted objectives per LINAS batch.</summary>
    public int InnerGenerations { get; init; } = 200;

    public ulong Seed { get; init; }

    /// <summary>Hypervolume reference point, one value per (minimised) objective.</summary>
    public required IReadOnlyList<double> ReferencePoint { get; init; }

    public SbxCrossover Crossover { get; init; } = new();

    public PolynomialMutation Mutation { get; init; } = new();

    /// <summary>k of the k-fold cross-validation that picks each objective's predictor.</summary>
    public int CrossValidationFolds { get; init; } = 5;

    /// <summary>
    /// The first batch also evaluates the space's largest and smallest sub-networks (every gene at its last and first
    /// choice), so the front always holds the whole network's quality and the cheapest end, whatever the random draw.
    /// </summary>
    public bool IncludeExtremes { get; init; }

    internal Nsga2Options Genetic => new() { PopulationSize = PopulationSize, Crossover = Crossover, Mutation = Mutation };

    internal void Validate()
    {
        Require(PopulationSize >= 2, nameof(PopulationSize), $"must be at least 2 (is {PopulationSize})");
        Require(Budget >= 1, nameof(Budget), $"must be at least 1 (is {Budget})");
        Require(InnerGenerations >= 0, nameof(InnerGenerations), $"must not be negative (is {InnerGenerations})");
        Require(CrossValidationFolds >= 2, nameof(CrossValidationFolds), $"must be at least 2 (is {CrossValidationFolds})");
        Require(ReferencePoint is { Count: > 0 } && ReferencePoint.All(double.IsFinite), nameof(ReferencePoint), "needs one finite value per objective");
        Require(Crossover is { Probability: >= 0 and <= 1, VariableProbability: >= 0 and <= 1, SwapProbability: >= 0 and <= 1, Eta: > 0 }, nameof(Crossover), "needs probabilities in [0, 1] and a positive eta");
        Require(Mutation is { Probability: >= 0 and <= 1, Eta: > 0 } && Mutation.GeneRate is null or (>= 0 and <= 1), nameof(Mutation), "needs probabilities in [0, 1] and a positive eta");
    }

    private static void Require(bool ok, string option, string what)
    {
        if (!ok)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchOptionsInvalid, $"search option {option} {what}.", new DiagnosticLocation("search options", Item: option));
        }
    }
}
