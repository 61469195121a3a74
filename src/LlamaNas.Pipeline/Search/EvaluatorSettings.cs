using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.IO;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Search;
using LlamaNas.Engine.Tokenization;

namespace LlamaNas.Pipeline.Search;

/// <summary>Search-space choices as given (null where a dimension is left to the default).</summary>
public sealed record SpaceChoices(IReadOnlyList<int>? Depths, IReadOnlyList<int>? Mlp, IReadOnlyList<int>? Heads, IReadOnlyList<int>? Hidden);

/// <summary>
/// What a search evaluates with: the super-network, objectives (size format and perplexity text resolved), data,
/// dtype, space choices and timing settings. The CLI parses it from options, the build pipeline from a project.
/// </summary>
public sealed record EvaluatorSettings
{
    public required string Model { get; init; }

    public required TorchSharp.torch.ScalarType Dtype { get; init; }

    public required IReadOnlyList<SearchObjective> Objectives { get; init; }

    public required string DataDir { get; init; }

    public int? Limit { get; init; }

    public ulong LimitSeed { get; init; }

    public required TaskLoadOptions TaskOptions { get; init; }

    public bool AddBos { get; init; }

    public long PerplexityTokens { get; init; }

    public int MaxLength { get; init; }

    /// <summary>Perplexity protocol and llama.cpp chunk length (--perplexity-protocol, --ctx).</summary>
    public PerplexityOptions Perplexity { get; init; } = new();

    /// <summary>Measure perplexity for a whole batch with shared block prefixes run once (same metrics, less time).</summary>
    public bool SharePrefixes { get; init; } = true;

    /// <summary>--depths, --mlp, --heads, --hidden as given; LLaMA-NAS defaults fill depth and MLP.</summary>
    public required SpaceChoices Space { get; init; }

    public required SpeedOptions Speed { get; init; }

    private bool Uses(params ObjectiveKind[] kinds) => Objectives.Any(o => kinds.Contains(o.Kind));

    /// <summary>
    /// The settings that determine what an evaluation returns, as saved with the search state and in pareto.json;
    /// only those the chosen objectives use, so an unused option never blocks a resume. Files are named by content
    /// (SHA-256) and file name, never by absolute path, so the same search run from a copied folder records the same
    /// settings (and a moved model still resumes).
    /// </summary>
    public IReadOnlyDictionary<string, string> Describe()
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["model"] = Fingerprints.Model(Model),
            ["dtype"] = ComputeDtype.Name(Dtype),
            ["objectives"] = string.Join(',', Objectives.Select(o => o.PortableName)),
        };
        foreach (var o in Objectives.Where(o => o.Kind == ObjectiveKind.Perplexity && File.Exists(o.Argument)))
        {
            d[o.MetricName] = FileFingerprint.Of(o.Argument!);
        }

        if (Uses(ObjectiveKind.Accuracy, ObjectiveKind.AccuracyNorm))
        {
            d["data_dir"] = DataDir;
            d["limit"] = Limit?.ToString(CultureInfo.InvariantCulture) ?? "none";
            d["limit_seed"] = LimitSeed.ToString(CultureInfo.InvariantCulture);
            d["num_fewshot"] = TaskOptions.NumFewshot?.ToString(CultureInfo.InvariantCulture) ?? "default";
            d["fewshot_pool"] = TaskOptions.FewshotPoolPath is { } pool ? Fingerprints.Path(pool) : "none";
            d["user_task"] = TaskOptions.UserTaskFile is { } user ? Fingerprints.Path(user) : "none";
            d["add_bos"] = AddBos ? "true" : "false";
        }

        if (Uses(ObjectiveKind.Perplexity))
        {
            d["perplexity_tokens"] = PerplexityTokens.ToString(CultureInfo.InvariantCulture);
            foreach (var (k, v) in Perplexity.Describe())
            {
                d[k] = v;
            }
        }

        if (Uses(ObjectiveKind.Accuracy, ObjectiveKind.AccuracyNorm, ObjectiveKind.Perplexity))
        {
            d["max_length"] = MaxLength.ToString(CultureInfo.InvariantCulture);
        }

        if (Uses(ObjectiveKind.Throughput, ObjectiveKind.Latency))
        {
            d["speed"] = string.Create(CultureInfo.InvariantCulture, $"batch={Speed.Batch};seq={Speed.SequenceLength};reps={Speed.Repetitions};warmup={Speed.Warmup}");
        }

        return d;
    }

    /// <summary>Storage format of the reported sizes: the size objective's, else the compute dtype's.</summary>
    public SizeModel SizeModel => SubnetworkObjective.SizeModelOf(Objectives.FirstOrDefault(o => o.Kind == ObjectiveKind.Size)?.Argument ?? ComputeDtype.Name(Dtype));

    /// <summary>
    /// Loads the tasks and texts (data errors first), then the tokenizer, the checkpoint's config and search space
    /// (choice errors, and whatever <paramref name="checkSpace"/> refuses, before any weight is read), then the
    /// weights, and binds the objectives.
    /// </summary>
    public LoadedEvaluator Load(Action<SearchSpace>? checkSpace = null)
    {
        var inputs = Prepare(checkSpace);
        using var checkpoint = LlamaCheckpoint.Open(Model);
        var model = LlamaForCausalLM.Create(checkpoint.Config, Dtype, checkpoint.Load);
        try
        {
            var resources = new ObjectiveResources
            {
                Model = model,
                Tokenizer = inputs.Tokenizer,
                Space = inputs.Space,
                Tasks = inputs.Tasks,
                Texts = inputs.Texts,
                PerplexityTokens = PerplexityTokens,
                Scorer = new ScorerOptions { AddBos = AddBos, MaxLength = MaxLength },
                MaxLength = MaxLength,
                Perplexity = Perplexity,
                Speed = Speed,
            };
            var objectives = Objectives.Select(o => SubnetworkObjective.Create(o, resources)).ToList();
            return new LoadedEvaluator(model, new SubnetworkEvaluator(model, inputs.Space, objectives, SizeModel) { SharePrefixes = SharePrefixes });
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Everything <see cref="Load"/> checks before it reads a weight (tasks, texts, tokenizer, config, space), for an
    /// evaluator whose weights are loaded elsewhere (the sharded search's workers).
    /// </summary>
    public (SearchSpace Space, LlamaConfig Config) LoadSpace(Action<SearchSpace>? checkSpace = null)
    {
        var inputs = Prepare(checkSpace);
        return (inputs.Space, inputs.Space.Base);
    }

    private sealed record Inputs(Dictionary<string, EvaluationTask> Tasks, Dictionary<string, IReadOnlyList<string>> Texts, ITextTokenizer Tokenizer, SearchSpace Space);

    private Inputs Prepare(Action<SearchSpace>? checkSpace)
    {
        var tasks = new Dictionary<string, EvaluationTask>(StringComparer.Ordinal);
        var texts = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var o in Objectives)
        {
            if (o.Kind is ObjectiveKind.Accuracy or ObjectiveKind.AccuracyNorm && !tasks.ContainsKey(o.Argument!))
            {
                var name = o.Argument!;
                var task = TaskLoader.Load(name, DataDir, name == "user" ? TaskOptions : TaskOptions with { UserTaskFile = null });
                tasks[name] = Limit is { } n && n < task.Items.Count ? task with { Items = TaskLoader.Subsample(task.Items, n, LimitSeed) } : task;
            }
            else if (o.Kind == ObjectiveKind.Perplexity)
            {
                texts[o.Argument!] = File.Exists(o.Argument)
                    ? PerplexityEvaluator.ReadText(o.Argument, Perplexity.Protocol)
                    : throw new LlamaNasException(DiagnosticCodes.SearchObjectiveDataInvalid, "perplexity text file not found.", new DiagnosticLocation(o.Argument!));
            }
        }

        // The search and its workers measure on the thread that loads: with the same thread count wherever they run.
        TorchRuntime.ApplyThreads();
        var tokenizer = TokenizerLoader.LoadForModel(Model);
        using var checkpoint = LlamaCheckpoint.Open(Model);
        var defaults = SearchSpaceSpec.LlamaNas(checkpoint.Config);
        var spec = new SearchSpaceSpec
        {
            Depths = Space.Depths ?? defaults.Depths,
            IntermediateSizes = Space.Mlp ?? defaults.IntermediateSizes,
            AttentionHeads = Space.Heads,
            HiddenSizes = Space.Hidden,
        };
        var space = SearchSpace.Create(checkpoint.Config, spec, "search space (--depths, --mlp, --heads, --hidden)");
        checkSpace?.Invoke(space);
        return new Inputs(tasks, texts, tokenizer, space);
    }
}

/// <summary>The loaded super-network and the evaluator bound to it; disposing frees the model.</summary>
public sealed class LoadedEvaluator(LlamaForCausalLM model, SubnetworkEvaluator evaluator) : ISearchEvaluator
{
    public LlamaForCausalLM Model { get; } = model;

    public SubnetworkEvaluator Evaluator { get; } = evaluator;

    public SearchSpace Space => Evaluator.Space;

    public IReadOnlyList<SearchObjective> Objectives { get; } = [.. evaluator.Objectives.Select(o => o.Spec)];

    public IReadOnlyList<SearchObjective> Int8Objectives { get; } = [.. evaluator.Int8Objectives.Select(o => o.Spec)];

    public SizeModel SizeModel => Evaluator.SizeModel;

    public double[] ReferencePoint() => Evaluator.ReferencePoint();

    public IReadOnlyList<SubnetworkEvaluation> Evaluate(IReadOnlyList<int[]> batch, Action<SubnetworkEvaluation>? done = null) => Evaluator.Evaluate(batch, done);

    public IReadOnlyList<SubnetworkEvaluation> EvaluateInt8(IReadOnlyList<IReadOnlyList<int>> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return [.. batch.Select(g => Evaluator.EvaluateInt8(g))];
    }

    public SubnetworkEvaluation EvaluateWhole() => Evaluator.EvaluateArchitecture(Model.FullArchitecture);

    public void Dispose() => Model.Dispose();
}
