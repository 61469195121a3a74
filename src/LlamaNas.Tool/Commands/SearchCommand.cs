using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Pipeline.Search;
using LlamaNas.Tool.Search;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas search &lt;model&gt; --objectives accuracy:arc_easy,size …</c>: a multi-objective search (LINAS, NSGA-II
/// or random) over the model's sub-networks, each evaluated for real, saved after every batch and resumed by
/// running the same command again (docs/SEARCH.md).
/// </summary>
public static class SearchCommand
{
    public static Command Create()
    {
        var evaluator = new EvaluatorOptions();
        var scaleOut = new ScaleOutCliOptions();
        var algorithm = new Option<string>("--algorithm") { Description = "linas, nsga2 or random.", DefaultValueFactory = _ => "linas" };
        var evaluations = new Option<int>("--evaluations") { Description = "Budget of real evaluations.", DefaultValueFactory = _ => 250 };
        var population = new Option<int>("--population") { Description = "Population: the most sub-networks evaluated per batch.", DefaultValueFactory = _ => 50 };
        var inner = new Option<int>("--inner-generations") { Description = "LINAS: NSGA-II generations on predicted objectives per batch.", DefaultValueFactory = _ => 200 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the search." };
        var reference = new Option<string?>("--reference-point") { Description = "Hypervolume reference, one value per objective in minimised units (default: accuracy 0, perplexity ln(vocabulary size), size/params 1.1 × the whole model, throughput 0, latency 2 × the whole model)." };
        var output = new Option<string>("--output") { Description = "Output folder (evaluations.csv, timings.csv, history.csv, pareto.json, search_state.json).", DefaultValueFactory = _ => "search" };
        var maxBatches = new Option<int?>("--max-batches") { Description = "Stop after this many batches in this run; run the same command again to continue." };
        var quantization = new Option<string>("--quantization") { Description = "int8: once the search has finished, measure every front member's INT8 form and add the re-ranked front to pareto.json (int8_front); none: the float front only.", DefaultValueFactory = _ => "none" };
        quantization.AcceptOnlyFromAmong("none", "int8");
        var extremes = new Option<bool>("--include-extremes") { Description = "The first batch also evaluates the space's largest and smallest sub-networks (the .nasproj build always does)." };
        var command = new Command("search", "Search the model's sub-networks for the Pareto front of 2 or 3 objectives, evaluating each for real.")
        {
            algorithm, evaluations, population, inner, seed, reference, output, maxBatches, quantization, extremes,
        };
        evaluator.AddTo(command);
        scaleOut.AddTo(command);
        command.SetAction((result, cancel) =>
        {
            var settings = evaluator.Read(result);
            var distribution = scaleOut.Read(result);
            var options = ReadOptions(result, algorithm, evaluations, population, inner, seed) with { IncludeExtremes = result.GetValue(extremes) };
            var explicitReference = EvaluatorOptions.Numbers(result.GetValue(reference), "--reference-point", settings.Objectives.Count);
            EvaluatorOptions.Require(result.GetValue(maxBatches) is null or >= 1, "--max-batches", "must be at least 1");
            var run = SearchRun.Execute(
                new SearchRequest { Evaluator = settings, Options = options, ExplicitReference = explicitReference, OutputDirectory = result.GetValue(output)!, MaxBatches = result.GetValue(maxBatches) ?? int.MaxValue, Quantization = result.GetValue(quantization)!, ScaleOut = distribution },
                result.InvocationConfiguration.Error,
                cancel);
            var o = result.InvocationConfiguration.Output;
            o.WriteLine(Invariant($"Pareto front: {run.Front.Count} of {run.Evaluations.Count} evaluated sub-networks; hypervolume {run.Hypervolume:G6}"));
            o.Write(SearchOutputs.Table(run.Evaluations, run.Front, run.Objectives));
            if (run.Int8Front is { } int8)
            {
                o.WriteLine(Invariant($"after INT8: {int8.Front.Count} of the {int8.Evaluations.Count} front members stay on the front: #{string.Join(", #", int8.Front)} (pareto.json, int8_front)"));
            }

            return Task.FromResult(cancel.IsCancellationRequested ? Cli.CancelledExitCode : 0);
        });
        return command;
    }

    /// <summary>The search options of the command line (reference point filled in later); LNAS0520 for bad values.</summary>
    internal static SearchOptions ReadOptions(ParseResult result, Option<string> algorithm, Option<int> evaluations, Option<int> population, Option<int> inner, Option<ulong> seed)
    {
        ArgumentNullException.ThrowIfNull(result);
        EvaluatorOptions.Require(result.GetValue(evaluations) >= 1, "--evaluations", "must be at least 1");
        EvaluatorOptions.Require(result.GetValue(population) >= 2, "--population", "must be at least 2");
        EvaluatorOptions.Require(result.GetValue(inner) >= 0, "--inner-generations", "must not be negative");
        return new SearchOptions
        {
            Algorithm = ParseAlgorithm(result.GetValue(algorithm)!, "--algorithm"),
            Budget = result.GetValue(evaluations),
            PopulationSize = result.GetValue(population),
            InnerGenerations = result.GetValue(inner),
            Seed = result.GetValue(seed),
            ReferencePoint = [0],
        };
    }

    internal static SearchAlgorithm ParseAlgorithm(string text, string option) => text.Trim().ToLowerInvariant() switch
    {
        "linas" => SearchAlgorithm.Linas,
        "nsga2" or "nsga-ii" => SearchAlgorithm.Nsga2,
        "random" => SearchAlgorithm.Random,
        _ => throw new LlamaNasException(DiagnosticCodes.SearchOptionsInvalid, $"unknown search algorithm '{text}' (use linas, nsga2 or random).", new DiagnosticLocation(option)),
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
