using LlamaNas.Core.IO;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Tokenization;

namespace LlamaNas.Pipeline;

/// <summary>Content fingerprints (<c>sha256:…</c>) of models and input files, the identities stage keys and saved settings use.</summary>
public static class Fingerprints
{
    /// <summary>A model folder by the bytes of its config, weights and tokenizer files (read in a fixed order).</summary>
    public static string Model(string directory)
    {
        using var checkpoint = LlamaCheckpoint.Open(directory);
        var files = new List<string> { System.IO.Path.Combine(checkpoint.Directory, CheckpointFiles.Config) };
        files.AddRange(checkpoint.WeightFiles.Order(StringComparer.Ordinal));
        files.AddRange(TokenizerLoader.CompanionFiles.Select(f => System.IO.Path.Combine(checkpoint.Directory, f)).Where(File.Exists));
        return FileFingerprint.Of(files);
    }

    /// <summary>A file by content; a folder by the names and contents of its files (sorted, recursively).</summary>
    public static string Path(string path)
    {
        if (!Directory.Exists(path))
        {
            return FileFingerprint.Of(path);
        }

        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        return "sha256:" + Key.Of("folder", [.. files.SelectMany(f => new[] { System.IO.Path.GetRelativePath(path, f).Replace('\\', '/'), FileFingerprint.Of(f) })]);
    }
}
