using System.Text.Json;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.IO;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Search;
using LlamaNas.Core.Project;
using LlamaNas.Pipeline.ScaleOut;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Pipeline.Build;

/// <summary>What the base model and the whole super-network score on the search's objectives (<c>baseline.json</c>).</summary>
public sealed record Baseline(BaselineEntry BaseModel, BaselineEntry Supernet)
{
    public string ToJson() => JsonSerializer.Serialize(this, ParetoDocument.Json) + "\n";

    public static Baseline Load(string path) => JsonSerializer.Deserialize<Baseline>(File.ReadAllText(path), ParetoDocument.Json)
        ?? throw new JsonException("empty baseline");
}

/// <summary>One model's metrics (by column name), parameters and stored size.</summary>
public sealed record BaselineEntry(IReadOnlyDictionary<string, double> Metrics, long Params, long SizeBytes);

/// <summary>
/// The search stage: LINAS (or NSGA-II / random) over the project's space on the super-network, with the target
/// task's quality, the size and optionally a measured speed as objectives, resumable in <c>obj/…/llamanas/search</c>
/// (a folder left by another key is started afresh). Then the base model and the whole super-network are measured on
/// the same objectives, for the report.
/// </summary>
internal static class SearchStage
{
    private const string KeyFile = "stage.key";

    public static void Run(BuildContext context, BuildLog log, CancellationToken cancel)
    {
        var folderKey = Path.Combine(context.SearchDir, KeyFile);
        var key = context.Keys[StageNames.Search] + "\n";
        if (Directory.Exists(context.SearchDir) && (!File.Exists(folderKey) || File.ReadAllText(folderKey) != key))
        {
            Directory.Delete(context.SearchDir, recursive: true);
        }

        AtomicFile.WriteAllText(folderKey, key);
        var settings = Evaluator(context, context.SupernetDir);
        var p = context.Project;
        var result = SearchRun.Execute(
            new SearchRequest
            {
                Evaluator = settings,
                Options = new SearchOptions
                {
                    Algorithm = p.SearchAlgorithm switch { "nsga2" => SearchAlgorithm.Nsga2, "random" => SearchAlgorithm.Random, _ => SearchAlgorithm.Linas },
                    Budget = p.SearchEvaluations,
                    PopulationSize = p.SearchPopulation,
                    Seed = p.Seed,
                    ReferencePoint = [0],

                    // The whole super-network (and the smallest sub-network) is always a candidate: with INT8 the whole
                    // network is often the best model within the budget.
                    IncludeExtremes = true,
                },
                OutputDirectory = context.SearchDir,

                // Both fronts, whatever Quantization asks for: the report shows what INT8 would give.
                Quantization = "int8",

                // Task data by content, not by its absolute path: a copied project records the same settings.
                ExtraSettings = p.TaskDataDirectory is null || p.TargetTask is "perplexity" or "user" ? null : new Dictionary<string, string> { ["data_dir"] = Fingerprints.Path(p.TaskDataDirectory) },
                ScaleOut = ScaleOut(p),
            },
            log.Output,
            cancel);
        cancel.ThrowIfCancellationRequested();
        log.Progress(BuildPipeline.Invariant($"search: {result.Evaluations.Count} sub-networks evaluated, {result.Front.Count} on the Pareto front"));

        var baseModel = Measure(Evaluator(context, p.BaseModel), p, log, cancel);
        var supernet = p.FineTune ? Measure(settings, p, log, cancel) : baseModel;
        AtomicFile.WriteAllText(context.BaselineFile, new Baseline(baseModel, supernet).ToJson());
    }

    /// <summary>The evaluator settings of the project's objectives on <paramref name="model"/>.</summary>
    public static EvaluatorSettings Evaluator(BuildContext context, string model)
    {
        var p = context.Project;
        var dtype = ComputeDtype.Parse(p.ComputeDtype);
        var quality = p.TargetTask switch
        {
            "perplexity" => new SearchObjective(ObjectiveKind.Perplexity, context.HeldOutFile!),
            _ => new SearchObjective(ObjectiveKind.Accuracy, p.TargetTask),
        };
        List<SearchObjective> objectives = [quality, new SearchObjective(ObjectiveKind.Size, ComputeDtype.Name(dtype) == "fp32" ? "fp32" : "bf16")];
        if (p.SpeedObjective != "none")
        {
            objectives.Add(new SearchObjective(p.SpeedObjective == "throughput" ? ObjectiveKind.Throughput : ObjectiveKind.Latency));
        }

        return new EvaluatorSettings
        {
            Model = model,
            Dtype = dtype,
            Objectives = objectives,
            DataDir = p.TaskDataDirectory ?? p.ProjectDirectory,
            Limit = p.TaskLimit,
            LimitSeed = p.Seed,
            TaskOptions = new TaskLoadOptions { UserTaskFile = p.UserTaskFile },
            Space = new SpaceChoices(p.Space.Depths, p.Space.IntermediateSizes, p.Space.AttentionHeads, p.Space.HiddenSizes),
            Speed = new SpeedOptions(),
        };
    }

    /// <summary>The project's scale-out settings (docs/SCALE-OUT.md); null for local evaluation.</summary>
    private static ScaleOutOptions? ScaleOut(NasProject p)
    {
        var mode = ScaleOutOptions.ParseMode(p.SearchEvaluation, "SearchEvaluation");
        return mode == ScaleOutMode.Local ? null : new ScaleOutOptions
        {
            Mode = mode,
            Workers = p.SearchWorkers,
            SharedDirectory = p.SearchSharedDirectory ?? "",
            WorkerCommand = p.SearchWorkerCommand,
            Attempts = p.SearchShardAttempts,
            SlurmOptions = p.SearchSlurmOptions,
            Kubernetes = new KubernetesOptions
            {
                Image = p.SearchKubernetesImage,
                Namespace = p.SearchKubernetesNamespace,
                VolumeClaim = p.SearchKubernetesVolumeClaim,
                MountPath = p.SearchKubernetesMountPath,
                Resources = p.SearchKubernetesResources,
            },
        };
    }

    /// <summary>The whole model on the search's objectives, measured where the search's candidates are.</summary>
    private static BaselineEntry Measure(EvaluatorSettings settings, NasProject p, BuildLog log, CancellationToken cancel)
    {
        using var evaluator = ScaleOut(p) is { } scale ? DistributedEvaluator.Create(settings, scale, p.Seed, null, log.Output, cancel) : (ISearchEvaluator)settings.Load();
        var e = evaluator.EvaluateWhole();
        return new BaselineEntry(evaluator.Objectives.Select((o, k) => (o.MetricName, e.Metrics[k])).ToDictionary(m => m.MetricName, m => m.Item2), e.Parameters, e.SizeBytes);
    }
}
