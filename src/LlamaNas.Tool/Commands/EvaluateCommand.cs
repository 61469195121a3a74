using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Tokenization;

namespace LlamaNas.Tool.Commands;

/// <summary><c>llamanas evaluate &lt;model&gt; --tasks …</c>: lm-eval-parity accuracy, perplexity, a results table and files.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A Hugging Face model directory (weights and tokenizer), or a hub id org/name[@revision]." };
        var tasks = new Option<string>("--tasks") { Description = $"Comma-separated tasks: {string.Join(", ", TaskLoader.BuiltInTaskNames)}, or 'user' with --user-task.", DefaultValueFactory = _ => string.Empty };
        var dataDir = new Option<string>("--data-dir") { Description = "Folder laid out like shared/data or holding Hugging Face hub files (docs/EVALUATION.md).", DefaultValueFactory = _ => "data" };
        var fewshot = new Option<int?>("--num-fewshot") { Description = "Few-shot examples (default: the task's; MMLU 5, others 0)." };
        var pool = new Option<string?>("--fewshot-pool") { Description = "Few-shot pool file for tasks other than MMLU." };
        var userTask = new Option<string?>("--user-task") { Description = "A user task in the documented jsonl schema." };
        var limit = new Option<int?>("--limit") { Description = "Evaluate a seeded subsample of N items per task (search-time evaluation)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the --limit subsample." };
        var perplexity = new Option<string[]>("--perplexity") { Description = "Text file(s) to report token/word/byte perplexity on (documents split on <|endoftext|> lines).", AllowMultipleArgumentsPerToken = true };
        var protocol = new Option<string>("--perplexity-protocol") { Description = "How --perplexity is measured: lm-eval (rolling windows of --max-length, every token scored) or llama.cpp (llama-perplexity's chunks of --ctx tokens, second halves scored, PPL ± stderr).", DefaultValueFactory = _ => "lm-eval" };
        var ctx = new Option<int?>("--ctx") { Description = $"Chunk length of the llama.cpp perplexity protocol (default {PerplexityWindows.DefaultLlamaCppContext}, llama.cpp's)." };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype: fp32, bf16 or fp16.", DefaultValueFactory = _ => "fp32" };
        var addBos = new Option<bool>("--add-bos") { Description = "Prepend BOS to every context (lm-eval's add_bos_token=True)." };
        var batchTokens = new Option<int>("--batch-tokens") { Description = "Max rows × padded length per forward pass.", DefaultValueFactory = _ => 8192 };
        var shareContexts = new Option<int>("--share-contexts") { Description = "Run a context once for all its answer choices when that saves at least this many tokens (0: never).", DefaultValueFactory = _ => new ScorerOptions().PrefixSharingMinTokens };
        var maxLength = new Option<int>("--max-length") { Description = "Max input length (0: the model's max_position_embeddings)." };
        var output = new Option<string?>("--output") { Description = "Write the results JSON here." };
        var logSamples = new Option<string?>("--log-samples") { Description = "Write per-item log-likelihoods (jsonl) here." };
        var command = new Command("evaluate", "Evaluate a model on lm-evaluation-harness tasks and perplexity.")
        {
            model, tasks, dataDir, fewshot, pool, userTask, limit, seed, perplexity, protocol, ctx, dtype, addBos, batchTokens, shareContexts, maxLength, output, logSamples,
        };
        command.SetAction(result =>
        {
            var o = result.InvocationConfiguration.Output;
            var e = result.InvocationConfiguration.Error;
            var names = result.GetValue(tasks)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            if (result.GetValue(userTask) is not null && !names.Contains("user"))
            {
                names.Add("user");
            }

            var texts = result.GetValue(perplexity) ?? [];
            if (names.Count == 0 && texts.Length == 0)
            {
                throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, "nothing to evaluate: name --tasks, --user-task or --perplexity.");
            }

            if (result.GetValue(limit) is < 1)
            {
                throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, "--limit must be at least 1.");
            }

            if (result.GetValue(shareContexts) < 0)
            {
                throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, "--share-contexts must not be negative (0: never share).");
            }

            var pplOptions = PerplexityOptions.Parse(result.GetValue(protocol)!, result.GetValue(ctx));
            foreach (var t in texts)
            {
                RequireFile(t);
            }

            // Load every task first, so that a data problem is reported before any model time is spent.
            var loadOptions = new TaskLoadOptions { NumFewshot = result.GetValue(fewshot), FewshotPoolPath = result.GetValue(pool), UserTaskFile = result.GetValue(userTask) };
            var loaded = names.Select(n => Limit(TaskLoader.Load(n, result.GetValue(dataDir)!, n == "user" ? loadOptions : loadOptions with { UserTaskFile = null }), result.GetValue(limit), result.GetValue(seed))).ToList();

            TorchRuntime.EnsureInitialized();
            var directory = Cli.Model(result.GetValue(model)!);
            var computeDtype = ComputeDtype.Parse(result.GetValue(dtype)!);
            var tokenizer = TokenizerLoader.LoadForModel(directory);
            using var llm = LlamaForCausalLM.Load(directory, computeDtype);
            var scorer = new LoglikelihoodScorer(llm, tokenizer, new ScorerOptions { AddBos = result.GetValue(addBos), MaxBatchTokens = result.GetValue(batchTokens), MaxLength = result.GetValue(maxLength), PrefixSharingMinTokens = result.GetValue(shareContexts) });
            var taskResults = new List<TaskResult>();
            foreach (var task in loaded)
            {
                var r = TaskEvaluator.Evaluate(scorer, task);
                e.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{task.Name}: {r.Items} items in {r.Seconds:F1} s ({r.ItemsPerSecond:F1} items/s)"));
                taskResults.Add(r);
            }

            if (texts.Length > 0 && pplOptions.Protocol == PerplexityProtocol.LlamaCpp && pplOptions.Context > llm.Config.MaxPositionEmbeddings)
            {
                // llama.cpp warns and goes on; RoPE positions are computed for any length, so this does too.
                e.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warning: the model was trained on only {llm.Config.MaxPositionEmbeddings} context tokens (--ctx {pplOptions.Context})"));
            }

            var ppl = new PerplexityEvaluator(llm, tokenizer, result.GetValue(maxLength));
            var pplResults = texts.Select(t => ppl.EvaluateFile(t, pplOptions)).ToList();

            o.Write(EvaluationReport.Table(taskResults, pplResults));
            var metadata = new Dictionary<string, string>
            {
                ["model"] = Path.GetFullPath(directory),
                ["dtype"] = ComputeDtype.Name(computeDtype),
                ["add_bos"] = result.GetValue(addBos) ? "true" : "false",
                ["limit"] = result.GetValue(limit)?.ToString(CultureInfo.InvariantCulture) ?? "none",
                ["seed"] = result.GetValue(seed).ToString(CultureInfo.InvariantCulture),
            };
            foreach (var (k, v) in pplOptions.Describe())
            {
                metadata[k] = v;
            }

            if (result.GetValue(output) is { } json)
            {
                EvaluationReport.WriteJson(json, EvaluationReport.Json(taskResults, pplResults, metadata));
            }

            if (result.GetValue(logSamples) is { } items)
            {
                EvaluationReport.WriteItems(items, taskResults);
            }

            return 0;
        });
        return command;
    }

    private static EvaluationTask Limit(EvaluationTask task, int? limit, ulong seed) =>
        limit is { } n && n < task.Items.Count ? task with { Items = TaskLoader.Subsample(task.Items, n, seed) } : task;

    private static void RequireFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, "perplexity text file not found.", new DiagnosticLocation(path));
        }
    }
}
