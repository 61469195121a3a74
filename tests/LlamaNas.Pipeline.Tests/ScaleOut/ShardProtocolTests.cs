using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Pipeline.ScaleOut;
using LlamaNas.Pipeline.Search;
using LlamaNas.TestSupport;

namespace LlamaNas.Pipeline.Tests.ScaleOut;

/// <summary>The sharded search's files and their checks: shards, manifests, result files, re-queues, launch settings.</summary>
public sealed class ShardProtocolTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static EvaluatorManifest Settings() => new()
    {
        Model = "../../models/0123456789abcdef",
        Dtype = "fp32",
        Objectives = [new ObjectiveEntry(ObjectiveKind.Perplexity, "../../inputs/fedcba9876543210/valid.txt"), new ObjectiveEntry(ObjectiveKind.Size, "fp32")],
        DataDir = "",
        Speed = new SpeedOptions(),
    };

    private static WorkManifest Manifest(params int[][] genes) => new WorkManifest
    {
        Label = "batch-0000",
        Seed = 7,
        ModelKey = "sha256:00",
        Evaluator = Settings(),
        Items = [.. genes.Select((g, i) => new WorkItem(i, WorkKind.Subnetwork, g))],
    }.WithId();

    private (WorkManifest Manifest, string Results) Written(params int[][] genes)
    {
        var manifest = Manifest(genes);
        var path = _dir.Write(Path.Combine("work", manifest.Id[..16], WorkManifest.FileName), manifest.ToJson());
        return (manifest, WorkManifest.ResultsDirectory(path));
    }

    private static ShardResult Result(WorkManifest manifest, int item, params double[] values) =>
        new() { Manifest = manifest.Id, Item = item, Kind = manifest.Items[item].Kind, Genes = manifest.Items[item].Genes, Values = values };

    [Fact]
    public void Shards_come_from_the_option_or_the_schedulers_environment()
    {
        static string? None(string _) => null;
        Assert.Equal(new ShardSlice(1, 4), ShardSlice.Resolve("1/4", null, None));
        Assert.Equal(new ShardSlice(2, 3), ShardSlice.Resolve(null, null, v => v switch { "SLURM_ARRAY_TASK_ID" => "2", "SLURM_ARRAY_TASK_COUNT" => "3", _ => null }));

        // A re-queued array holds fewer tasks than there are shards: --shard-count wins over Slurm's count.
        Assert.Equal(new ShardSlice(2, 5), ShardSlice.Resolve(null, 5, v => v switch { "SLURM_ARRAY_TASK_ID" => "2", "SLURM_ARRAY_TASK_COUNT" => "1", _ => null }));
        Assert.Equal(new ShardSlice(0, 2), ShardSlice.Resolve(null, 2, v => v == "JOB_COMPLETION_INDEX" ? "0" : null));
        Assert.Equal([1, 4, 7], new ShardSlice(1, 3).Positions(8));

        foreach (var (shard, count, env) in new (string?, int?, Func<string, string?>)[]
        {
            ("4/4", null, None), ("1-4", null, None), ("1/4", 3, None), (null, null, None),
            (null, null, v => v == "JOB_COMPLETION_INDEX" ? "1" : null), (null, 2, v => v == "JOB_COMPLETION_INDEX" ? "x" : null),
        })
        {
            var e = Assert.Throws<LlamaNasException>(() => ShardSlice.Resolve(shard, count, env));
            Assert.Equal(DiagnosticCodes.ScaleOutOptionsInvalid, e.Code);
        }
    }

    [Fact]
    public void A_manifest_is_named_by_its_content_and_refuses_changes()
    {
        var a = Manifest([0, 1], [1, 1]);
        Assert.Equal(a.Id, (a with { Label = "int8" }).WithId().Id);
        Assert.NotEqual(a.Id, Manifest([0, 1], [1, 0]).Id);
        Assert.NotEqual(a.Id, (a with { Seed = 8 }).WithId().Id);
        var path = _dir.Write("m/manifest.json", a.ToJson());
        Assert.Equal(a.Items.Count, WorkManifest.Load(path).Items.Count);

        File.WriteAllText(path, a.ToJson().Replace("\"seed\": 7", "\"seed\": 9", StringComparison.Ordinal));
        Assert.Equal(DiagnosticCodes.ShardManifestInvalid, Assert.Throws<LlamaNasException>(() => WorkManifest.Load(path)).Code);
        File.WriteAllText(path, "{ not json");
        Assert.Equal(DiagnosticCodes.ShardManifestInvalid, Assert.Throws<LlamaNasException>(() => WorkManifest.Load(path)).Code);
        Assert.Equal(DiagnosticCodes.ShardManifestInvalid, Assert.Throws<LlamaNasException>(() => WorkManifest.Load(_dir.File("absent.json"))).Code);
    }

    [Fact]
    public void Results_are_merged_by_item_and_every_bad_file_is_named_with_its_code()
    {
        var (manifest, results) = Written([0, 1], [1, 1], [2, 0]);
        Result(manifest, 0, 5.5, 0.001).Write(results);
        Result(manifest, 2, 7.25, 0.0005).Write(results);
        File.WriteAllText(Path.Combine(results, "00001.json.tmp-0123456789ab"), "half");
        var merged = ShardResults.Collect(manifest, results);
        Assert.Equal([0, 2], merged.Keys.Order());
        Assert.Equal([7.25, 0.0005], merged[2].Values);

        // A result keeps its first writer's values (a shard that ran twice measures the same).
        Result(manifest, 0, 9, 9).Write(results);
        Assert.Equal(5.5, ShardResults.Collect(manifest, results)[0].Values[0]);

        void Expect(string code, string file, string text)
        {
            var path = Path.Combine(results, file);
            File.WriteAllText(path, text);
            var e = Assert.Throws<LlamaNasException>(() => ShardResults.Collect(manifest, results));
            Assert.Equal((code, path), (e.Code, e.Diagnostic.Location!.File));
            File.Delete(path);
        }

        var good = System.Text.Json.JsonSerializer.Serialize(Result(manifest, 1, 6, 0.002), WorkManifest.Json);
        Expect(DiagnosticCodes.ShardResultCorrupt, "00001.json", good[..(good.Length / 2)]);
        Expect(DiagnosticCodes.ShardResultCorrupt, "00001.json", "{\"schema\": \"something else\"}");
        Expect(DiagnosticCodes.ShardResultCorrupt, "00001.json", Edit(good, r => r["values"] = new JsonArray(6.0)));
        Expect(DiagnosticCodes.ShardResultCorrupt, "00001.json", Edit(good, r => r["item"] = 3));
        Expect(DiagnosticCodes.ShardResultCorrupt, "00001.json", Edit(good, r => r["genes"] = new JsonArray(0, 0)));
        Expect(DiagnosticCodes.ShardResultForeign, "00001.json", Edit(good, r => r["manifest"] = Manifest([9, 9]).Id));
        Expect(DiagnosticCodes.ShardResultDuplicate, "00002.copy.json", File.ReadAllText(Path.Combine(results, ShardResult.FileName(2))));

        // Nothing was dropped on the way: the folder still merges to the same two results.
        Assert.Equal([0, 2], ShardResults.Collect(manifest, results).Keys.Order());
    }

    private static string Edit(string json, Action<JsonObject> edit)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        edit(node);
        return node.ToJsonString();
    }

    [Fact]
    public void Shards_without_results_are_requeued_then_reported()
    {
        var text = _dir.Write("valid.txt", File.ReadAllText(SharedData.Path("data", "tinystories", "valid-head-a.txt"))[..800]);
        var settings = new EvaluatorSettings
        {
            Model = SharedData.Stories260K,
            Dtype = TorchSharp.torch.ScalarType.Float32,
            Objectives = [new SearchObjective(ObjectiveKind.Perplexity, text), new SearchObjective(ObjectiveKind.Size, "fp32")],
            DataDir = _dir.Path,
            TaskOptions = Core.Evaluation.Tasks.TaskLoadOptions.Default,
            Space = new SpaceChoices(null, null, null, null),
            Speed = new SpeedOptions(),
        };
        var launcher = new RecordingLauncher();
        using var progress = new StringWriter();
        var options = new ScaleOutOptions { Mode = ScaleOutMode.Processes, Workers = 2, SharedDirectory = _dir.File("shared"), Attempts = 2 };
        using var evaluator = DistributedEvaluator.Create(settings, options, 7, null, progress, CancellationToken.None, launcher);
        var e = Assert.Throws<LlamaNasException>(() => evaluator.Evaluate([[0, 0, 0, 0, 0, 0], [2, 1, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0]]));
        Assert.Equal(DiagnosticCodes.ShardResultsMissing, e.Code);
        Assert.Contains("3 of 3 items of batch-0000 still have no result after 2 attempts (items 0, 1, 2)", e.Diagnostic.Message, StringComparison.Ordinal);
        Assert.Equal(["1: 0,1", "2: 0,1"], launcher.Launches);
        Assert.Contains("warning LNAS1207: 3 items of batch-0000 have no result after attempt 1 (items 0, 1, 2); shards 0, 1 of 2 run again (attempt 2 of 2).", progress.ToString(), StringComparison.Ordinal);

        // The model and the text were copied into the shared folder, and the manifest names them relative to itself.
        var manifest = WorkManifest.Load(Directory.GetFiles(_dir.File("shared/work"), WorkManifest.FileName, SearchOption.AllDirectories).Single());
        Assert.StartsWith("../../models/", manifest.Evaluator.Model, StringComparison.Ordinal);
        Assert.StartsWith("../../inputs/", manifest.Evaluator.Objectives[0].Argument, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_dir.File("shared/work"), "x", manifest.Evaluator.Model, "model.safetensors")));
    }

    [Fact]
    public void Scale_out_options_that_cannot_work_are_refused_before_anything_runs()
    {
        foreach (var (options, where) in new (ScaleOutOptions, string)[]
        {
            (new() { Mode = ScaleOutMode.Slurm }, "--shared-dir"),
            (new() { Mode = ScaleOutMode.Slurm, SharedDirectory = "/s", Workers = 0 }, "--workers"),
            (new() { Mode = ScaleOutMode.Kubernetes, SharedDirectory = "/s" }, "--k8s-image"),
            (new() { Mode = ScaleOutMode.Kubernetes, SharedDirectory = "/s", Kubernetes = new() { Image = "i" } }, "--k8s-volume-claim"),
            (new() { Mode = ScaleOutMode.Kubernetes, SharedDirectory = "/s", Kubernetes = new() { Image = "i", VolumeClaim = "c", Resources = "gpu" } }, "--k8s-resources"),
        })
        {
            var e = Assert.Throws<LlamaNasException>(() => options.Validate());
            Assert.Equal((DiagnosticCodes.ScaleOutOptionsInvalid, where), (e.Code, e.Diagnostic.Location!.File));
        }

        Assert.Equal(DiagnosticCodes.ScaleOutOptionsInvalid, Assert.Throws<LlamaNasException>(() => ScaleOutOptions.ParseMode("cloud", "--evaluation")).Code);
    }

    /// <summary>Launches nothing (every worker lost), recording the shards asked for.</summary>
    private sealed class RecordingLauncher : IShardLauncher
    {
        public List<string> Launches { get; } = [];

        public void Run(ShardJob job, IReadOnlyList<int> shards, TextWriter progress, CancellationToken cancel) =>
            Launches.Add($"{job.Attempt}: {string.Join(',', shards)}");
    }
}
