using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Export;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Pipeline.Build;

/// <summary>
/// The export stage: the selected sub-network as a standalone Hugging Face model folder (model.safetensors,
/// config.json with per-layer sizes and DeciLM block_configs, the tokenizer files, llamanas.json) that every llamanas
/// verb loads, and with GgufType set a GGUF file beside it that llama.cpp runs (docs/EXPORT.md). Both are written by
/// the library's <see cref="ModelExporter"/> (as <c>llamanas export</c>), int8 when the selection was made as INT8,: temporary name, then rename, so a failed
/// export leaves the previous model intact; a folder or file that llamanas did not write is never replaced.
/// </summary>
internal static class ExportStage
{
    public static IReadOnlyList<string> Files(BuildContext context) => context.Project.GgufType == "none"
        ? [Path.Combine(context.ModelDir, CheckpointFiles.Config), Path.Combine(context.ModelDir, CheckpointFiles.SingleFile), Path.Combine(context.ModelDir, ModelExporter.ManifestFile)]
        : [Path.Combine(context.ModelDir, CheckpointFiles.Config), Path.Combine(context.ModelDir, CheckpointFiles.SingleFile), Path.Combine(context.ModelDir, ModelExporter.ManifestFile), context.GgufFile];

    public static void Run(BuildContext context, BuildLog log)
    {
        SweepTemporaries(context);
        var selection = Selection.Load(context.SelectionFile);
        var p = context.Project;
        var provenance = new JsonObject
        {
            ["project"] = p.Name,
            ["supernet"] = context.Keys[StageNames.FineTune],
            ["quality_metric"] = selection.QualityMetric,
            ["selected"] = JsonSerializer.SerializeToNode(selection.Selected, ParetoDocument.Json),
        };
        TorchRuntime.EnsureInitialized();
        using var supernet = LlamaForCausalLM.Load(context.SupernetDir, ComputeDtype.Parse(p.ComputeDtype));
        var options = new ExportOptions
        {
            Architecture = selection.Selected.Architecture.ToArchitecture(),
            DType = selection.Quantization == "int8" ? ExportDType.Int8 : p.ComputeDtype == "bf16" ? ExportDType.Bf16 : ExportDType.Fp32,
            Name = p.Name,
            Provenance = provenance,
        };
        try
        {
            var folder = ModelExporter.Export(supernet, context.SupernetDir, context.ModelDir, options);
            log.Progress(BuildPipeline.Invariant($"exported sub-network #{selection.Selected.Index} ({selection.Selected.Params:N0} parameters, {ModelExporter.Name(options.DType)}, {folder.TensorBytes:N0} bytes of weights) to {context.ModelDir}"));
            if (p.GgufType != "none")
            {
                var gguf = ModelExporter.Export(supernet, context.SupernetDir, context.GgufFile, options with { Format = ExportFormat.Gguf, DType = ModelExporter.ParseDType(p.GgufType) });
                var fallback = gguf.F16Fallback.Count == 0 ? string.Empty : $"; {gguf.F16Fallback.Count} tensors kept F16 (rows not a multiple of 32)";
                log.Progress($"wrote {context.GgufFile} ({gguf.Architecture}, {p.GgufType}{fallback})");
            }
        }
        catch (LlamaNasException e) when (e.Code is DiagnosticCodes.ExportTargetNotOurs)
        {
            throw new LlamaNasException(DiagnosticCodes.BuildOutputNotOurs, $"{e.Diagnostic.Message} Move it away or set LlamaNasModelFolder to another name.", p.Where("LlamaNasModelFolder"), e);
        }
    }

    /// <summary>Temporary folders an interrupted export left (this build holds the project's lock, so none is in use).</summary>
    private static void SweepTemporaries(BuildContext context)
    {
        if (Directory.Exists(context.OutDir))
        {
            foreach (var folder in Directory.EnumerateDirectories(context.OutDir, $".{context.Project.ModelFolder}.tmp-*"))
            {
                ModelExporter.TryDeleteFolder(folder);
            }
        }
    }
}
