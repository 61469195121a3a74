using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training;
using LlamaNas.Pipeline.Search;
using LlamaNas.Tool.Search;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas compare &lt;model&gt;… --perplexity &lt;file&gt; --depths … --mlp …</c>: held-out token perplexity of the full
/// network and of sliced sub-networks (every combination of the listed uniform choices), one column per model, so
/// super-networks from different strategies compare side by side (docs/RESULTS.md).
/// </summary>
public static class CompareCommand
{
    public static Command Create()
    {
        var models = new Argument<string[]>("models") { Description = "Model directories (base models or super-network checkpoints) of one architecture, or hub ids org/name[@revision].", Arity = ArgumentArity.OneOrMore };
        var perplexity = new Option<string>("--perplexity") { Description = "Held-out text (documents split on <|endoftext|> lines).", Required = true };
        var maxChars = new Option<int>("--max-chars") { Description = "Score only the text's first N characters, cut at a paragraph break (0: all of it)." };
        var labels = new Option<string?>("--labels") { Description = "Column names, comma-separated (default: the folders' names)." };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype: fp32, bf16 or fp16.", DefaultValueFactory = _ => "fp32" };
        var output = new Option<string?>("--output") { Description = "Also write the table as JSON here." };
        var space = new SpaceOptions("With no space option: LLaMA-NAS's {3/4, 7/8, 1} of the layers and MLP {1/2, 1} of the width; with only width options: all layers.");
        var command = new Command("compare", "Held-out perplexity of the full network and sliced sub-networks, for one or more models side by side.")
        {
            models, perplexity, maxChars, labels, dtype, output,
        };
        space.AddTo(command);
        command.SetAction(result =>
        {
            var o = result.InvocationConfiguration.Output;
            var directories = result.GetValue(models)!.Select(Cli.Model).ToArray();
            var names = result.GetValue(labels)?.Split(',', StringSplitOptions.TrimEntries) ?? [.. directories.Select(d => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(d))))];
            if (names.Length != directories.Length)
            {
                throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, $"--labels names {names.Length} columns for {directories.Length} models.");
            }

            var textPath = result.GetValue(perplexity)!;
            if (!File.Exists(textPath))
            {
                throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, "perplexity text file not found.", new DiagnosticLocation(textPath));
            }

            var documents = Head(PerplexityEvaluator.ReadDocuments(textPath), result.GetValue(maxChars));
            var config = LlamaConfig.Load(Path.Combine(directories[0], "config.json"));
            var architectures = Architectures(config, space.Spec(result, config));
            TorchRuntime.EnsureInitialized();
            var computeDtype = ComputeDtype.Parse(result.GetValue(dtype)!);
            var table = new double[architectures.Count, directories.Length];
            SubnetworkArchitecture? full = null;
            for (var m = 0; m < directories.Length; m++)
            {
                var tokenizer = TokenizerLoader.LoadForModel(directories[m]);
                using var llm = LlamaForCausalLM.Load(directories[m], computeDtype);
                full ??= llm.FullArchitecture;
                var evaluator = new PerplexityEvaluator(llm, tokenizer);
                for (var a = 0; a < architectures.Count; a++)
                {
                    llm.ActivateSubnetwork(architectures[a]);
                    table[a, m] = evaluator.Evaluate(textPath, documents).TokenPerplexity;
                }
            }

            var rows = architectures.Select(a => (Name: ArchitectureSubnetwork.Describe(a, full!), Parameters: config.WithLayers(a.HiddenSize, a.IntermediateSizes, a.AttentionHeads, a.KeyValueHeads).ParameterCount())).ToList();
            var sb = new StringBuilder();
            sb.AppendLine(Invariant($"token perplexity on {Path.GetFileName(textPath)} ({documents.Sum(d => d.Length):N0} characters)"));
            sb.AppendLine("| sub-network | parameters | " + string.Join(" | ", names) + " |");
            sb.AppendLine("|---|---:|" + string.Concat(names.Select(_ => "---:|")));
            for (var a = 0; a < rows.Count; a++)
            {
                sb.AppendLine(Invariant($"| {rows[a].Name} | {rows[a].Parameters:N0} | ") + string.Join(" | ", Enumerable.Range(0, names.Length).Select(m => Invariant($"{table[a, m]:F3}"))) + " |");
            }

            o.Write(sb.ToString());
            if (result.GetValue(output) is { } json)
            {
                var doc = new JsonObject
                {
                    ["text"] = Path.GetFullPath(textPath),
                    ["characters"] = documents.Sum(d => d.Length),
                    ["models"] = new JsonArray([.. directories.Select((d, m) => (JsonNode)new JsonObject { ["label"] = names[m], ["path"] = Path.GetFullPath(d) })]),
                    ["rows"] = new JsonArray([.. rows.Select((r, a) => (JsonNode)new JsonObject
                    {
                        ["subnetwork"] = r.Name,
                        ["parameters"] = r.Parameters,
                        ["token_perplexity"] = new JsonArray([.. Enumerable.Range(0, names.Length).Select(m => (JsonNode)table[a, m])]),
                    })]),
                };
                AtomicFile.WriteAllText(json, doc.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            }

            return 0;
        });
        return command;
    }

    /// <summary>The full network, then every combination of the uniform choices of <paramref name="spec"/> (the full one not again).</summary>
    internal static List<SubnetworkArchitecture> Architectures(LlamaConfig config, SearchSpaceSpec? spec)
    {
        var full = new SubnetworkArchitecture(config.HiddenSize, [.. config.IntermediateSizes], [.. Enumerable.Range(0, config.NumHiddenLayers).Select(config.AttentionHeadsOf)], [.. Enumerable.Range(0, config.NumHiddenLayers).Select(config.KeyValueHeadsOf)]);
        var list = new List<SubnetworkArchitecture> { full };
        if (spec is null)
        {
            return list;
        }

        SearchSpace.Create(config, spec, "--depths/--mlp/--heads/--hidden"); // validates the choices against the model
        var group = config.NumAttentionHeads / config.NumKeyValueHeads;
        foreach (var depth in spec.Depths)
        {
            foreach (var mlp in spec.IntermediateSizes ?? [-1])
            {
                foreach (var heads in spec.AttentionHeads ?? [-1])
                {
                    foreach (var hidden in spec.HiddenSizes ?? [config.HiddenSize])
                    {
                        var arch = new SubnetworkArchitecture(
                            hidden,
                            [.. Enumerable.Range(0, depth).Select(l => mlp > 0 ? mlp : config.IntermediateSizes[l])],
                            [.. Enumerable.Range(0, depth).Select(l => heads > 0 ? heads : config.AttentionHeadsOf(l))],
                            [.. Enumerable.Range(0, depth).Select(l => heads > 0 ? heads / group : config.KeyValueHeadsOf(l))]);
                        if (!list.Contains(arch))
                        {
                            list.Add(arch);
                        }
                    }
                }
            }
        }

        return list;
    }

    /// <summary>The first <paramref name="maxChars"/> characters of the documents, the last one cut at a paragraph break.</summary>
    internal static IReadOnlyList<string> Head(IReadOnlyList<string> documents, int maxChars)
    {
        if (maxChars <= 0)
        {
            return documents;
        }

        var kept = new List<string>();
        var left = maxChars;
        foreach (var doc in documents)
        {
            if (doc.Length <= left)
            {
                kept.Add(doc);
                left -= doc.Length;
                continue;
            }

            var cut = doc.LastIndexOf("\n\n", left, StringComparison.Ordinal);
            if (cut > 0)
            {
                kept.Add(doc[..cut]);
            }

            break;
        }

        return kept.Count > 0 ? kept : throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, $"--max-chars {maxChars} keeps no whole paragraph of the text.");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
