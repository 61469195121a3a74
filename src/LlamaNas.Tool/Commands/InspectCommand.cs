using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Models;
using LlamaNas.Engine.Checkpoints;

namespace LlamaNas.Tool.Commands;

/// <summary><c>llamanas inspect &lt;model&gt;</c>: architecture, parameter count, sizes per dtype and the tensor table.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A Hugging Face model directory (config.json + model.safetensors or shards), or a hub id org/name[@revision]." };
        var command = new Command("inspect", "Show a checkpoint's configuration, parameter count, size per dtype and tensors.") { model };
        command.SetAction(result =>
        {
            var o = result.InvocationConfiguration.Output;
            using var checkpoint = LlamaCheckpoint.Open(Cli.Model(result.GetValue(model)!));
            var c = checkpoint.Config;
            // An INT8 checkpoint's per-channel scales are storage, not parameters.
            var scales = checkpoint.Tensors.Values.Where(t => t.Name.EndsWith(Engine.Quantization.Int8Weights.ScaleSuffix, StringComparison.Ordinal)).ToList();
            var parameters = checkpoint.Tensors.Values.Sum(t => t.ElementCount) - scales.Sum(t => t.ElementCount);
            var mlp = c.IntermediateSizes.Distinct().Count() == 1 ? c.IntermediateSizes[0].ToString(CultureInfo.InvariantCulture) : "[" + string.Join(", ", c.IntermediateSizes) + "]";
            o.WriteLine($"model         {checkpoint.Directory}");
            o.WriteLine($"architecture  llama: {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads} heads / {c.NumKeyValueHeads} KV heads × {c.HeadDim}, MLP {mlp}, vocab {c.VocabSize}{(c.TieWordEmbeddings ? ", tied embeddings" : string.Empty)}");
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rope          theta {c.RopeTheta}, scaling {c.RopeScaling?.Type ?? "none"}{(c.RopeScaling is { } rs ? $" ×{rs.Factor}" : string.Empty)}; max positions {c.MaxPositionEmbeddings}"));
            o.WriteLine($"parameters    {parameters:N0} ({LlamaConfig.FormatCount(parameters)})");
            o.WriteLine($"size          stored {Bytes(checkpoint.Tensors.Values.Sum(t => t.ByteCount))} in {checkpoint.WeightFiles.Count} file(s); fp32 {Bytes(parameters * 4)}; bf16 {Bytes(parameters * 2)}");
            if (scales.Count > 0)
            {
                o.WriteLine($"quantization  int8 weights with per-channel scales in {scales.Count} linear layers (docs/EXPORT.md)");
            }

            o.WriteLine($"tensors       {checkpoint.Tensors.Count}");
            var width = checkpoint.Tensors.Keys.Max(k => k.Length);
            foreach (var t in checkpoint.Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                o.WriteLine($"  {t.Name.PadRight(width)}  {t.DType,-5} {t.ShapeText,-14} {t.ElementCount,12:N0}");
            }

            return 0;
        });
        return command;
    }

    internal static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F2} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        _ => $"{bytes} B",
    };
}
