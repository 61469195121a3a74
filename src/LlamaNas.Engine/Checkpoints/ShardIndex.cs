using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Engine.Checkpoints;

/// <summary>
/// Reads <c>model.safetensors.index.json</c> (<c>{"metadata":{...},"weight_map":{tensor: shard file}}</c>) and checks
/// that every shard it names is a safetensors file inside the model directory that exists.
/// </summary>
internal static class ShardIndex
{
    /// <summary>Tensor name → full path of its shard.</summary>
    public static Dictionary<string, string> Read(string indexPath)
    {
        var directory = Path.GetDirectoryName(indexPath)!;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(JsonText.ReadChecked(indexPath), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Invalid(indexPath, $"is not valid JSON ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LlamaNasException(DiagnosticCodes.SafetensorsCannotOpen, $"{CheckpointFiles.Index} cannot be read ({e.Message}). Check that it is readable.", new DiagnosticLocation(indexPath), e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var weightMap)
                || weightMap.ValueKind != JsonValueKind.Object)
            {
                throw Invalid(indexPath, "must be a JSON object with a 'weight_map' object mapping tensor names to shard files");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            var checkedShards = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in weightMap.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String || entry.Value.GetString() is not { Length: > 0 } shard || shard.Contains('\0', StringComparison.Ordinal))
                {
                    throw Invalid(indexPath, $"maps '{entry.Name}' to {entry.Value.GetRawText()}, not to a shard file name", item: entry.Name);
                }

                if (result.ContainsKey(entry.Name))
                {
                    throw new LlamaNasException(
                        DiagnosticCodes.SafetensorsDuplicateTensor,
                        $"{CheckpointFiles.Index} lists '{entry.Name}' twice in its weight_map, so which shard holds it is ambiguous. Re-export the checkpoint.",
                        new DiagnosticLocation(indexPath, Item: entry.Name));
                }

                if (!checkedShards.TryGetValue(shard, out var full))
                {
                    full = ResolveShard(directory, indexPath, shard, entry.Name);
                    checkedShards[shard] = full;
                }

                result[entry.Name] = full;
            }

            return result;
        }
    }

    private static string ResolveShard(string directory, string indexPath, string shard, string tensor)
    {
        var full = Path.GetFullPath(Path.Combine(directory, shard));
        var root = Path.TrimEndingDirectorySeparator(directory) + Path.DirectorySeparatorChar;
        if (Path.IsPathRooted(shard) || !full.StartsWith(root, StringComparison.Ordinal))
        {
            throw new LlamaNasException(
                DiagnosticCodes.ShardPathOutsideModel,
                $"{CheckpointFiles.Index} names the shard '{shard}' for '{tensor}', which lies outside the model directory; shards must be relative paths inside it. " +
                "Fix the index or re-export the checkpoint; llamanas never reads files it points at elsewhere.",
                new DiagnosticLocation(indexPath, Item: tensor));
        }

        if (CheckpointFiles.IsPickle(Path.GetFileName(full)))
        {
            throw CheckpointFiles.PickleRefused(full);
        }

        if (!File.Exists(full))
        {
            throw new LlamaNasException(
                DiagnosticCodes.SafetensorsCannotOpen,
                $"{CheckpointFiles.Index} names the shard '{shard}' for '{tensor}', but that file does not exist. Download the missing shard or re-export the checkpoint.",
                new DiagnosticLocation(indexPath, Item: tensor));
        }

        return full;
    }

    private static LlamaNasException Invalid(string indexPath, string what, Exception? inner = null, string? item = null) => new(
        DiagnosticCodes.ShardIndexInvalid,
        $"{CheckpointFiles.Index} {what}. Re-export the checkpoint or repair the index.",
        new DiagnosticLocation(indexPath, Item: item),
        inner);
}
