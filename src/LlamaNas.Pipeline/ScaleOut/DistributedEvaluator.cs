using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Search;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Pipeline.ScaleOut;

/// <summary>
/// The search's evaluator when workers measure: each batch (and the reference point, the INT8 re-ranking, a
/// baseline) becomes a work manifest in the shared folder, its shards are launched, and the results are checked and
/// merged in the batch's order. Shards left without results are launched again (LNAS1207) up to the attempts allowed,
/// then LNAS1205. This process never loads the weights: the space comes from the config, and sizes are analytic.
/// </summary>
public sealed class DistributedEvaluator : ISearchEvaluator
{
    private const string WorkFolder = "work";
    private readonly ScaleOutOptions _options;
    private readonly IShardLauncher _launcher;
    private readonly EvaluatorManifest _settings;
    private readonly string _root;
    private readonly string _modelKey;
    private readonly ulong _seed;
    private readonly LlamaConfig _config;
    private readonly TextWriter _progress;
    private readonly CancellationToken _cancel;
    private int _batches;

    private DistributedEvaluator(EvaluatorSettings settings, ScaleOutOptions options, IShardLauncher launcher, ulong seed, Action<SearchSpace>? checkSpace, TextWriter progress, CancellationToken cancel)
    {
        (_options, _launcher, _seed, _progress, _cancel) = (options, launcher, seed, progress, cancel);
        (Space, _config) = settings.LoadSpace(checkSpace);
        Objectives = settings.Objectives;
        Int8Objectives = [.. settings.Objectives.Select(SubnetworkObjective.Int8Spec)];
        SizeModel = settings.SizeModel;
        _root = Path.GetFullPath(options.SharedDirectory);
        Directory.CreateDirectory(_root);
        _modelKey = Fingerprints.Model(settings.Model);
        var staged = settings with
        {
            Model = StageModel(settings.Model, _modelKey),
            Objectives = [.. settings.Objectives.Select(o => o.Kind == ObjectiveKind.Perplexity && o.Argument is { } text ? o with { Argument = StageFile(text) } : o)],
        };

        // Every manifest lies at <root>/work/<id>/, so paths relative to any such folder are the same.
        var anyManifestFolder = Path.Combine(_root, WorkFolder, "_");
        _settings = EvaluatorManifest.From(staged, p => Inside(_root, Path.GetFullPath(p)) ? Path.GetRelativePath(anyManifestFolder, Path.GetFullPath(p)).Replace('\\', '/') : Path.GetFullPath(p));
    }

    /// <summary>LNAS1200 for unusable options, before anything is copied or submitted.</summary>
    public static DistributedEvaluator Create(EvaluatorSettings settings, ScaleOutOptions options, ulong seed, Action<SearchSpace>? checkSpace, TextWriter progress, CancellationToken cancel, IShardLauncher? launcher = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(progress);
        options.Validate();
        return new DistributedEvaluator(settings, options, launcher ?? ShardLaunchers.Create(options), seed, checkSpace, progress, cancel);
    }

    public SearchSpace Space { get; }

    public IReadOnlyList<SearchObjective> Objectives { get; }

    public IReadOnlyList<SearchObjective> Int8Objectives { get; }

    public SizeModel SizeModel { get; }

    public double[] ReferencePoint() => [.. Measure("reference", [new WorkItem(0, WorkKind.Reference, [])])[0].Values];

    public IReadOnlyList<SubnetworkEvaluation> Evaluate(IReadOnlyList<int[]> batch, Action<SubnetworkEvaluation>? done = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var canonical = batch.Select(Space.Canonicalize).ToList();
        var results = Measure(ScaleOutOptions.Invariant($"batch-{_batches++:D4}"), [.. canonical.Select((g, i) => new WorkItem(i, WorkKind.Subnetwork, g))]);
        var evaluations = new List<SubnetworkEvaluation>(batch.Count);
        for (var i = 0; i < canonical.Count; i++)
        {
            var e = SubnetworkEvaluator.Describe(Space, Objectives, SizeModel, canonical[i], Space.Decode(canonical[i]), results[i].Values, results[i].Seconds);
            done?.Invoke(e);
            evaluations.Add(e);
        }

        return evaluations;
    }

    public IReadOnlyList<SubnetworkEvaluation> EvaluateInt8(IReadOnlyList<IReadOnlyList<int>> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var canonical = batch.Select(Space.Canonicalize).ToList();
        var results = Measure("int8", [.. canonical.Select((g, i) => new WorkItem(i, WorkKind.Quantized, g))]);
        return [.. canonical.Select((g, i) => SubnetworkEvaluator.Describe(Space, Int8Objectives, SizeModel.Int8Linear(), g, Space.Decode(g), results[i].Values, results[i].Seconds))];
    }

    public SubnetworkEvaluation EvaluateWhole()
    {
        var r = Measure("whole", [new WorkItem(0, WorkKind.Whole, [])])[0];
        return SubnetworkEvaluator.Describe(Space, Objectives, SizeModel, [], SubnetworkArchitecture.Of(_config), r.Values, r.Seconds);
    }

    public void Dispose()
    {
    }

    /// <summary>Writes (or finds) the manifest of <paramref name="items"/>, launches shards until every item has its result, and returns them in item order.</summary>
    private IReadOnlyList<ShardResult> Measure(string label, IReadOnlyList<WorkItem> items)
    {
        var manifest = new WorkManifest { Label = label, Seed = _seed, ModelKey = _modelKey, Evaluator = _settings, Items = items }.WithId();
        var path = Path.Combine(_root, WorkFolder, manifest.Id[..16], WorkManifest.FileName);
        if (File.Exists(path))
        {
            // The same work asked for again (a restarted search): its results so far count.
            _ = WorkManifest.Load(path);
        }
        else
        {
            AtomicFile.WriteAllText(path, manifest.ToJson());
        }

        var folder = WorkManifest.ResultsDirectory(path);
        var shards = Math.Min(_options.Workers, items.Count);
        for (var attempt = 1; ; attempt++)
        {
            _cancel.ThrowIfCancellationRequested();
            var results = ShardResults.Collect(manifest, folder);
            var pending = Enumerable.Range(0, shards).Where(s => new ShardSlice(s, shards).Positions(items.Count).Any(p => !results.ContainsKey(p))).ToList();
            if (pending.Count == 0)
            {
                return [.. items.Select(i => results[i.Id])];
            }

            var missing = items.Where(i => !results.ContainsKey(i.Id)).Select(i => i.Id).ToList();
            if (attempt > _options.Attempts)
            {
                throw new LlamaNasException(DiagnosticCodes.ShardResultsMissing, ScaleOutOptions.Invariant($"{missing.Count} of {items.Count} items of {label} still have no result after {_options.Attempts} attempts (items {Ids(missing)}); see the workers' logs beside the manifest. Run the search again to retry: results already written are kept."), new DiagnosticLocation(path));
            }

            if (attempt > 1)
            {
                _progress.WriteLine(new Diagnostic(DiagnosticCodes.ShardRequeued, DiagnosticSeverity.Warning, ScaleOutOptions.Invariant($"{missing.Count} items of {label} have no result after attempt {attempt - 1} (items {Ids(missing)}); shards {string.Join(", ", pending)} of {shards} run again (attempt {attempt} of {_options.Attempts})."), new DiagnosticLocation(path)).ToString());
            }

            _launcher.Run(new ShardJob(manifest, path, shards, attempt, _root), pending, _progress, _cancel);
        }
    }

    /// <summary>The model's files, copied once into <c>&lt;root&gt;/models/&lt;key&gt;</c> (atomically: a temp folder renamed) unless already in the shared folder.</summary>
    private string StageModel(string model, string key)
    {
        var full = Path.GetFullPath(model);
        if (Inside(_root, full))
        {
            return full;
        }

        var target = Path.Combine(_root, "models", Key.Of("model", key)[..16]);
        if (Directory.Exists(target))
        {
            return target;
        }

        using var checkpoint = LlamaCheckpoint.Open(full);
        var files = new List<string> { CheckpointFiles.Config };
        files.AddRange(checkpoint.WeightFiles.Select(f => Path.GetRelativePath(checkpoint.Directory, f)));
        files.AddRange(new[] { CheckpointFiles.Index }.Concat(TokenizerLoader.CompanionFiles).Where(f => File.Exists(Path.Combine(checkpoint.Directory, f))));
        _progress.WriteLine($"scale-out: copying the model {full} to the shared folder ({target})");
        var temp = $"{target}.tmp-{Guid.NewGuid():N}";
        try
        {
            foreach (var f in files.Distinct(StringComparer.Ordinal))
            {
                var destination = Path.Combine(temp, f);
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                File.Copy(Path.Combine(checkpoint.Directory, f), destination);
            }

            Directory.Move(temp, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            if (Directory.Exists(target))
            {
                // Another driver staged the same model meanwhile.
                return target;
            }

            throw new LlamaNasException(DiagnosticCodes.OutputWriteFailed, $"the model could not be copied to the shared folder ({e.Message}).", new DiagnosticLocation(target), e);
        }

        return target;
    }

    /// <summary>An input file, copied into <c>&lt;root&gt;/inputs/&lt;content key&gt;/</c> unless already in the shared folder.</summary>
    private string StageFile(string file)
    {
        var full = Path.GetFullPath(file);
        if (Inside(_root, full) || !File.Exists(full))
        {
            return full;
        }

        var target = Path.Combine(_root, "inputs", Key.Of("input", FileFingerprint.Of(full))[..16], Path.GetFileName(full));
        if (!File.Exists(target))
        {
            AtomicFile.Write(target, s =>
            {
                using var source = File.OpenRead(full);
                source.CopyTo(s);
            });
        }

        return target;
    }

    private static bool Inside(string root, string path) =>
        path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static string Ids(List<int> ids) => string.Join(", ", ids.Take(10)) + (ids.Count > 10 ? ", …" : string.Empty);

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only a leftover temp folder; the next staging uses another name.
        }
    }
}
