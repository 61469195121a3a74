using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.Hub;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;

namespace LlamaNas.Core.Project;

/// <summary>
/// A validated <c>.nasproj</c>: every setting typed, paths absolute, defaults filled in, the base model's config and
/// search space checked. Built by <see cref="Read"/>, which reports every problem it finds at once, each with the
/// project's file, line and column, before any expensive stage starts.
/// </summary>
public sealed record NasProject
{
    public required string ProjectFile { get; init; }

    public string ProjectDirectory => Path.GetDirectoryName(ProjectFile)!;

    public string Name => Path.GetFileNameWithoutExtension(ProjectFile);

    /// <summary>The base model's folder (for a hub id, its snapshot in the hub cache).</summary>
    public required string BaseModel { get; init; }

    /// <summary>Set when BaseModel is a hub id: the repository and the commit it resolved to (the model's key).</summary>
    public HubModel? BaseModelHub { get; init; }

    public required LlamaConfig BaseConfig { get; init; }

    /// <summary><c>perplexity</c>, a built-in task's name, or <c>user</c> (with <see cref="UserTaskFile"/>).</summary>
    public required string TargetTask { get; init; }

    public string? UserTaskFile { get; init; }

    public string? HeldOutText { get; init; }

    public string? TaskDataDirectory { get; init; }

    public int? TaskLimit { get; init; }

    public required double SizeBudget { get; init; }

    public long? MaxModelBytes { get; init; }

    public required string Quantization { get; init; }

    public required string SpeedObjective { get; init; }

    /// <summary>The GGUF tensor type of the exported llama.cpp file, or <c>none</c>.</summary>
    public required string GgufType { get; init; }

    public required string SearchAlgorithm { get; init; }

    public required int SearchEvaluations { get; init; }

    public required int SearchPopulation { get; init; }

    public required ulong Seed { get; init; }

    public required string ComputeDtype { get; init; }

    public required bool FineTune { get; init; }

    public required string FineTuneStrategy { get; init; }

    public required int FineTuneSteps { get; init; }

    public required int FineTuneBatchSize { get; init; }

    public required int FineTuneSequenceLength { get; init; }

    public required double FineTuneLearningRate { get; init; }

    public required int FineTuneLoraRank { get; init; }

    public required bool FineTunePermute { get; init; }

    /// <summary><c>none</c>, <c>inplace</c> or <c>base</c> (the base model teaches).</summary>
    public string FineTuneDistill { get; init; } = "none";

    public double FineTuneDistillTemperature { get; init; } = 1;

    public double FineTuneDistillAlpha { get; init; } = 1;

    public required string TrainingDataFormat { get; init; }

    public required IReadOnlyList<string> TrainingData { get; init; }

    public required bool SelfGeneratedData { get; init; }

    public required int SelfGeneratedSamples { get; init; }

    public required int SelfGeneratedHeldOutSamples { get; init; }

    public required int SelfGeneratedTokens { get; init; }

    /// <summary>As the project sets it; null: the tool's default cache folder.</summary>
    public string? CacheDirectory { get; init; }

    public required string ModelFolder { get; init; }

    /// <summary>LlamaNasCacheFeeds as written (folders, URLs or NuGet.config source names); empty: NuGet.config's sources.</summary>
    public IReadOnlyList<string> CacheFeeds { get; init; } = [];

    /// <summary>readwrite, read or off.</summary>
    public string CacheMode { get; init; } = "readwrite";

    /// <summary>The largest package pushed to a feed, in bytes.</summary>
    public long CachePackageLimit { get; init; } = DefaultCachePackageLimit;

    public const long DefaultCachePackageLimit = 250_000_000;

    /// <summary>The smallest LlamaNasCachePackageLimit: room for a package's own files beside some payload.</summary>
    public const long MinimumCachePackageLimit = 65_536;

    /// <summary>SearchEvaluation: local, processes, slurm or kubernetes (docs/SCALE-OUT.md); none of the Search* scale-out settings is part of a key.</summary>
    public string SearchEvaluation { get; init; } = "local";

    public int SearchWorkers { get; init; } = 2;

    /// <summary>Absolute; null when not set (local evaluation).</summary>
    public string? SearchSharedDirectory { get; init; }

    public string SearchWorkerCommand { get; init; } = "";

    public int SearchShardAttempts { get; init; } = 3;

    public string SearchSlurmOptions { get; init; } = "";

    public string SearchKubernetesImage { get; init; } = "";

    public string SearchKubernetesNamespace { get; init; } = "default";

    public string SearchKubernetesVolumeClaim { get; init; } = "";

    public string SearchKubernetesMountPath { get; init; } = "/llamanas-shared";

    public string SearchKubernetesResources { get; init; } = "";

    /// <summary>The declared space (null dimensions are not searched); LLaMA-NAS's space when the project declares none.</summary>
    public required SearchSpaceSpec Space { get; init; }

    /// <summary>Warnings found while reading (unrecognized properties); the caller reports them.</summary>
    public IReadOnlyList<Diagnostic> Warnings { get; init; } = [];

    /// <summary>Where each property and dimension is set, for diagnostics raised later (e.g. by a stage).</summary>
    public IReadOnlyDictionary<string, DiagnosticLocation> Locations { get; init; } = new Dictionary<string, DiagnosticLocation>();

    /// <summary>The location of <paramref name="name"/>, or of the project file.</summary>
    public DiagnosticLocation Where(string name) => Locations.TryGetValue(name, out var l) ? l : new DiagnosticLocation(ProjectFile);

    /// <summary>The largest model the budget allows, in bytes of <paramref name="fullSizeBytes"/>'s format.</summary>
    public long BudgetBytes(long fullSizeBytes) => MaxModelBytes ?? (long)Math.Floor(SizeBudget * fullSizeBytes);

    /// <summary>Reads and validates a project (<see cref="NasProjectDocument.Load"/> then <see cref="NasProjectValidator"/>).</summary>
    public static NasProject Read(string path, string? evaluatedJson = null, Action<string>? progress = null) => NasProjectValidator.Validate(NasProjectDocument.Load(path, evaluatedJson), progress);

    internal static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    internal static bool IsBuiltInTask(string task) => TaskLoader.BuiltInTaskNames.Contains(task);
}
