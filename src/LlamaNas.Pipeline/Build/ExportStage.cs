using System.Security.Cryptography;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Export;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Pipeline.Search;
using static TorchSharp.torch;

namespace LlamaNas.Pipeline.Build;

/// <summary>What the exported folder's <c>llamanas.json</c> records: where it came from (and that the folder is ours).</summary>
public sealed record ExportManifest(int Format, string Project, string Supernet, ParetoEntry Subnetwork, string QualityMetric);

/// <summary>
/// The export stage: the selected sub-network as a standalone Hugging Face model folder (model.safetensors,
/// config.json with per-layer sizes, the tokenizer files, llamanas.json) that every llamanas verb loads. Written to a
/// temporary sibling and swapped in, so a failed export leaves the previous model intact; a folder that exists and
/// was not written by llamanas is never replaced (LNAS1102).
/// </summary>
internal static class ExportStage
{
    public const string ManifestFile = ModelExporter.ManifestFile;


    public static IReadOnlyList<string> Files { get; } = [CheckpointFiles.Config, CheckpointFiles.SingleFile, ManifestFile];

    public static void Run(BuildContext context, BuildLog log)
    {
        var target = context.ModelDir;
        if (Directory.Exists(target) && !File.Exists(Path.Combine(target, ManifestFile)) && Directory.EnumerateFileSystemEntries(target).Any())
        {
            throw new LlamaNasException(DiagnosticCodes.BuildOutputNotOurs, $"the output folder {target} exists and was not written by llamanas (no {ManifestFile}); move it away or set LlamaNasModelFolder to another name.", context.Project.Where("LlamaNasModelFolder"));
        }

        var selection = Selection.Load(context.SelectionFile);
        var temp = Path.Combine(context.OutDir, $".{context.Project.ModelFolder}.tmp-{RandomNumberGenerator.GetHexString(8, lowercase: true)}");
        try
        {
            Write(context, selection, temp);
            ModelExporter.ReplaceFolder(temp, target);
        }
        catch
        {
            ModelExporter.TryDeleteFolder(temp);
            throw;
        }

        log.Progress(BuildPipeline.Invariant($"exported sub-network #{selection.Selected.Index} ({selection.Selected.Params:N0} parameters) to {target}"));
    }

    private static void Write(BuildContext context, Selection selection, string folder)
    {
        Directory.CreateDirectory(folder);
        TorchRuntime.EnsureInitialized();
        using var supernet = LlamaForCausalLM.Load(context.SupernetDir, ComputeDtype.Parse(context.Project.ComputeDtype));
        using var model = supernet.ExtractSubnetwork(selection.Selected.Architecture.ToArchitecture());
        SafetensorsWriter.Write(Path.Combine(folder, CheckpointFiles.SingleFile), model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)), new Dictionary<string, string> { ["format"] = "pt" });
        var config = model.Config with { TorchDtype = model.Dtype == ScalarType.BFloat16 ? "bfloat16" : "float32" };
        AtomicFile.WriteAllText(Path.Combine(folder, CheckpointFiles.Config), config.ToJson().ToJsonString(ParetoDocument.Json) + "\n");
        foreach (var name in TokenizerLoader.CompanionFiles.Where(n => File.Exists(Path.Combine(context.SupernetDir, n))))
        {
            File.Copy(Path.Combine(context.SupernetDir, name), Path.Combine(folder, name), overwrite: true);
        }

        var manifest = new ExportManifest(1, context.Project.Name, context.Keys[StageNames.FineTune], selection.Selected, selection.QualityMetric);
        AtomicFile.WriteAllText(Path.Combine(folder, ManifestFile), JsonSerializer.Serialize(manifest, ParetoDocument.Json) + "\n");
    }
}
