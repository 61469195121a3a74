using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.IO;

namespace LlamaNas.Engine.Evaluation;

/// <summary>Renders evaluation results: an lm-eval-style table, a results JSON and a per-item jsonl audit log.</summary>
public static class EvaluationReport
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string Table(IReadOnlyList<TaskResult> tasks, IReadOnlyList<PerplexityResult> perplexities)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(perplexities);
        var sb = new StringBuilder();
        sb.AppendLine("| Task | n-shot | Metric | Value | | Stderr | Items |");
        sb.AppendLine("|---|---:|---|---:|---|---:|---:|");
        foreach (var t in tasks)
        {
            Row(sb, t.Task, t.NumFewshot.ToString(CultureInfo.InvariantCulture), "acc", t.Acc, t.Items);
            if (t.AccNorm is { } norm)
            {
                Row(sb, string.Empty, string.Empty, "acc_norm", norm, t.Items);
            }

            foreach (var g in t.Groups)
            {
                Row(sb, " - " + g.Group, string.Empty, "acc", g.Acc, g.Items);
            }
        }

        foreach (var p in perplexities)
        {
            if (p.Protocol == PerplexityProtocol.LlamaCpp)
            {
                // llama.cpp's "Final estimate: PPL = x +/- e"; Items are its chunks.
                sb.AppendLine(Invariant($"| {p.Source} (llama.cpp, ctx {p.Context}) | 0 | token_perplexity | {p.TokenPerplexity:F4} | ± | {p.TokenPerplexityStdErr ?? double.NaN:F5} | {p.Documents} |"));
                continue;
            }

            sb.AppendLine(Invariant($"| {p.Source} | 0 | token_perplexity | {p.TokenPerplexity:F4} | | | {p.Documents} |"));
            sb.AppendLine(Invariant($"| | | word_perplexity | {p.WordPerplexity:F4} | | | |"));
            sb.AppendLine(Invariant($"| | | byte_perplexity | {p.BytePerplexity:F4} | | | |"));
            sb.AppendLine(Invariant($"| | | bits_per_byte | {p.BitsPerByte:F4} | | | |"));
        }

        return sb.ToString();
    }

    /// <summary>The results document (lm-eval's "results" shape, plus throughput and metadata).</summary>
    public static JsonObject Json(IReadOnlyList<TaskResult> tasks, IReadOnlyList<PerplexityResult> perplexities, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(perplexities);
        ArgumentNullException.ThrowIfNull(metadata);
        var results = new JsonObject();
        foreach (var t in tasks)
        {
            var o = new JsonObject { ["num_fewshot"] = t.NumFewshot, ["items"] = t.Items, ["acc"] = t.Acc.Value, ["acc_stderr"] = t.Acc.StdErr };
            if (t.AccNorm is { } norm)
            {
                o["acc_norm"] = norm.Value;
                o["acc_norm_stderr"] = norm.StdErr;
            }

            o["seconds"] = t.Seconds;
            o["items_per_second"] = t.ItemsPerSecond;
            if (t.Groups.Count > 0)
            {
                var groups = new JsonObject();
                foreach (var g in t.Groups)
                {
                    groups[g.Group] = new JsonObject { ["items"] = g.Items, ["acc"] = g.Acc.Value, ["acc_stderr"] = g.Acc.StdErr };
                }

                o["groups"] = groups;
            }

            results[t.Task] = o;
        }

        foreach (var p in perplexities)
        {
            results[p.Source] = p.Protocol == PerplexityProtocol.LlamaCpp
                ? new JsonObject
                {
                    ["protocol"] = PerplexityWindows.Name(p.Protocol),
                    ["ctx"] = p.Context,
                    ["chunks"] = p.Documents,
                    ["scored_tokens"] = p.Tokens,
                    ["token_perplexity"] = p.TokenPerplexity,
                    ["token_perplexity_stderr"] = p.TokenPerplexityStdErr,
                    ["seconds"] = p.Seconds,
                }
                : new JsonObject
                {
                    ["protocol"] = PerplexityWindows.Name(p.Protocol),
                    ["documents"] = p.Documents,
                    ["tokens"] = p.Tokens,
                    ["token_perplexity"] = p.TokenPerplexity,
                    ["word_perplexity"] = p.WordPerplexity,
                    ["byte_perplexity"] = p.BytePerplexity,
                    ["bits_per_byte"] = p.BitsPerByte,
                    ["seconds"] = p.Seconds,
                };
        }

        var meta = new JsonObject();
        foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            meta[k] = v;
        }

        return new JsonObject { ["results"] = results, ["config"] = meta };
    }

    public static void WriteJson(string path, JsonObject document) => AtomicFile.WriteAllText(path, document.ToJsonString(Indented) + "\n");

    /// <summary>One line per item: task, id, group, gold, per-choice log-likelihoods and greedy flags, predictions.</summary>
    public static void WriteItems(string path, IEnumerable<TaskResult> tasks) => AtomicFile.Write(path, stream =>
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
        foreach (var t in tasks)
        {
            foreach (var d in t.Details)
            {
                var line = new JsonObject
                {
                    ["task"] = t.Task,
                    ["id"] = d.Id,
                    ["group"] = d.Group,
                    ["gold"] = d.Gold,
                    ["loglikelihoods"] = new JsonArray([.. d.LogLikelihoods.Select(v => (JsonNode)v)]),
                    ["is_greedy"] = new JsonArray([.. d.IsGreedy.Select(v => (JsonNode)v)]),
                    ["pred"] = d.Predicted,
                    ["pred_norm"] = d.PredictedNorm,
                    ["acc"] = d.Correct ? 1 : 0,
                };
                writer.WriteLine(line.ToJsonString());
            }
        }
    });

    private static void Row(StringBuilder sb, string task, string shots, string metric, MetricValue m, int items) =>
        sb.AppendLine(Invariant($"| {task} | {shots} | {metric} | {m.Value:F4} | ± | {m.StdErr:F4} | {items} |"));

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
