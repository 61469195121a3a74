using LlamaNas.Core.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Models;
using LlamaNas.Engine.Quantization;
using TorchSharp;

namespace LlamaNas.Engine.Checkpoints;

/// <summary>
/// A Hugging Face Llama checkpoint directory: <c>config.json</c> plus <c>model.safetensors</c> or shards listed in
/// <c>model.safetensors.index.json</c>. <see cref="Open"/> validates every file and checks that the tensors are
/// exactly those the configuration's architecture needs, with the right shapes. Pickle checkpoints are refused.
/// </summary>
public sealed class LlamaCheckpoint : IDisposable
{
    private const int MaxNamesInMessage = 8;

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;

    private LlamaCheckpoint(string directory, LlamaConfig config, List<SafetensorsFile> files, Dictionary<string, SafetensorsTensorInfo> tensors)
    {
        Directory = directory;
        Config = config;
        _files = files;
        _tensors = tensors;
    }

    /// <summary>Full path of the checkpoint directory.</summary>
    public string Directory { get; }

    public LlamaConfig Config { get; }

    /// <summary>Every tensor by name; <see cref="SafetensorsTensorInfo.FilePath"/> names the shard holding it.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors => _tensors;

    /// <summary>The safetensors files read, in name order.</summary>
    public IReadOnlyList<string> WeightFiles => [.. _files.Select(f => f.Path)];

    public static LlamaCheckpoint Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(directory))
        {
            throw new LlamaNasException(DiagnosticCodes.CheckpointNotFound, $"the checkpoint directory {directory} does not exist. Pass a Hugging Face model directory (config.json plus model.safetensors).", new DiagnosticLocation(directory));
        }

        var single = Path.Combine(directory, CheckpointFiles.SingleFile);
        var index = Path.Combine(directory, CheckpointFiles.Index);
        if (!File.Exists(single) && !File.Exists(index))
        {
            throw NoSafetensors(directory);
        }

        var config = LlamaConfig.Load(Path.Combine(directory, CheckpointFiles.Config));
        var files = new List<SafetensorsFile>();
        try
        {
            var tensors = File.Exists(single) ? OpenSingle(single, files) : OpenSharded(index, files);
            Validate(config, tensors, directory);
            ValidateQuantization(Path.Combine(directory, CheckpointFiles.Config), tensors);
            return new LlamaCheckpoint(directory, config, files, tensors);
        }
        catch
        {
            files.ForEach(f => f.Dispose());
            throw;
        }
    }

    /// <summary>
    /// A new contiguous CPU tensor holding <paramref name="name"/> converted to <paramref name="dtype"/>; an int8
    /// weight stored with its scale (an INT8 export) is dequantized as the quantized model computes it.
    /// </summary>
    public torch.Tensor Load(string name, torch.ScalarType dtype)
    {
        if (!_tensors.TryGetValue(name + Int8Weights.ScaleSuffix, out var scaleInfo))
        {
            return LoadRaw(name, dtype);
        }

        using var q = LoadRaw(name, torch.ScalarType.Int8);
        using var scale = LoadRaw(scaleInfo.Name, torch.ScalarType.Float32);
        return Int8Weights.Dequantize(q, scale, dtype);
    }

    private torch.Tensor LoadRaw(string name, torch.ScalarType dtype)
    {
        if (!_tensors.TryGetValue(name, out var info))
        {
            throw new LlamaNasException(DiagnosticCodes.SafetensorsTensorNotFound, $"the checkpoint in {Directory} holds no tensor named '{name}'.", new DiagnosticLocation(Directory, Item: name));
        }

        return _files.Single(f => f.Path == info.FilePath).Load(info, dtype);
    }

    public void Dispose() => _files.ForEach(f => f.Dispose());

    private static LlamaNasException NoSafetensors(string directory)
    {
        var found = System.IO.Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        var pickle = found.FirstOrDefault(CheckpointFiles.IsPickle);
        if (pickle is not null)
        {
            return CheckpointFiles.PickleRefused(Path.Combine(directory, pickle));
        }

        var listing = found.Count == 0 ? "it is empty" : "it holds " + NameList(found);
        return new LlamaNasException(
            DiagnosticCodes.CheckpointNotFound,
            $"{directory} holds neither {CheckpointFiles.SingleFile} nor {CheckpointFiles.Index} ({listing}). Point llamanas at a Hugging Face model directory with safetensors weights.",
            new DiagnosticLocation(directory));
    }

    private static Dictionary<string, SafetensorsTensorInfo> OpenSingle(string path, List<SafetensorsFile> files)
    {
        var file = SafetensorsFile.Open(path);
        files.Add(file);
        return file.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    private static Dictionary<string, SafetensorsTensorInfo> OpenSharded(string indexPath, List<SafetensorsFile> files)
    {
        var shardOf = ShardIndex.Read(indexPath);
        var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
        foreach (var shardPath in shardOf.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var shard = SafetensorsFile.Open(shardPath);
            files.Add(shard);
            foreach (var tensor in shard.Tensors)
            {
                if (!shardOf.TryGetValue(tensor.Name, out var listed) || listed != shardPath)
                {
                    var where = listed is null ? "does not list it" : $"places it in {Path.GetFileName(listed)}";
                    throw Mismatch(indexPath, tensor.Name, $"{Path.GetFileName(shardPath)} holds '{tensor.Name}', but {CheckpointFiles.Index} {where}");
                }

                tensors[tensor.Name] = tensor;
            }
        }

        var absent = shardOf.FirstOrDefault(p => !tensors.ContainsKey(p.Key));
        if (absent.Key is not null)
        {
            throw Mismatch(indexPath, absent.Key, $"{CheckpointFiles.Index} places '{absent.Key}' in {Path.GetFileName(absent.Value)}, which does not hold it");
        }

        return tensors;
    }

    private static LlamaNasException Mismatch(string indexPath, string tensor, string what) => new(
        DiagnosticCodes.ShardIndexMismatch,
        $"{what}. The index and its shards disagree; re-export the checkpoint or regenerate the index.",
        new DiagnosticLocation(indexPath, Item: tensor));

    private static void Validate(LlamaConfig config, Dictionary<string, SafetensorsTensorInfo> tensors, string directory)
    {
        var expected = config.ExpectedTensors();
        var missing = expected.Keys.Where(n => !tensors.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            throw new LlamaNasException(
                DiagnosticCodes.CheckpointMissingTensor,
                $"the checkpoint in {directory} lacks {missing.Count} tensor(s) that config.json's architecture needs: {NameList(missing)}. " +
                "Check that config.json belongs to these weights, or re-export the checkpoint.",
                new DiagnosticLocation(directory, Item: missing[0]));
        }

        var unexpected = tensors.Keys.Where(n => !expected.ContainsKey(n) && !n.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal) && !IsScaleOf(n, expected)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
        {
            var first = tensors[unexpected[0]].FilePath;
            throw new LlamaNasException(
                DiagnosticCodes.CheckpointUnexpectedTensor,
                $"the checkpoint in {directory} holds {unexpected.Count} tensor(s) that config.json's architecture does not use: {NameList(unexpected)} (first in {Path.GetFileName(first)}). " +
                "Check that config.json belongs to these weights (layer count, biases, tie_word_embeddings).",
                new DiagnosticLocation(first, Item: unexpected[0]));
        }

        foreach (var (name, shape) in expected.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var info = tensors[name];
            if (!info.Shape.SequenceEqual(shape))
            {
                throw new LlamaNasException(
                    DiagnosticCodes.CheckpointShapeMismatch,
                    $"'{name}' in {Path.GetFileName(info.FilePath)} has shape {info.ShapeText}, but config.json's architecture needs [{string.Join(", ", shape)}]. " +
                    "Check that config.json belongs to these weights.",
                    new DiagnosticLocation(info.FilePath, Item: name));
            }
        }
    }

    /// <summary>Whether <paramref name="name"/> is the int8 scale of a quantizable weight the architecture has.</summary>
    private static bool IsScaleOf(string name, IReadOnlyDictionary<string, long[]> expected) =>
        name.EndsWith(Int8Weights.ScaleSuffix, StringComparison.Ordinal) && name[..^Int8Weights.ScaleSuffix.Length] is var weight && expected.ContainsKey(weight) && Int8Weights.IsQuantized(weight);

    /// <summary>
    /// LNAS0268 unless int8 weights, their scales and config.json's quantization_config agree: every int8 weight has
    /// an [out, 1] float scale and vice versa, and the scheme is the one llamanas writes.
    /// </summary>
    private static void ValidateQuantization(string configPath, Dictionary<string, SafetensorsTensorInfo> tensors)
    {
        var scales = tensors.Values.Where(t => t.Name.EndsWith(Int8Weights.ScaleSuffix, StringComparison.Ordinal)).ToList();
        var int8 = tensors.Values.Where(t => t.DType == SafetensorsDType.I8).ToList();
        if (scales.Count == 0 && int8.Count == 0)
        {
            return;
        }

        JsonNode? config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(configPath))?["quantization_config"];
        }
        catch (JsonException e)
        {
            throw new LlamaNasException(DiagnosticCodes.ConfigInvalidJson, $"config.json is not valid JSON: {e.Message}", new DiagnosticLocation(configPath), e);
        }

        var why = config is null ? "the weights are int8 but config.json has no quantization_config" : Int8Weights.Unsupported(config);
        if (why is not null)
        {
            throw QuantizationInvalid(configPath, "quantization_config", why);
        }

        foreach (var w in int8)
        {
            if (!tensors.TryGetValue(w.Name + Int8Weights.ScaleSuffix, out var s) || s.Shape.Length != 2 || s.Shape[0] != w.Shape[0] || s.Shape[1] != 1 || s.DType is not (SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F32))
            {
                throw QuantizationInvalid(w.FilePath, w.Name, $"the int8 weight '{w.Name}' {w.ShapeText} needs a float scale '{w.Name}{Int8Weights.ScaleSuffix}' of shape [{w.Shape[0]}, 1]");
            }
        }

        var orphan = scales.FirstOrDefault(s => !tensors.TryGetValue(s.Name[..^Int8Weights.ScaleSuffix.Length], out var w) || w.DType != SafetensorsDType.I8);
        if (orphan is not null)
        {
            throw QuantizationInvalid(orphan.FilePath, orphan.Name, $"'{orphan.Name}' scales a weight that is not int8");
        }
    }

    private static LlamaNasException QuantizationInvalid(string path, string item, string why) =>
        new(DiagnosticCodes.QuantizedCheckpointInvalid, $"{why}. llamanas reads int8 checkpoints in the layout its own int8 export writes (docs/EXPORT.md).", new DiagnosticLocation(path, Item: item));

    private static string NameList(List<string> names) =>
        string.Join(", ", names.Take(MaxNamesInMessage)) + (names.Count > MaxNamesInMessage ? $" and {names.Count - MaxNamesInMessage} more" : string.Empty);
}
