using System.Diagnostics;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;

namespace LlamaNas.Engine.Search;

/// <summary>
/// What the objectives of a search measure on: the super-network, its tokenizer and search space, the loaded tasks
/// (by task name) and held-out texts (by path), and the scoring and timing settings. Only what the chosen
/// objectives use needs to be present.
/// </summary>
public sealed record ObjectiveResources
{
    public required LlamaForCausalLM Model { get; init; }

    public required Tokenization.ITextTokenizer Tokenizer { get; init; }

    public required SearchSpace Space { get; init; }

    /// <summary>Multiple-choice tasks of accuracy objectives, keyed by the objective's argument (the task name).</summary>
    public IReadOnlyDictionary<string, EvaluationTask> Tasks { get; init; } = new Dictionary<string, EvaluationTask>();

    /// <summary>Documents of perplexity objectives, keyed by the objective's argument (the text file).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Texts { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Score only the first N tokens of each perplexity text (0: all of it).</summary>
    public long PerplexityTokens { get; init; }

    public ScorerOptions Scorer { get; init; } = new();

    /// <summary>Context length of perplexity windows (0: the model's max_position_embeddings).</summary>
    public int MaxLength { get; init; }

    /// <summary>The perplexity protocol; with llama.cpp each text is the whole file, one entry in <see cref="Texts"/>.</summary>
    public PerplexityOptions Perplexity { get; init; } = new();

    public SpeedOptions Speed { get; init; } = new();
}

/// <summary>
/// One objective of a search bound to what it measures: <see cref="Measure"/> gives the raw metric (accuracy as
/// accuracy) of the sub-network the model runs now. Anything that does not depend on the sub-network (tokenized
/// requests and texts) is prepared once, when the objective is created.
/// </summary>
public abstract class SubnetworkObjective
{
    private protected SubnetworkObjective(SearchObjective spec) => Spec = spec;

    public SearchObjective Spec { get; }

    /// <summary>The raw metric of <paramref name="arch"/>, which is the model's active sub-network.</summary>
    public abstract double Measure(LlamaForCausalLM model, SubnetworkArchitecture arch);

    /// <summary>
    /// The raw metrics of several sub-networks of the model at once, with work they have in common done once (blocks
    /// of a shared prefix); equal to <see cref="Measure"/> one by one. Null when the objective has nothing to share.
    /// </summary>
    public virtual IReadOnlyList<double>? MeasureShared(IReadOnlyList<SubnetworkArchitecture> archs) => null;

    /// <summary>
    /// The hypervolume reference value, in minimised units (<see cref="SearchObjective.ToObjective"/>): the worst
    /// value still worth something. Accuracy 0, throughput 0, perplexity the vocabulary size (uniform guessing:
    /// ln(vocab) in minimised units), size and parameters 1.1 × the whole model's, latency 2 × the whole model's
    /// measured latency (timings are noisy).
    /// </summary>
    public abstract double Reference(LlamaForCausalLM model);

    /// <summary>Binds <paramref name="spec"/> to <paramref name="resources"/>; LNAS0534 when what it needs is missing or unusable.</summary>
    public static SubnetworkObjective Create(SearchObjective spec, ObjectiveResources resources)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(resources);
        return spec.Kind switch
        {
            ObjectiveKind.Accuracy or ObjectiveKind.AccuracyNorm => new AccuracyObjective(spec, resources),
            ObjectiveKind.Perplexity => new PerplexityObjective(spec, resources),
            ObjectiveKind.Size => new SizeObjective(spec, resources.Space),
            ObjectiveKind.Parameters => new ParameterObjective(spec, resources.Space),
            _ => new SpeedObjective(spec, resources.Speed),
        };
    }

    /// <summary>
    /// The objective as measured on a sub-network's INT8 form (<see cref="LlamaForCausalLM.QuantizeActive"/>): a size
    /// objective counts the INT8 export's bytes; every other objective measures the quantized network as it runs.
    /// </summary>
    public SubnetworkObjective ForInt8() => this is SizeObjective size ? new SizeObjective(Int8Spec(Spec), size.Space) : this;

    /// <summary>The spec of <see cref="ForInt8"/>: a size objective in int8, any other unchanged.</summary>
    public static SearchObjective Int8Spec(SearchObjective spec) =>
        spec?.Kind == ObjectiveKind.Size ? new SearchObjective(ObjectiveKind.Size, "int8") : spec ?? throw new ArgumentNullException(nameof(spec));

    /// <summary>How a <c>size</c> objective's format (fp32, fp16, bf16, int8; null: fp32) stores tensors.</summary>
    public static SizeModel SizeModelOf(string? format) => format switch
    {
        null or "fp32" => SizeModel.Fp32,
        "fp16" or "bf16" => SizeModel.Fp16,
        "int8" => SizeModel.Int8Linear(),
        _ => throw new LlamaNasException(DiagnosticCodes.SearchObjectiveUnknown, $"size format '{format}' is not one of {string.Join(", ", SearchObjective.SizeFormats)}."),
    };

    private protected LlamaNasException Unusable(string what) =>
        new(DiagnosticCodes.SearchObjectiveDataInvalid, $"objective {Spec.Name}: {what}", new DiagnosticLocation("--objectives", Item: Spec.Name));

    private sealed class AccuracyObjective : SubnetworkObjective
    {
        private readonly LoglikelihoodScorer _scorer;
        private readonly EvaluationTask _task;
        private readonly PreparedRequests _requests;
        private readonly bool _norm;

        public AccuracyObjective(SearchObjective spec, ObjectiveResources r)
            : base(spec)
        {
            _task = r.Tasks.TryGetValue(spec.Argument!, out var task) ? task : throw Unusable($"task {spec.Argument} was not loaded.");
            _norm = spec.Kind == ObjectiveKind.AccuracyNorm;
            if (_norm && !task.ReportsAccNorm)
            {
                throw Unusable($"task {task.Name} reports acc only (lm-eval gives it no acc_norm); use accuracy:{spec.Argument}.");
            }

            _scorer = new LoglikelihoodScorer(r.Model, r.Tokenizer, r.Scorer);
            _requests = _scorer.Prepare([.. task.Items.SelectMany(i => i.Requests)]);
        }

        public override double Measure(LlamaForCausalLM model, SubnetworkArchitecture arch)
        {
            var sw = Stopwatch.StartNew();
            var result = TaskEvaluator.Summarize(_task, _scorer.Score(_requests), sw.Elapsed.TotalSeconds);
            return _norm ? result.AccNorm!.Value : result.Acc.Value;
        }

        public override double Reference(LlamaForCausalLM model) => 0;
    }

    private sealed class PerplexityObjective : SubnetworkObjective
    {
        private readonly Func<double> _measure;
        private readonly Func<IReadOnlyList<SubnetworkArchitecture>, IEnumerable<PerplexityResult>> _measureMany;

        public PerplexityObjective(SearchObjective spec, ObjectiveResources r)
            : base(spec)
        {
            var documents = r.Texts.TryGetValue(spec.Argument ?? string.Empty, out var docs) ? docs : throw Unusable("no text was given: write perplexity:<text file> or pass --perplexity-text.");
            var evaluator = new PerplexityEvaluator(r.Model, r.Tokenizer, r.MaxLength);
            var name = Path.GetFileName(spec.Argument!);
            if (r.Perplexity.Protocol == PerplexityProtocol.LlamaCpp)
            {
                var tokens = evaluator.TokenizeLlamaCpp(string.Concat(documents), spec.Argument!);
                if (r.PerplexityTokens > 0 && tokens.Count > r.PerplexityTokens)
                {
                    tokens = [.. tokens.Take((int)r.PerplexityTokens)];
                }

                // A text too short for two chunks is refused here, before the first evaluation.
                PerplexityWindows.CheckLlamaCpp(tokens.Count, r.Perplexity.Context, spec.Argument!);
                _measure = () => evaluator.EvaluateLlamaCpp(name, tokens, r.Perplexity.Context).TokenPerplexity;
                _measureMany = archs => evaluator.EvaluateLlamaCppMany(name, tokens, r.Perplexity.Context, archs);
                return;
            }

            var text = evaluator.Tokenize(name, documents, r.PerplexityTokens);
            if (text.Tokens == 0)
            {
                throw Unusable($"the text {spec.Argument} holds no tokens.");
            }

            _measure = () => evaluator.Evaluate(text).TokenPerplexity;
            _measureMany = archs => evaluator.EvaluateMany(text, archs);
        }

        public override double Measure(LlamaForCausalLM model, SubnetworkArchitecture arch) => _measure();

        public override IReadOnlyList<double> MeasureShared(IReadOnlyList<SubnetworkArchitecture> archs) => [.. _measureMany(archs).Select(p => p.TokenPerplexity)];

        public override double Reference(LlamaForCausalLM model) => Spec.ToObjective(model.Config.VocabSize);
    }

    private sealed class SizeObjective(SearchObjective spec, SearchSpace space) : SubnetworkObjective(spec)
    {
        private readonly SizeModel _format = SizeModelOf(spec.Argument);

        public SearchSpace Space => space;

        public override double Measure(LlamaForCausalLM model, SubnetworkArchitecture arch) => space.SizeBytes(arch, _format) / 1e9;

        public override double Reference(LlamaForCausalLM model) => 1.1 * Measure(model, model.FullArchitecture);
    }

    private sealed class ParameterObjective(SearchObjective spec, SearchSpace space) : SubnetworkObjective(spec)
    {
        public override double Measure(LlamaForCausalLM model, SubnetworkArchitecture arch) => space.ParameterCount(arch);

        public override double Reference(LlamaForCausalLM model) => 1.1 * Measure(model, model.FullArchitecture);
    }

    private sealed class SpeedObjective(SearchObjective spec, SpeedOptions options) : SubnetworkObjective(spec)
    {
        public override double Measure(LlamaForCausalLM model, SubnetworkArchitecture arch) => Spec.Kind == ObjectiveKind.Throughput
            ? SpeedMeter.MeasurePrefill(model, options).TokensPerSecond
            : SpeedMeter.MeasureDecode(model, options).Seconds.Median;

        public override double Reference(LlamaForCausalLM model)
        {
            if (Spec.Kind == ObjectiveKind.Throughput)
            {
                return 0;
            }

            var active = model.ActiveArchitecture;
            model.ActivateFull();
            try
            {
                return 2 * Measure(model, model.FullArchitecture);
            }
            finally
            {
                model.ActivateSubnetwork(active);
            }
        }
    }
}
