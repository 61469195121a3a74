using System.Text.Json;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Pipeline.ScaleOut;

/// <summary>
/// The driver's side of the results folder: every file read and checked against its manifest before any value is
/// used. A file that cannot be read or does not fit is LNAS1202, another manifest's LNAS1203, a second result for an
/// item LNAS1204: each names the file, and nothing is guessed or dropped.
/// </summary>
public static class ShardResults
{
    /// <summary>The valid results of <paramref name="manifest"/> in <paramref name="folder"/> by item (absent: not measured yet).</summary>
    public static Dictionary<int, ShardResult> Collect(WorkManifest manifest, string folder)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var results = new Dictionary<int, ShardResult>();
        var files = new Dictionary<int, string>();
        if (!Directory.Exists(folder))
        {
            return results;
        }

        // Atomic writes leave only *.json.tmp-… siblings behind, which are not results.
        foreach (var file in Directory.EnumerateFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            var r = Read(file);
            if (r.Manifest != manifest.Id)
            {
                throw new LlamaNasException(DiagnosticCodes.ShardResultForeign, $"{Path.GetFileName(file)} is a result of manifest {Short(r.Manifest)}, not of this folder's {Short(manifest.Id)}; remove it (results belong beside their own manifest).", new DiagnosticLocation(file));
            }

            var problem = r.Item < 0 || r.Item >= manifest.Items.Count ? $"names item {r.Item}, but the manifest has items 0 to {manifest.Items.Count - 1}"
                : manifest.Items[r.Item] is var item && (item.Kind != r.Kind || !item.Genes.SequenceEqual(r.Genes)) ? $"gives item {r.Item} as {r.Kind} [{string.Join(' ', r.Genes)}], but the manifest's item {r.Item} is {item.Kind} [{string.Join(' ', item.Genes)}]"
                : r.Values.Count != manifest.Evaluator.Objectives.Count ? $"holds {r.Values.Count} values; the manifest has {manifest.Evaluator.Objectives.Count} objectives"
                : r.Values.Any(v => !double.IsFinite(v)) ? "holds a value that is not a finite number"
                : null;
            if (problem is not null)
            {
                throw Corrupt(file, problem + "; remove it and the item is measured again.");
            }

            if (files.TryGetValue(r.Item, out var first))
            {
                // Named at the file that is not the item's own (a copy, or one written under another name).
                var odd = Path.GetFileName(file) == ShardResult.FileName(r.Item) ? first : file;
                throw new LlamaNasException(DiagnosticCodes.ShardResultDuplicate, $"{Path.GetFileName(odd)} gives item {r.Item} again, beside {Path.GetFileName(odd == file ? first : file)}; keep the one named {ShardResult.FileName(r.Item)} and remove the other.", new DiagnosticLocation(odd));
            }

            files[r.Item] = file;
            results[r.Item] = r;
        }

        return results;
    }

    private static ShardResult Read(string file)
    {
        try
        {
            var r = JsonSerializer.Deserialize<ShardResult>(File.ReadAllText(file), WorkManifest.Json);
            return r is not null && r.Schema == ShardResult.SchemaName && r.Manifest is not null && r.Genes is not null && r.Values is not null
                ? r
                : throw Corrupt(file, $"is not a {ShardResult.SchemaName} result; remove it and the item is measured again.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            throw Corrupt(file, $"cannot be read as a result ({e.Message}); remove it and the item is measured again.", e);
        }
    }

    private static LlamaNasException Corrupt(string file, string message, Exception? inner = null) =>
        new(DiagnosticCodes.ShardResultCorrupt, $"{Path.GetFileName(file)} {message}", new DiagnosticLocation(file), inner);

    private static string Short(string id) => id.Length > 12 ? id[..12] : id;
}
