using System.Diagnostics;
using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Search;

namespace LlamaNas.Pipeline.Search;

/// <summary>A search to run (or resume) in an output folder.</summary>
public sealed record SearchRequest
{
    public required EvaluatorSettings Evaluator { get; init; }

    /// <summary>The search's options; the reference point is filled in from <see cref="ExplicitReference"/>, the saved state or the evaluator.</summary>
    public required SearchOptions Options { get; init; }

    public IReadOnlyList<double>? ExplicitReference { get; init; }

    public required string OutputDirectory { get; init; }

    /// <summary>Stop after this many batches in this run (the search resumes on the next).</summary>
    public int MaxBatches { get; init; } = int.MaxValue;

    /// <summary>
    /// <c>int8</c>: once the search has finished, measure every float front member's INT8 form and write the
    /// re-ranked front into pareto.json (<see cref="ParetoDocument.Int8Front"/>); <c>none</c>: the float front only.
    /// </summary>
    public string Quantization { get; init; } = "none";

    /// <summary>Settings recorded besides the evaluator's and the search's (e.g. the build's stage key).</summary>
    public IReadOnlyDictionary<string, string>? ExtraSettings { get; init; }

    /// <summary>Where candidates are evaluated: null in this process, else sharded over workers (docs/SCALE-OUT.md). Never part of the recorded settings: the results are the same.</summary>
    public ScaleOut.ScaleOutOptions? ScaleOut { get; init; }

    /// <summary>Starts the shards instead of <see cref="ScaleOut"/>'s mode (a host with its own scheduler; tests that stop workers).</summary>
    public ScaleOut.IShardLauncher? Launcher { get; init; }
}

/// <summary>What a search run leaves: every evaluation described, its front and where it stands.</summary>
public sealed record SearchResult(IReadOnlyList<SubnetworkEvaluation> Evaluations, IReadOnlyList<int> Front, double Hypervolume, bool Finished, bool Exhausted, int Batches, IReadOnlyList<SearchObjective> Objectives, SearchOptions Options)
{
    /// <summary>The front re-ranked after INT8 (<see cref="SearchRequest.Quantization"/>), or null.</summary>
    public QuantizedFront? Int8Front { get; init; }
}

/// <summary>
/// A search end to end, shared by <c>llamanas search</c> and the build's search stage: check the saved state against
/// the request (LNAS0523 before any weight is read), load the evaluator, run batches (saving every output after
/// each), and describe the result. Runs again on the same folder resume.
/// </summary>
public static class SearchRun
{
    public static SearchResult Execute(SearchRequest request, TextWriter progress, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(progress);
        var options = request.Options;
        var described = Describe(request);

        // One writer per search folder: a second search (or build) on it gets LNAS0111 naming this one.
        using var writer = OutputLock.Acquire(request.OutputDirectory, "search");
        var outputs = new SearchOutputs(request.OutputDirectory);
        var state = outputs.LoadState();
        if (state is not null)
        {
            CheckSettings(state, described, outputs.StatePath);
        }

        using var loaded = Load(request, space => CheckSpace(state, space, outputs.StatePath), progress, cancel);
        options = options with { ReferencePoint = request.ExplicitReference ?? state?.Options.ReferencePoint ?? loaded.ReferencePoint() };
        var driver = SearchDriver.Create(loaded.Space, options, state);
        var timings = state is null ? [] : outputs.LoadTimings(state.Evaluations.Count);
        progress.WriteLine(state is null
            ? Invariant($"search: {options.Algorithm.ToString().ToLowerInvariant()} over {loaded.Space.CanonicalCount():N0} sub-networks ({loaded.Space.GeneCount} genes), {options.Budget} evaluations, population {options.PopulationSize}; objectives {described["objectives"]}; reference point [{string.Join(", ", options.ReferencePoint.Select(v => v.ToString("G6", CultureInfo.InvariantCulture)))}]")
            : Invariant($"search: resuming {outputs.StatePath}: {state.Batches} batches, {state.Evaluations.Count}/{options.Budget} evaluations done"));
        outputs.Write(driver.SaveState(), described, loaded, timings);
        RunBatches(driver, loaded, request.MaxBatches, timings, progress, () => outputs.Write(driver.SaveState(), described, loaded, timings), cancel);
        if (!driver.IsFinished)
        {
            progress.WriteLine(Invariant($"stopped with {driver.Evaluations.Count}/{options.Budget} evaluations after {driver.Batches} batches; run the same command again to continue."));
        }
        else if (driver.Exhausted)
        {
            progress.WriteLine(Invariant($"the space ran out of new sub-networks after {driver.Evaluations.Count} evaluations."));
        }

        QuantizedFront? int8Front = null;
        if (driver.IsFinished && !cancel.IsCancellationRequested && request.Quantization == "int8")
        {
            int8Front = RerankInt8(driver, loaded, progress);
            outputs.Write(driver.SaveState(), described, loaded, timings, int8Front);
        }

        var evaluations = driver.Evaluations.Select((r, i) => loaded.Describe(r, timings.TryGetValue(i, out var s) ? s : null)).ToList();
        return new SearchResult(evaluations, SearchOutputs.Front(driver.Evaluations), driver.History.Count > 0 ? driver.History[^1].Hypervolume : 0, driver.IsFinished, driver.Exhausted, driver.Batches, loaded.Objectives, options) { Int8Front = int8Front };
    }

    /// <summary>Every float front member measured again as its INT8 form, and the front among those.</summary>
    private static QuantizedFront RerankInt8(SearchDriver driver, ISearchEvaluator evaluator, TextWriter progress)
    {
        var front = SearchOutputs.Front(driver.Evaluations);
        var sw = Stopwatch.StartNew();
        var quantized = evaluator.EvaluateInt8([.. front.Select(i => driver.Evaluations[i].Genes)]);
        var result = SearchOutputs.RerankedFront(front, [.. front.Select(i => driver.Evaluations[i].Batch)], quantized, evaluator.Int8Objectives, driver.Options.ReferencePoint);
        progress.WriteLine(Invariant($"int8: {front.Count} front members quantized and measured in {sw.Elapsed.TotalSeconds:F1} s; {result.Front.Count} on the INT8 front"));
        return result;
    }

    /// <summary>Evaluates up to <paramref name="limit"/> batches (fewer when finished or cancelled), recording wall times and reporting each batch.</summary>
    private static void RunBatches(SearchDriver driver, ISearchEvaluator evaluator, int limit, Dictionary<int, double> timings, TextWriter progress, Action batchDone, CancellationToken cancel)
    {
        for (var b = 0; b < limit && !driver.IsFinished && !cancel.IsCancellationRequested; b++)
        {
            var sw = Stopwatch.StartNew();
            var next = driver.Evaluations.Count;
            var stepped = driver.Step(batch => [.. evaluator.Evaluate(batch, r => timings[next++] = r.Seconds ?? 0).Select(r => r.Objectives.ToArray())]);
            batchDone();
            if (!stepped)
            {
                return;
            }

            var h = driver.History[^1];
            var predictors = h.Predictors is null ? string.Empty : "; predictors " + string.Join(", ", h.Predictors.Select(p => Invariant($"{p.Name} (MAPE {p.Mape:P1})")));
            progress.WriteLine(Invariant($"batch {h.Batch}: {h.Evaluations}/{driver.Options.Budget} evaluated, {sw.Elapsed.TotalSeconds:F1} s; hypervolume {h.Hypervolume:G6}; front {SearchOutputs.Front(driver.Evaluations).Count}{predictors}"));
        }
    }

    /// <summary>The evaluator of <paramref name="request"/>: the super-network in this process, or workers (<see cref="SearchRequest.ScaleOut"/>).</summary>
    public static ISearchEvaluator Load(SearchRequest request, Action<SearchSpace>? checkSpace, TextWriter progress, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.ScaleOut is { Mode: not ScaleOut.ScaleOutMode.Local } scale
            ? ScaleOut.DistributedEvaluator.Create(request.Evaluator, scale, request.Options.Seed, checkSpace, progress, cancel, request.Launcher)
            : request.Evaluator.Load(checkSpace);
    }

    /// <summary>The settings saved with the state and in pareto.json: the evaluator's, the search's and the request's extras.</summary>
    private static Dictionary<string, string> Describe(SearchRequest request)
    {
        var options = request.Options;
        var d = new Dictionary<string, string>(request.Evaluator.Describe(), StringComparer.Ordinal)
        {
            ["algorithm"] = options.Algorithm.ToString().ToLowerInvariant(),
            ["evaluations"] = options.Budget.ToString(CultureInfo.InvariantCulture),
            ["population"] = options.PopulationSize.ToString(CultureInfo.InvariantCulture),
            ["inner_generations"] = options.InnerGenerations.ToString(CultureInfo.InvariantCulture),
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["reference_point"] = request.ExplicitReference is null ? "auto" : string.Join(',', request.ExplicitReference.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        };
        if (options.IncludeExtremes)
        {
            // Recorded only when on, so searches saved before the setting existed resume unchanged.
            d["include_extremes"] = "true";
        }

        foreach (var (key, value) in request.ExtraSettings ?? new Dictionary<string, string>())
        {
            d[key] = value;
        }

        return d;
    }

    /// <summary>LNAS0523 when the saved search searched another space (checked before the weights are read).</summary>
    private static void CheckSpace(SearchState? state, SearchSpace space, string statePath)
    {
        if (state is not null && state.Space != space.Signature())
        {
            throw new LlamaNasException(DiagnosticCodes.SearchStateMismatch, $"the saved search in this folder searched another space ({state.Space}); this run asks for {space.Signature()}. Rerun with the saved --depths, --mlp, --heads and --hidden to resume, or choose another --output to start a new search.", new DiagnosticLocation(statePath, Item: "space"));
        }
    }

    /// <summary>LNAS0523 when the saved search evaluated with other settings (checked before the model loads).</summary>
    private static void CheckSettings(SearchState state, IReadOnlyDictionary<string, string> settings, string statePath)
    {
        var saved = state.Settings ?? new Dictionary<string, string>();
        foreach (var key in settings.Keys.Union(saved.Keys))
        {
            var was = saved.TryGetValue(key, out var s) ? s : "(not set)";
            var now = settings.TryGetValue(key, out var n) ? n : "(not set)";
            if (was != now)
            {
                throw new LlamaNasException(DiagnosticCodes.SearchStateMismatch, $"the saved search in this folder used {key} = {was}, this run asks for {now}. Rerun with the saved settings to resume, or choose another --output to start a new search.", new DiagnosticLocation(statePath, Item: key));
            }
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
