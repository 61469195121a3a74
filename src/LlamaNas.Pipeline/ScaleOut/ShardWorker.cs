using System.Diagnostics;
using System.Text.Json;

namespace LlamaNas.Pipeline.ScaleOut;

/// <summary>
/// <c>llamanas evaluate-shard</c>: measures the items of one shard of a work manifest and writes one result file per
/// item as soon as it is known, atomically. Items that already have a valid result are skipped, so a re-queued shard
/// only does what is missing, and a shard with nothing left exits before loading any weights.
/// </summary>
public static class ShardWorker
{
    /// <returns>The number of items measured.</returns>
    public static int Run(string manifestPath, ShardSlice shard, TextWriter progress, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(manifestPath);
        ArgumentNullException.ThrowIfNull(shard);
        ArgumentNullException.ThrowIfNull(progress);
        manifestPath = Path.GetFullPath(manifestPath);
        var manifest = WorkManifest.Load(manifestPath);
        var results = WorkManifest.ResultsDirectory(manifestPath);
        var todo = shard.Positions(manifest.Items.Count).Select(p => manifest.Items[p]).Where(i => !HasResult(results, manifest, i)).ToList();
        progress.WriteLine(ScaleOutOptions.Invariant($"evaluate-shard {shard} of {manifest.Label} ({manifest.Id[..12]}): {todo.Count} of {shard.Positions(manifest.Items.Count).Count()} items to measure"));
        if (todo.Count == 0)
        {
            return 0;
        }

        var folder = Path.GetDirectoryName(manifestPath)!;
        var settings = manifest.Evaluator.ToSettings(p => Resolve(folder, p));
        if (!Directory.Exists(settings.Model) && !File.Exists(settings.Model))
        {
            throw WorkManifest.Invalid(manifestPath, $"names the model {manifest.Evaluator.Model}, which is not at {settings.Model} on this worker; is the shared folder mounted there?");
        }

        using var loaded = settings.Load();
        var worker = $"{Environment.MachineName}/{Environment.ProcessId}/{shard}";
        void Write(WorkItem item, IReadOnlyList<double> values, double seconds) => new ShardResult
        {
            Manifest = manifest.Id,
            Item = item.Id,
            Kind = item.Kind,
            Genes = item.Genes,
            Values = values,
            Seconds = seconds,
            Worker = worker,
        }.Write(results);

        // Sub-networks as one batch, as the search in one process measures them (shared prefixes, same metrics).
        var subnetworks = todo.Where(i => i.Kind == WorkKind.Subnetwork).ToList();
        if (subnetworks.Count > 0)
        {
            var k = 0;
            loaded.Evaluate([.. subnetworks.Select(i => i.Genes.ToArray())], e => Write(subnetworks[k++], e.Metrics, e.Seconds ?? 0));
        }

        foreach (var item in todo.Where(i => i.Kind != WorkKind.Subnetwork))
        {
            cancel.ThrowIfCancellationRequested();
            var sw = Stopwatch.StartNew();
            IReadOnlyList<double> values = item.Kind switch
            {
                WorkKind.Quantized => loaded.EvaluateInt8([item.Genes])[0].Metrics,
                WorkKind.Reference => loaded.ReferencePoint(),
                _ => loaded.EvaluateWhole().Metrics,
            };
            Write(item, values, sw.Elapsed.TotalSeconds);
        }

        progress.WriteLine(ScaleOutOptions.Invariant($"evaluate-shard {shard}: {todo.Count} results written to {results}"));
        return todo.Count;
    }

    /// <summary>A manifest path: relative ones lie in the shared folder, relative to the manifest.</summary>
    internal static string Resolve(string manifestFolder, string path) =>
        Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(manifestFolder, path));

    /// <summary>Whether the item's result file exists and is this manifest's (anything else is left for the driver to report).</summary>
    private static bool HasResult(string results, WorkManifest manifest, WorkItem item)
    {
        var path = Path.Combine(results, ShardResult.FileName(item.Id));
        try
        {
            return File.Exists(path) && JsonSerializer.Deserialize<ShardResult>(File.ReadAllText(path), WorkManifest.Json) is { } r
                && r.Manifest == manifest.Id && r.Item == item.Id && r.Values.Count == manifest.Evaluator.Objectives.Count;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return false;
        }
    }
}
