using System.Globalization;
using LlamaNas.Core.IO;
using LlamaNas.Core.Project;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Training;

namespace LlamaNas.Pipeline.Build;

/// <summary>What a build is asked to do: the project, configuration and folders (null: the defaults below).</summary>
public sealed record BuildRequest
{
    public required string ProjectFile { get; init; }

    public string Configuration { get; init; } = "Debug";

    /// <summary>Final outputs; default <c>&lt;project dir&gt;/bin/&lt;Configuration&gt;/</c>.</summary>
    public string? OutDir { get; init; }

    /// <summary>Intermediates (under <c>llamanas/</c>); default <c>&lt;project dir&gt;/obj/&lt;Configuration&gt;/</c>.</summary>
    public string? ObjDir { get; init; }

    /// <summary>Super-network cache; default the project's LlamaNasCacheDirectory, else <see cref="BuildContext.DefaultCacheDirectory"/>.</summary>
    public string? CacheDir { get; init; }

    /// <summary>MSBuild's evaluated values (JSON), when the SDK's tasks run the build.</summary>
    public string? EvaluatedJson { get; init; }
}

/// <summary>The stages of a build, in order; each is a target of the SDK and a step of <c>llamanas build</c>.</summary>
public static class StageNames
{
    public const string Data = "data";
    public const string FineTune = "finetune";
    public const string Search = "search";
    public const string Select = "select";
    public const string Export = "export";
    public const string Report = "report";

    public static IReadOnlyList<string> All { get; } = [Data, FineTune, Search, Select, Export, Report];
}

/// <summary>
/// A planned build: the validated project, its folders, and every stage's content key. A key is the SHA-256 of the
/// parent stage's key, the stage's normalized settings, the engine version and the seed (the base model by its
/// files' hashes), so a change anywhere re-runs exactly the stages it can affect.
/// </summary>
public sealed class BuildContext : IDisposable
{
    private OutputLock? _lock;

    public const string WorkFolder = "llamanas";

    internal BuildContext(NasProject project, string outDir, string objDir, string cacheDir)
    {
        Project = project;
        OutDir = outDir;
        WorkDir = Path.Combine(objDir, WorkFolder);
        CacheDir = cacheDir;
        // A hub model's commit names its files for good; a folder is known by its bytes.
        BaseModelKey = project.BaseModelHub?.Key ?? Fingerprints.Model(project.BaseModel);
        Space = SearchSpace.Create(project.BaseConfig, project.Space);
        Keys = ComputeKeys();
    }

    public NasProject Project { get; }

    public string OutDir { get; }

    /// <summary><c>obj/&lt;Configuration&gt;/llamanas</c>: keys, stamps, generated data, the search, the selection.</summary>
    public string WorkDir { get; }

    public string CacheDir { get; }

    public string BaseModelKey { get; }

    public SearchSpace Space { get; }

    public IReadOnlyDictionary<string, string> Keys { get; }

    /// <summary>
    /// Takes the project's intermediate folder for this process (LNAS0111 names the holder when another build of the
    /// same project runs: MSBuild builds one project concurrently in some solutions). Released on <see cref="Dispose"/>.
    /// </summary>
    internal void Lock() => _lock ??= OutputLock.Acquire(WorkDir, "build " + Path.GetFileName(Project.ProjectFile));

    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
    }

    public static string EngineVersion => SupernetFineTuning.EngineVersion;

    public string DataDir => Path.Combine(WorkDir, "data");

    public string SearchDir => Path.Combine(WorkDir, "search");

    public string SelectionFile => Path.Combine(WorkDir, "selection.json");

    public string BaselineFile => Path.Combine(SearchDir, "baseline.json");

    public string TimingsFile => Path.Combine(WorkDir, "timings.json");

    public string ModelDir => Path.Combine(OutDir, Project.ModelFolder);

    /// <summary>The llama.cpp file beside the model folder (when GgufType is not none).</summary>
    public string GgufFile => Path.Combine(OutDir, Project.ModelFolder + ".gguf");

    /// <summary>The fine-tuned super-network (in the cache), or the base model when the project does not fine-tune.</summary>
    public string SupernetDir => Project.FineTune ? Path.Combine(CacheDir, "supernets", Keys[StageNames.FineTune]) : Project.BaseModel;

    /// <summary>True when the data stage writes files: self-generated data, or several text files to join.</summary>
    public bool WritesData => Project.SelfGeneratedData || Project.TrainingData.Count > 1;

    /// <summary>The file fine-tuning reads.</summary>
    public string? TrainingFile => WritesData ? Path.Combine(DataDir, "train.txt") : Project.TrainingData.Count > 0 ? Project.TrainingData[0] : null;

    /// <summary>The held-out text of a perplexity target.</summary>
    public string? HeldOutFile => Project.HeldOutText ?? (Project.SelfGeneratedData ? Path.Combine(DataDir, "heldout.txt") : null);

    public string KeyFile(string stage) => Path.Combine(WorkDir, stage + ".key");

    public string StampFile(string stage) => Path.Combine(WorkDir, stage + ".stamp");

    /// <summary>$LLAMANAS_CACHE, else $XDG_CACHE_HOME/llamanas, else ~/.cache/llamanas.</summary>
    public static string DefaultCacheDirectory()
    {
        if (Environment.GetEnvironmentVariable("LLAMANAS_CACHE") is { Length: > 0 } cache)
        {
            return Path.GetFullPath(cache);
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        return Path.Combine(xdg is { Length: > 0 } ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "llamanas");
    }

    private Dictionary<string, string> ComputeKeys()
    {
        var p = Project;
        var seed = p.Seed.ToString(CultureInfo.InvariantCulture);
        var data = p.SelfGeneratedData
            ? Key.Of("data:self", EngineVersion, BaseModelKey, seed, Invariant($"samples={p.SelfGeneratedSamples};held_out={p.SelfGeneratedHeldOutSamples};tokens={p.SelfGeneratedTokens}"))
            : Key.Of("data:files", [EngineVersion, .. p.TrainingData.Select(Fingerprints.Path)]);
        var fineTune = p.FineTune
            ? Key.Of("finetune", EngineVersion, BaseModelKey, data, seed, Space.Signature(), p.ComputeDtype, Invariant(
                $"strategy={p.FineTuneStrategy};steps={p.FineTuneSteps};batch={p.FineTuneBatchSize};seq={p.FineTuneSequenceLength};lr={p.FineTuneLearningRate:R};lora={p.FineTuneLoraRank};permute={p.FineTunePermute};format={p.TrainingDataFormat};distill={p.FineTuneDistill}:{p.FineTuneDistillTemperature:R}:{p.FineTuneDistillAlpha:R}"))
            : Key.Of("finetune:none", BaseModelKey);
        var task = p.TargetTask switch
        {
            "perplexity" => "perplexity:" + (p.HeldOutText is { } text ? Fingerprints.Path(text) : "self:" + data),
            "user" => "user:" + Fingerprints.Path(p.UserTaskFile!),
            _ => p.TargetTask + ":" + Fingerprints.Path(p.TaskDataDirectory!),
        };
        var search = Key.Of("search", EngineVersion, fineTune, BaseModelKey, seed, Space.Signature(), p.ComputeDtype, task, Invariant(
            $"limit={p.TaskLimit};algorithm={p.SearchAlgorithm};evaluations={p.SearchEvaluations};population={p.SearchPopulation};speed={p.SpeedObjective};fronts=float,int8;extremes=true"));
        var select = Key.Of("select", search, Invariant($"budget={p.SizeBudget:R};max_bytes={p.MaxModelBytes};quantization={p.Quantization}"));
        var export = Key.Of("export", EngineVersion, select, p.ModelFolder, "gguf=" + p.GgufType);
        var report = Key.Of("report", EngineVersion, export);
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [StageNames.Data] = data,
            [StageNames.FineTune] = fineTune,
            [StageNames.Search] = search,
            [StageNames.Select] = select,
            [StageNames.Export] = export,
            [StageNames.Report] = report,
        };
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
