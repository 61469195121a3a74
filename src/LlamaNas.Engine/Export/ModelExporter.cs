using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Quantization;
using LlamaNas.Engine.Tokenization;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Export;

public enum ExportFormat
{
    /// <summary>A Hugging Face model folder: model.safetensors, config.json (with block_configs), tokenizer files.</summary>
    Safetensors,

    /// <summary>One GGUF file for llama.cpp.</summary>
    Gguf,
}

public enum ExportDType
{
    Fp32,
    Bf16,
    F16,
    Q8_0,

    /// <summary>Safetensors only: decoder linear weights int8 with fp16 per-channel scales, everything else fp16 (Quantization.Int8Weights).</summary>
#pragma warning disable CA1720 // named as users write the dtype
    Int8,
#pragma warning restore CA1720
}

/// <summary>What to export: the format, the stored type, and the sub-network (null: the whole model).</summary>
public sealed record ExportOptions
{
    public ExportFormat Format { get; init; } = ExportFormat.Safetensors;

    public ExportDType DType { get; init; } = ExportDType.Fp32;

    public SubnetworkArchitecture? Architecture { get; init; }

    /// <summary>GGUF's general.name.</summary>
    public string? Name { get; init; }

    /// <summary>
    /// What a safetensors folder's manifest records about where the model came from; null: the source folder. A
    /// caller whose outputs must not depend on where files live (the build) passes content keys here.
    /// </summary>
    public JsonObject? Provenance { get; init; }
}

/// <summary>
/// What an export wrote: the folder or file, the architecture name (<c>llama</c> or <c>deci</c> for GGUF,
/// <c>LlamaForCausalLM</c> for safetensors), the sub-network's parameter count, and the GGUF tensors kept F16 in
/// a Q8_0 file because their rows are not a multiple of 32.
/// </summary>
public sealed record ExportResult(string Path, ExportFormat Format, string Architecture, long Parameters, IReadOnlyList<string> F16Fallback)
{
    /// <summary>Bytes of tensor data written (safetensors: every tensor's data, headers excluded; GGUF: 0, not counted).</summary>
    public long TensorBytes { get; init; }
}

/// <summary>
/// Writes a sub-network of a loaded model as a standalone model other tools run: a Hugging Face folder
/// (safetensors fp32, bf16 or f16) or a GGUF file (F32, F16, BF16 or Q8_0) for llama.cpp (docs/EXPORT.md).
/// Outputs go to a temporary sibling first and are renamed into place; an existing target that llamanas did not
/// write is never replaced (LNAS0260).
/// </summary>
public static class ModelExporter
{
    /// <summary>The file that marks a model folder as written by llamanas (the build's export stage writes it too).</summary>
    public const string ManifestFile = "llamanas.json";

    public static ExportDType ParseDType(string text) => text.ToLowerInvariant() switch
    {
        "fp32" or "f32" or "float32" => ExportDType.Fp32,
        "bf16" or "bfloat16" => ExportDType.Bf16,
        "f16" or "fp16" or "float16" => ExportDType.F16,
        "q8_0" => ExportDType.Q8_0,
        "int8" => ExportDType.Int8,
        _ => throw new LlamaNasException(DiagnosticCodes.ExportInvalidOptions, $"'{text}' is not an export dtype; use fp32, bf16, f16, int8 (safetensors) or q8_0 (GGUF)."),
    };

    public static string Name(ExportDType dtype) => dtype switch
    {
        ExportDType.Fp32 => "fp32",
        ExportDType.Bf16 => "bf16",
        ExportDType.F16 => "f16",
        ExportDType.Int8 => "int8",
        _ => "q8_0",
    };

    /// <summary>
    /// Exports <paramref name="model"/> (loaded from <paramref name="sourceDirectory"/>, whose tokenizer files
    /// travel along) to <paramref name="output"/>: a folder for safetensors, a file for GGUF.
    /// </summary>
    public static ExportResult Export(LlamaForCausalLM model, string sourceDirectory, string output, ExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(sourceDirectory);
        ArgumentException.ThrowIfNullOrEmpty(output);
        var arch = options.Architecture ?? model.FullArchitecture;
        output = Path.GetFullPath(output);
        if (options.Format == ExportFormat.Safetensors && options.DType == ExportDType.Q8_0)
        {
            throw new LlamaNasException(DiagnosticCodes.ExportInvalidOptions, "q8_0 is a GGUF type; safetensors exports store fp32, bf16, f16 or int8.");
        }

        if (options.Format == ExportFormat.Gguf && options.DType == ExportDType.Int8)
        {
            throw new LlamaNasException(DiagnosticCodes.ExportInvalidOptions, "int8 is a safetensors type (int8 weights with per-channel scales); GGUF's 8-bit type is q8_0.");
        }

        return options.Format == ExportFormat.Gguf
            ? ExportGguf(model, arch, sourceDirectory, output, options)
            : ExportFolder(model, arch, sourceDirectory, output, options);
    }

    private static ExportResult ExportGguf(LlamaForCausalLM model, SubnetworkArchitecture arch, string sourceDirectory, string output, ExportOptions options)
    {
        if (Directory.Exists(output))
        {
            throw NotOurs(output, "is a folder; a GGUF export writes one file");
        }

        if (File.Exists(output) && !IsOurGguf(output))
        {
            throw NotOurs(output, $"exists and is not a GGUF file written by llamanas (no {GgufModel.SubnetworkKey} key)");
        }

        var tokenizer = TokenizerLoader.Load(sourceDirectory);
        return GgufModel.Write(model, arch, tokenizer, sourceDirectory, output, options);
    }

    private static bool IsOurGguf(string path)
    {
        try
        {
            return GgufFile.Open(path).Has(GgufModel.SubnetworkKey);
        }
        catch (LlamaNasException)
        {
            return false;
        }
    }

    private static ExportResult ExportFolder(LlamaForCausalLM model, SubnetworkArchitecture arch, string sourceDirectory, string target, ExportOptions options)
    {
        if (File.Exists(target) || (Directory.Exists(target) && !File.Exists(Path.Combine(target, ManifestFile)) && Directory.EnumerateFileSystemEntries(target).Any()))
        {
            throw NotOurs(target, $"exists and was not written by llamanas (no {ManifestFile})");
        }

        var parent = Path.GetDirectoryName(target)!;
        var temp = Path.Combine(parent, $".{Path.GetFileName(target)}.tmp-{RandomNumberGenerator.GetHexString(8, lowercase: true)}");
        try
        {
            Directory.CreateDirectory(temp);
            var config = WriteFolder(model, arch, sourceDirectory, temp, options);
            ReplaceFolder(temp, target);
            using var written = SafetensorsFile.Open(Path.Combine(target, CheckpointFiles.SingleFile));
            return new ExportResult(target, ExportFormat.Safetensors, "LlamaForCausalLM", config.ParameterCount(), []) { TensorBytes = written.Tensors.Sum(t => t.ByteCount) };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDeleteFolder(temp);
            throw new LlamaNasException(DiagnosticCodes.ExportWriteFailed, $"the model folder could not be written ({e.Message}). Check free space and permissions.", new DiagnosticLocation(target), e);
        }
        catch
        {
            TryDeleteFolder(temp);
            throw;
        }
    }

    private static LlamaConfig WriteFolder(LlamaForCausalLM model, SubnetworkArchitecture arch, string sourceDirectory, string folder, ExportOptions options)
    {
        var dtype = options.DType;
        var (scalar, torchName) = dtype switch
        {
            ExportDType.Bf16 => (ScalarType.BFloat16, "bfloat16"),
            ExportDType.F16 or ExportDType.Int8 => (ScalarType.Float16, "float16"),
            _ => (ScalarType.Float32, "float32"),
        };
        using (var scope = NewDisposeScope())
        {
            var tensors = model.SubnetworkSlices(arch).SelectMany(s => dtype == ExportDType.Int8 && Int8Weights.IsQuantized(s.Name)
                ? Quantized(s.Name, s.Slice)
                : [new KeyValuePair<string, Tensor>(s.Name, s.Slice.to(scalar))]).ToList();
            SafetensorsWriter.Write(Path.Combine(folder, CheckpointFiles.SingleFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }

        var config = model.Config.WithLayers(arch.HiddenSize, arch.IntermediateSizes, arch.AttentionHeads, arch.KeyValueHeads) with { TorchDtype = torchName };
        var json = config.ToJson();
        json["block_configs"] = BlockConfigs(config);
        if (dtype == ExportDType.Int8)
        {
            json["quantization_config"] = Int8Weights.QuantizationConfig();
        }

        AtomicFile.WriteAllText(Path.Combine(folder, CheckpointFiles.Config), json.ToJsonString(Indented) + "\n");
        foreach (var name in TokenizerLoader.CompanionFiles.Where(n => File.Exists(Path.Combine(sourceDirectory, n))))
        {
            File.Copy(Path.Combine(sourceDirectory, name), Path.Combine(folder, name), overwrite: true);
        }

        var manifest = new JsonObject
        {
            ["format"] = 1,
            ["source"] = options.Provenance is null ? Path.GetFullPath(sourceDirectory) : null,
            ["subnetwork"] = arch.ToString(),
            ["dtype"] = Name(dtype),
        };
        foreach (var (key, value) in options.Provenance ?? [])
        {
            manifest[key] = value?.DeepClone();
        }

        if (options.Provenance is not null)
        {
            manifest.Remove("source");
        }

        AtomicFile.WriteAllText(Path.Combine(folder, ManifestFile), manifest.ToJsonString(Indented) + "\n");
        return config;
    }

    /// <summary>A decoder linear weight as compressed-tensors stores it: the int8 weight and its [out, 1] scale.</summary>
    private static KeyValuePair<string, Tensor>[] Quantized(string name, Tensor weight)
    {
        var (q, scale) = Int8Weights.Quantize(weight, name);
        return [new(name, q), new(name + Int8Weights.ScaleSuffix, scale)];
    }

    /// <summary>
    /// DeciLM's per-layer description (Nemotron's <c>block_configs</c>) with the exact sizes added: attention
    /// {n_heads_in_group, num_attention_heads, num_key_value_heads, no_op, replace_with_linear} and ffn {ffn_mult,
    /// intermediate_size, no_op, replace_with_linear}; ffn_mult is DeciLM's width ratio 3·m / (2·hidden).
    /// </summary>
    public static JsonArray BlockConfigs(LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var blocks = new JsonArray();
        for (var l = 0; l < config.NumHiddenLayers; l++)
        {
            int heads = config.AttentionHeadsOf(l), kv = config.KeyValueHeadsOf(l), m = config.IntermediateSizes[l];
            blocks.Add(new JsonObject
            {
                ["attention"] = new JsonObject
                {
                    ["n_heads_in_group"] = heads / kv,
                    ["num_attention_heads"] = heads,
                    ["num_key_value_heads"] = kv,
                    ["no_op"] = false,
                    ["replace_with_linear"] = false,
                },
                ["ffn"] = new JsonObject
                {
                    ["ffn_mult"] = Math.Round(3.0 * m / (2.0 * config.HiddenSize), 6),
                    ["intermediate_size"] = m,
                    ["no_op"] = false,
                    ["replace_with_linear"] = false,
                },
            });
        }

        return blocks;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Swaps <paramref name="temp"/> in for <paramref name="target"/>: the old folder is moved aside first and removed last.</summary>
    public static void ReplaceFolder(string temp, string target)
    {
        string? old = null;
        if (Directory.Exists(target))
        {
            old = temp + ".old";
            Directory.Move(target, old);
        }

        Directory.Move(temp, target);
        if (old is not null)
        {
            TryDeleteFolder(old);
        }
    }

    /// <summary>Removes <paramref name="folder"/> if it can; a leftover temporary folder is harmless.</summary>
    public static void TryDeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary folder is harmless; the next export uses a new name.
        }
    }

    private static LlamaNasException NotOurs(string target, string what) =>
        new(DiagnosticCodes.ExportTargetNotOurs, string.Create(CultureInfo.InvariantCulture, $"the output {target} {what}; move it away or choose another output."), new DiagnosticLocation(target));
}
