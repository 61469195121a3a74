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
        var dtype = new Option<string>("--dtype") { Description = "Stored type: fp32, bf16 or f16 (both formats), int8 (safetensors only: int8 decoder linear weights with per-channel scales), q8_0 (GGUF only).", DefaultValueFactory = _ => "fp32" };
        var subnetwork = new SubnetworkOptions();
        var command = new Command("export", "Write a model or one of its sub-networks as safetensors (Hugging Face) or GGUF (llama.cpp).")
        {
            model, output, format, dtype,
        };
        subnetwork.AddTo(command);
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
            var arch = subnetwork.Read(result, llm.Config);
            var exported = ModelExporter.Export(llm, directory, target, options with { Architecture = arch });
            var o = result.InvocationConfiguration.Output;
            var bytes = exported.TensorBytes > 0 ? string.Create(CultureInfo.InvariantCulture, $", {exported.TensorBytes:N0} bytes of weights") : string.Empty;
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"exported {arch} ({exported.Parameters:N0} parameters{bytes}) as {exported.Format.ToString().ToLowerInvariant()} {ModelExporter.Name(options.DType)} ({exported.Architecture}) to {exported.Path}"));
            if (exported.F16Fallback.Count > 0)
            {
                o.WriteLine($"kept F16 (rows not a multiple of 32, as llama.cpp does): {string.Join(", ", exported.F16Fallback)}");
            }

            return 0;
        });
        return command;
    }
}
