using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Search;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Tool.Search;

/// <summary>
/// The command-line options that define a search's space and its real evaluator (model, objectives, data, dtype,
/// timing), shared by <c>search</c> and <c>bench search</c>.
/// </summary>
internal sealed class EvaluatorOptions
{
    private readonly Argument<string> _model = new("model") { Description = "A Hugging Face model directory (weights and tokenizer), or a hub id org/name[@revision]: the super-network." };
    private readonly Option<string> _objectives = new("--objectives")
    {
        Description = "2 or 3 comma-separated objectives: accuracy:<task> (or accuracy with --task), accuracy_norm:<task>, perplexity[:<text file>], size[:fp32|fp16|bf16|int8], params, throughput, latency.",
        Required = true,
    };

    private readonly Option<string?> _task = new("--task") { Description = "The task of an accuracy or accuracy_norm objective written without one (--task arc_easy --objectives accuracy,size)." };
    private readonly Option<string> _dataDir = new("--data-dir") { Description = "Task data folder for accuracy objectives (docs/EVALUATION.md).", DefaultValueFactory = _ => "data" };
    private readonly Option<int?> _limit = new("--limit") { Description = "Score a seeded subsample of N items of each accuracy task." };
    private readonly Option<ulong> _limitSeed = new("--limit-seed") { Description = "Seed of the --limit subsample (kept apart from --seed, so every search scores the same items)." };
    private readonly Option<int?> _fewshot = new("--num-fewshot") { Description = "Few-shot examples of accuracy tasks (default: the task's)." };
    private readonly Option<string?> _pool = new("--fewshot-pool") { Description = "Few-shot pool file for tasks other than MMLU." };
    private readonly Option<string?> _userTask = new("--user-task") { Description = "A user task (jsonl) for accuracy:user." };
    private readonly Option<bool> _addBos = new("--add-bos") { Description = "Prepend BOS to every accuracy context." };
    private readonly Option<string?> _text = new("--perplexity-text") { Description = "Held-out text of a plain 'perplexity' objective (documents split on <|endoftext|> lines)." };
    private readonly Option<long> _textTokens = new("--perplexity-tokens") { Description = "Score only the first N tokens of the perplexity text (0: all)." };
    private readonly Option<string> _protocol = new("--perplexity-protocol") { Description = "How perplexity objectives are measured: lm-eval (rolling windows of --max-length) or llama.cpp (chunks of --ctx tokens, second halves scored).", DefaultValueFactory = _ => "lm-eval" };
    private readonly Option<int?> _ctx = new("--ctx") { Description = $"Chunk length of the llama.cpp perplexity protocol (default {PerplexityWindows.DefaultLlamaCppContext})." };
    private readonly Option<bool> _sharePrefixes = new("--share-prefixes") { Description = "Measure perplexity for a whole batch, running the blocks that sub-networks share (same hidden width, same first k blocks) once; the results are the same. --share-prefixes false measures one by one.", DefaultValueFactory = _ => true };
    private readonly Option<int> _maxLength = new("--max-length") { Description = "Max input length for accuracy and perplexity windows (0: the model's max_position_embeddings)." };
    private readonly Option<string> _dtype = new("--dtype") { Description = "Compute dtype fp32, bf16 or fp16; also the default format of 'size'.", DefaultValueFactory = _ => "fp32" };
    private readonly SpaceOptions _space = new("Default: LLaMA-NAS's {3/4, 7/8, 1} of the layers, MLP {1/2, 1} of the width; heads and hidden width not searched.");
    private readonly Option<int> _speedBatch = new("--speed-batch") { Description = "Batch of throughput/latency measurements.", DefaultValueFactory = _ => 1 };
    private readonly Option<int> _speedSeq = new("--speed-seq") { Description = "Sequence (context) length of throughput/latency measurements.", DefaultValueFactory = _ => 128 };
    private readonly Option<int> _speedReps = new("--speed-reps") { Description = "Timed repetitions per throughput/latency measurement (median reported).", DefaultValueFactory = _ => 5 };
    private readonly Option<int> _speedWarmup = new("--speed-warmup") { Description = "Untimed warm-up repetitions per throughput/latency measurement.", DefaultValueFactory = _ => 2 };

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Arguments.Add(_model);
        foreach (var option in new Option[] { _objectives, _task, _dataDir, _limit, _limitSeed, _fewshot, _pool, _userTask, _addBos, _text, _textTokens, _protocol, _ctx, _sharePrefixes, _maxLength, _dtype, _speedBatch, _speedSeq, _speedReps, _speedWarmup })
        {
            command.Options.Add(option);
        }

        _space.AddTo(command);
    }

    /// <summary>Parses and checks everything that needs no model (coded errors before any weight is read).</summary>
    public EvaluatorSettings Read(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var dtype = ComputeDtype.Parse(result.GetValue(_dtype)!);
        var text = result.GetValue(_text);
        var objectives = SearchObjective.ParseList(result.GetValue(_objectives)!, defaultTask: result.GetValue(_task)).Select(o => o switch
        {
            { Kind: ObjectiveKind.Size, Argument: null } => o with { Argument = ComputeDtype.Name(dtype) },
            { Kind: ObjectiveKind.Perplexity, Argument: null } => o with { Argument = Path.GetFullPath(text ?? throw new LlamaNasException(DiagnosticCodes.SearchObjectiveDataInvalid, "objective 'perplexity' needs a held-out text: write perplexity:<text file> or pass --perplexity-text.", new DiagnosticLocation("--objectives", Item: "perplexity"))) },
            { Kind: ObjectiveKind.Perplexity, Argument: { } path } => o with { Argument = Path.GetFullPath(path) },
            _ => o,
        }).ToList();
        Require(result.GetValue(_limit) is null or >= 1, "--limit", "must be at least 1");
        Require(result.GetValue(_textTokens) >= 0, "--perplexity-tokens", "must not be negative (0 scores the whole text)");
        Require(result.GetValue(_maxLength) >= 0, "--max-length", "must not be negative (0: the model's max_position_embeddings)");
        Require(result.GetValue(_speedBatch) >= 1 && result.GetValue(_speedSeq) >= 1 && result.GetValue(_speedReps) >= 1 && result.GetValue(_speedWarmup) >= 0, "--speed-*", "need batch, seq and reps ≥ 1 and warm-up ≥ 0");
        return new EvaluatorSettings
        {
            Model = Path.GetFullPath(Cli.Model(result.GetValue(_model)!)),
            Dtype = dtype,
            Objectives = objectives,
            DataDir = result.GetValue(_dataDir)!,
            Limit = result.GetValue(_limit),
            LimitSeed = result.GetValue(_limitSeed),
            TaskOptions = new TaskLoadOptions { NumFewshot = result.GetValue(_fewshot), FewshotPoolPath = result.GetValue(_pool), UserTaskFile = result.GetValue(_userTask) },
            AddBos = result.GetValue(_addBos),
            PerplexityTokens = result.GetValue(_textTokens),
            MaxLength = result.GetValue(_maxLength),
            Perplexity = PerplexityOptions.Parse(result.GetValue(_protocol)!, result.GetValue(_ctx)),
            SharePrefixes = result.GetValue(_sharePrefixes),
            Space = _space.Read(result),
            Speed = new SpeedOptions { Batch = result.GetValue(_speedBatch), SequenceLength = result.GetValue(_speedSeq), Repetitions = result.GetValue(_speedReps), Warmup = result.GetValue(_speedWarmup) },
        };
    }

    /// <summary>A comma-separated list of numbers; LNAS0533 when it is not one.</summary>
    public static IReadOnlyList<double>? Numbers(string? text, string option, int count)
    {
        if (text is null)
        {
            return null;
        }

        var values = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                throw new LlamaNasException(DiagnosticCodes.SearchReferencePointInvalid, $"'{part}' is not a finite number; give one number per objective, in minimised units (accuracy and throughput negated).", new DiagnosticLocation(option));
            }

            values.Add(value);
        }

        return values.Count == count ? values
            : throw new LlamaNasException(DiagnosticCodes.SearchReferencePointInvalid, $"{values.Count} values for {count} objectives; give one per objective, in the order of --objectives.", new DiagnosticLocation(option));
    }

    internal static void Require(bool ok, string option, string what)
    {
        if (!ok)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchOptionsInvalid, $"{option} {what}.", new DiagnosticLocation(option));
        }
    }
}
