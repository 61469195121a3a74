namespace LlamaNas.Core.Project;

/// <summary>What kind of value a <c>.nasproj</c> property holds (validation and docs).</summary>
public enum PropertyKind
{
    Text,
    Path,
    WholeNumber,
    Number,
    Boolean,
    Choice,
}

/// <summary>One property of the <c>.nasproj</c> vocabulary: its name, default (empty: not set) and meaning.</summary>
public sealed record PropertyDefinition(string Name, PropertyKind Kind, string Default, string Meaning, IReadOnlyList<string>? Choices = null);

/// <summary>
/// The vocabulary of a <c>.nasproj</c>: every property with its default, the item types and the search dimensions.
/// One list for both front ends; the SDK's Sdk.props carries the same defaults (a test holds them equal) and
/// docs/NASPROJ.md documents them.
/// </summary>
public static class NasProjectSchema
{
    public const string TrainingDataItem = "TrainingData";
    public const string SearchDimensionItem = "SearchDimension";
    public const string ChoicesMetadata = "Choices";

    public static IReadOnlyList<string> Tasks { get; } = ["perplexity", "arc_easy", "arc_challenge", "mmlu", "truthfulqa_mc1", "winogrande", "hellaswag"];

    public static IReadOnlyList<PropertyDefinition> Properties { get; } =
    [
        new("BaseModel", PropertyKind.Path, "", "The pre-trained model folder (Hugging Face layout: config.json, safetensors weights, tokenizer files), relative to the project, or a Hugging Face hub id org/name[@revision] (downloaded into the hub cache; docs/CHECKPOINTS.md). Required."),
        new("TargetTask", PropertyKind.Text, "perplexity", "What quality means: perplexity (on HeldOutText), a built-in task (arc_easy, arc_challenge, mmlu, truthfulqa_mc1, winogrande, hellaswag), or a user task file (.jsonl)."),
        new("HeldOutText", PropertyKind.Path, "", "Held-out text of the perplexity task (documents separated by <|endoftext|> lines). With SelfGeneratedData it defaults to the generated held-out text."),
        new("TaskDataDirectory", PropertyKind.Path, "", "Folder of the built-in tasks' data files (docs/EVALUATION.md). Required for built-in tasks."),
        new("TaskLimit", PropertyKind.WholeNumber, "", "Score a seeded subsample of this many task items per evaluation (empty: all)."),
        new("SizeBudget", PropertyKind.Number, "0.75", "The largest model to select, as a fraction of the base model's size (0 < budget ≤ 1)."),
        new("MaxModelBytes", PropertyKind.WholeNumber, "", "The largest model to select, in bytes; overrides SizeBudget when set."),
        new("Quantization", PropertyKind.Choice, "none", "Weight format of the exported model: none (the compute dtype) or int8 (decoder linear weights int8 per output channel, selected from the Pareto front re-ranked after INT8).", ["none", "int8"]),
        new("GgufType", PropertyKind.Choice, "auto", "Also export the selected model as a GGUF file for llama.cpp (<model folder>.gguf) with this tensor type: f32, f16, bf16, q8_0 (rows not a multiple of 32 stay f16), none, or auto (q8_0 with Quantization int8, else f16).", ["auto", "none", "f32", "f16", "bf16", "q8_0"]),
        new("SpeedObjective", PropertyKind.Choice, "none", "A third, measured search objective: none, throughput (prefill tokens/s) or latency (s per decoded token). Measured objectives are not reproducible.", ["none", "throughput", "latency"]),
        new("SearchAlgorithm", PropertyKind.Choice, "linas", "linas (NSGA-II guided by performance predictors), nsga2 or random.", ["linas", "nsga2", "random"]),
        new("SearchEvaluations", PropertyKind.WholeNumber, "100", "Budget of real sub-network evaluations."),
        new("SearchPopulation", PropertyKind.WholeNumber, "20", "Sub-networks evaluated per search batch."),
        new("SearchEvaluation", PropertyKind.Choice, "local", "Where the search evaluates its candidates: local (the build's process), processes (worker processes on this machine), slurm (a job array submitted with sbatch --wait) or kubernetes (an Indexed Job applied with kubectl) (docs/SCALE-OUT.md). The results are the same in every mode.", ["local", "processes", "slurm", "kubernetes"]),
        new("SearchWorkers", PropertyKind.WholeNumber, "2", "Shards per search batch: array tasks, Job completions or processes."),
        new("SearchSharedDirectory", PropertyKind.Path, "", "A folder the build and every worker can read and write (cluster file system, volume); the super-network and the work manifests are placed there. Required unless SearchEvaluation is local."),
        new("SearchWorkerCommand", PropertyKind.Text, "", "The shell words that start llamanas on a worker (empty: the build's own tool for processes and slurm, llamanas for kubernetes)."),
        new("SearchShardAttempts", PropertyKind.WholeNumber, "3", "Launches of a shard before candidates without a result fail the build."),
        new("SearchSlurmOptions", PropertyKind.Text, "", "Extra #SBATCH options of the job array, space-separated (e.g. --partition=cpu --cpus-per-task=32 --time=02:00:00)."),
        new("SearchKubernetesImage", PropertyKind.Text, "", "Container image with llamanas installed, for kubernetes evaluation."),
        new("SearchKubernetesNamespace", PropertyKind.Text, "default", "Namespace of the Indexed Job."),
        new("SearchKubernetesVolumeClaim", PropertyKind.Text, "", "PersistentVolumeClaim that holds SearchSharedDirectory."),
        new("SearchKubernetesMountPath", PropertyKind.Text, "/llamanas-shared", "Where the pods mount the claim."),
        new("SearchKubernetesResources", PropertyKind.Text, "", "Per-pod resource limits as name=quantity pairs (e.g. cpu=32,memory=32Gi)."),
        new("Seed", PropertyKind.WholeNumber, "0", "Seed of every random choice (data generation, fine-tuning, search)."),
        new("ComputeDtype", PropertyKind.Choice, "fp32", "Compute dtype of fine-tuning and evaluation: fp32 or bf16; also the format sizes are measured in.", ["fp32", "bf16"]),
        new("FineTune", PropertyKind.Boolean, "true", "Fine-tune the base model as an elastic super-network before the search (false: search the base model as it is)."),
        new("FineTuneStrategy", PropertyKind.Choice, "instatune", "Which networks each step trains: standard, instatune, sandwich or grid-params (docs/FINETUNE.md).", ["standard", "instatune", "sandwich", "grid-params"]),
        new("FineTuneSteps", PropertyKind.WholeNumber, "100", "Optimizer steps of super-network fine-tuning."),
        new("FineTuneBatchSize", PropertyKind.WholeNumber, "8", "Rows per fine-tuning batch."),
        new("FineTuneSequenceLength", PropertyKind.WholeNumber, "256", "Tokens per fine-tuning row."),
        new("FineTuneLearningRate", PropertyKind.Number, "0.0001", "Peak learning rate (warm-up, then cosine decay)."),
        new("FineTuneLoraRank", PropertyKind.WholeNumber, "0", "Train elastic LoRA adapters of this rank over frozen weights (0: train the weights)."),
        new("FineTunePermute", PropertyKind.Boolean, "false", "Permute MLP neurons and KV groups by importance before fine-tuning."),
        new("FineTuneDistill", PropertyKind.Choice, "none", "Knowledge distillation while fine-tuning: none, inplace (the full network of each step teaches its sub-networks) or base (the base model, frozen, teaches every network) (docs/FINETUNE.md).", ["none", "inplace", "base"]),
        new("FineTuneDistillTemperature", PropertyKind.Number, "1", "Softmax temperature of distillation (the KL term is scaled by its square)."),
        new("FineTuneDistillAlpha", PropertyKind.Number, "1", "Weight of the distillation term in a taught network's loss (the language-modelling loss gets 1 - alpha)."),
        new("TrainingDataFormat", PropertyKind.Choice, "auto", "Format of the TrainingData files: alpaca, text or auto (.txt is text).", ["auto", "alpaca", "text"]),
        new("SelfGeneratedData", PropertyKind.Boolean, "false", "Sample the training and held-out text from the base model itself (seeded) instead of TrainingData files."),
        new("SelfGeneratedSamples", PropertyKind.WholeNumber, "64", "Self-generated training documents."),
        new("SelfGeneratedHeldOutSamples", PropertyKind.WholeNumber, "16", "Self-generated held-out documents."),
        new("SelfGeneratedTokens", PropertyKind.WholeNumber, "128", "Tokens per self-generated document."),
        new("LlamaNasCacheDirectory", PropertyKind.Path, "", "Where fine-tuned super-networks are kept across builds and clean (empty: $LLAMANAS_CACHE, else $XDG_CACHE_HOME/llamanas, else ~/.cache/llamanas)."),
        new("LlamaNasModelFolder", PropertyKind.Text, "model", "Name of the exported model folder inside the output directory."),
        new("LlamaNasCacheFeeds", PropertyKind.Text, "", "NuGet feeds that share fine-tuned super-networks between machines (semicolon list: folders relative to the project, http(s) feed URLs, or source names of NuGet.config); empty: the package sources that the NuGet.config files in the project's folder and above add, except nuget.org (docs/CACHING.md)."),
        new("LlamaNasCacheMode", PropertyKind.Choice, "readwrite", "What the build does with the feeds: readwrite (restore a super-network instead of training it; push one it trained), read (restore only, e.g. for pull-request builds) or off.", ["readwrite", "read", "off"]),
        new("LlamaNasCachePackageLimit", PropertyKind.WholeNumber, "250000000", "Largest package pushed to a feed, in bytes (nuget.org's limit is 250 MB); a bigger super-network is split into parts that restore as one."),
    ];

    /// <summary>Search dimensions (<c>SearchDimension</c> items) and what each slices.</summary>
    public static IReadOnlyList<(string Name, string Meaning)> Dimensions { get; } =
    [
        ("Depth", "layer counts; a sub-network keeps the first N layers"),
        ("MlpWidth", "MLP widths, chosen per layer; a layer keeps its first k neurons"),
        ("AttentionHeads", "query heads, chosen per layer, in multiples of the heads per KV group"),
        ("HiddenSize", "hidden (embedding) widths; every layer keeps the first d channels"),
    ];

    /// <summary>MSBuild's own properties a project may set without a warning.</summary>
    public static IReadOnlySet<string> MsBuildProperties { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "Configuration", "Platform", "OutputPath", "OutDir", "BaseOutputPath", "BaseIntermediateOutputPath", "IntermediateOutputPath",
        "NoWarn", "WarningsAsErrors", "WarningsNotAsErrors", "TreatWarningsAsErrors", "MSBuildWarningsAsMessages", "MSBuildWarningsAsErrors",
        "MSBuildTreatWarningsAsErrors", "Description", "Version", "Authors", "LlamaNasToolPath", "LlamaNasFromSource", "LlamaNasPlanDependsOn",
        "CustomBeforeLlamaNasProps", "CustomAfterLlamaNasProps", "CustomBeforeLlamaNasTargets", "CustomAfterLlamaNasTargets",
        "ImportDirectoryBuildProps", "ImportDirectoryBuildTargets", "RestoreSources", "RestorePackagesPath", "DisableImplicitNuGetFallbackFolder",
    };

    public static PropertyDefinition? Find(string name) => Properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));

    /// <summary>The closest of <paramref name="candidates"/> to <paramref name="name"/> when it is near enough to be a typo.</summary>
    public static string? Suggest(string name, IEnumerable<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(name);
        var best = candidates.Select(c => (Name: c, Distance: Distance(name.ToLowerInvariant(), c.ToLowerInvariant()))).OrderBy(c => c.Distance).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(1, Math.Min(3, best.Name.Length / 3)) ? best.Name : null;
    }

    /// <summary>Optimal string alignment distance (Levenshtein with adjacent swaps): typos are mostly one of those.</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
