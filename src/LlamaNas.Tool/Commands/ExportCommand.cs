using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Export;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Tool.Search;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas export &lt;model&gt; --output &lt;folder|file.gguf&gt; [--format] [--dtype] [--depth --mlp --heads --hidden]</c>:
/// the whole model or a sub-network as a Hugging Face safetensors folder or a GGUF file for llama.cpp (docs/EXPORT.md).
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A Hugging Face model directory (weights and tokenizer), or a hub id org/name[@revision]." };
        var output = new Option<string>("--output") { Description = "The model folder to write (safetensors) or the .gguf file.", Required = true };
        var format = new Option<string?>("--format") { Description = "safetensors or gguf (default: gguf when --output ends in .gguf, else safetensors)." };
        var dtype = new Option<string>("--dtype") { Description = "Stored type: fp32, bf16 or f16 (both formats), q8_0 (GGUF only).", DefaultValueFactory = _ => "fp32" };
        var depth = new Option<int?>("--depth") { Description = "Keep the first N layers (default: all)." };
        var mlp = new Option<string?>("--mlp") { Description = "MLP width: one value for every kept layer, or one per layer, comma-separated (default: full)." };
        var heads = new Option<string?>("--heads") { Description = "Query heads: one value or one per layer, multiples of the heads per KV group (default: all)." };
        var hidden = new Option<int?>("--hidden") { Description = "Hidden width to keep (default: full)." };
        var command = new Command("export", "Write a model or one of its sub-networks as safetensors (Hugging Face) or GGUF (llama.cpp).")
        {
            model, output, format, dtype, depth, mlp, heads, hidden,
        };
        command.SetAction(result =>
        {
            var directory = Cli.Model(result.GetValue(model)!);
            var target = result.GetValue(output)!;
            var chosen = result.GetValue(format) ?? (target.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? "gguf" : "safetensors");
            var options = new ExportOptions
            {
                Format = chosen.ToLowerInvariant() switch
                {
                    "safetensors" => ExportFormat.Safetensors,
                    "gguf" => ExportFormat.Gguf,
                    _ => throw new LlamaNasException(DiagnosticCodes.ExportInvalidOptions, $"--format '{chosen}' is not an export format; use safetensors or gguf."),
                },
                DType = ModelExporter.ParseDType(result.GetValue(dtype)!),
                Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))),
            };
            TorchRuntime.EnsureInitialized();
            using var llm = LlamaForCausalLM.Load(directory);
            var arch = Architecture(llm.Config, result.GetValue(depth), SpaceOptions.Choices(result.GetValue(mlp), mlp.Name), SpaceOptions.Choices(result.GetValue(heads), heads.Name), result.GetValue(hidden));
            var exported = ModelExporter.Export(llm, directory, target, options with { Architecture = arch });
            var o = result.InvocationConfiguration.Output;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"exported {arch} ({exported.Parameters:N0} parameters) as {exported.Format.ToString().ToLowerInvariant()} {ModelExporter.Name(options.DType)} ({exported.Architecture}) to {exported.Path}"));
            if (exported.F16Fallback.Count > 0)
            {
                o.WriteLine($"kept F16 (rows not a multiple of 32, as llama.cpp does): {string.Join(", ", exported.F16Fallback)}");
            }

            return 0;
        });
        return command;
    }

    /// <summary>
    /// The sub-network the options describe: the first <paramref name="depth"/> layers, each list either one value for
    /// every kept layer or one per layer; KV heads follow from the heads (whole KV groups).
    /// </summary>
    internal static SubnetworkArchitecture Architecture(LlamaConfig config, int? depth, IReadOnlyList<int>? mlp, IReadOnlyList<int>? heads, int? hidden)
    {
        var n = depth ?? config.NumHiddenLayers;
        IReadOnlyList<int> PerLayer(IReadOnlyList<int>? values, string option, Func<int, int> full) => values switch
        {
            null => [.. Enumerable.Range(0, n).Select(full)],
            [var one] => [.. Enumerable.Repeat(one, n)],
            _ when values.Count == n => values,
            _ => throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, $"{option} lists {values.Count} values for {n} kept layers; give one value or one per layer."),
        };

        if (n < 1 || n > config.NumHiddenLayers)
        {
            throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, $"--depth {n} is outside 1 to {config.NumHiddenLayers}, the layers this model has.");
        }

        var q = PerLayer(heads, "--heads", config.AttentionHeadsOf);
        var kv = Enumerable.Range(0, n).Select(l => q[l] * config.KeyValueHeadsOf(l) / config.AttentionHeadsOf(l));
        return new SubnetworkArchitecture(hidden ?? config.HiddenSize, PerLayer(mlp, "--mlp", l => config.IntermediateSizes[l]), q, [.. kv]);
    }
}
