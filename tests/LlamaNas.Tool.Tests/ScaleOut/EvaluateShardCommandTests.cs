using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Pipeline.ScaleOut;
using LlamaNas.TestSupport;

namespace LlamaNas.Tool.Tests.ScaleOut;

/// <summary><c>llamanas evaluate-shard</c> run by hand on a manifest: its slice, its result files, and its errors.</summary>
public sealed class EvaluateShardCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A manifest in <c>work/x/</c> whose model lies outside the folder (an absolute path, as a manifest may name).</summary>
    private string Manifest(string? model = null)
    {
        var text = _dir.Write("inputs/valid.txt", File.ReadAllText(SharedData.Path("data", "tinystories", "valid-head-a.txt"))[..1000]);
        var manifest = new WorkManifest
        {
            Label = "batch-0000",
            Seed = 1,
            ModelKey = "sha256:00",
            Evaluator = new EvaluatorManifest
            {
                Model = model ?? SharedData.Stories260K,
                Dtype = "fp32",
                Objectives = [new ObjectiveEntry(ObjectiveKind.Perplexity, "../../inputs/" + Path.GetFileName(text)), new ObjectiveEntry(ObjectiveKind.Size, "fp32")],
                DataDir = "",
                SharePrefixes = true,
                Speed = new SpeedOptions(),
            },
            Items = [new WorkItem(0, WorkKind.Subnetwork, [0, 0, 0, 0, 0, 0]), new WorkItem(1, WorkKind.Subnetwork, [2, 1, 1, 1, 1, 1]), new WorkItem(2, WorkKind.Quantized, [2, 1, 1, 1, 1, 1]), new WorkItem(3, WorkKind.Reference, [])],
        }.WithId();
        return _dir.Write($"work/{manifest.Id[..16]}/manifest.json", manifest.ToJson());
    }

    [Fact]
    public async Task A_worker_measures_its_slice_once_and_a_second_run_finds_nothing_to_do()
    {
        var manifest = Manifest();
        var (code, _, error) = await CliRunner.Run("evaluate-shard", manifest, "--shard", "1/2");
        Assert.True(code == 0, error);
        Assert.Contains("evaluate-shard 1/2 of batch-0000", error, StringComparison.Ordinal);
        Assert.Contains("2 of 2 items to measure", error, StringComparison.Ordinal);
        var results = ShardResults.Collect(WorkManifest.Load(manifest), WorkManifest.ResultsDirectory(manifest));
        Assert.Equal([1, 3], results.Keys.Order());

        // The reference point: ln(vocabulary) for perplexity, 1.1 × the whole model's fp32 size.
        Assert.Equal(Math.Log(512), results[3].Values[0], 12);
        Assert.True(results[1].Values[0] > 1);

        var again = await CliRunner.Run("evaluate-shard", manifest, "--shard", "1/2");
        Assert.True(again.Code == 0, again.Err);
        Assert.Contains("0 of 2 items to measure", again.Err, StringComparison.Ordinal);

        // Slurm's index and an explicit count measure the rest; the INT8 item's size is its INT8 bytes.
        var slurm = await CliRunner.Run("evaluate-shard", manifest, "--shard-count", "2");
        Assert.Equal(1, slurm.Code);
        Assert.Contains("error LNAS1200", slurm.Err, StringComparison.Ordinal);
        var rest = await CliRunner.Run("evaluate-shard", manifest, "--shard", "0/2");
        Assert.True(rest.Code == 0, rest.Err);
        results = ShardResults.Collect(WorkManifest.Load(manifest), WorkManifest.ResultsDirectory(manifest));
        Assert.Equal(4, results.Count);
        Assert.True(results[2].Values[1] < results[1].Values[1] / 2, "INT8 stores the decoder's linear weights in a quarter of the fp32 bytes");
    }

    [Fact]
    public async Task A_manifest_the_worker_cannot_use_is_a_coded_error()
    {
        var missing = await CliRunner.Run("evaluate-shard", _dir.File("absent.json"), "--shard", "0/1");
        Assert.Equal(1, missing.Code);
        Assert.Contains("error LNAS1201", missing.Err, StringComparison.Ordinal);

        var manifest = Manifest();
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace(SharedData.Stories260K, _dir.File("moved-model"), StringComparison.Ordinal));
        var altered = await CliRunner.Run("evaluate-shard", manifest, "--shard", "0/1");
        Assert.Contains("error LNAS1201", altered.Err, StringComparison.Ordinal);
        Assert.Contains("was changed after it was written", altered.Err, StringComparison.Ordinal);

        var bad = await CliRunner.Run("evaluate-shard", manifest, "--shard", "2/2");
        Assert.Contains("error LNAS1200", bad.Err, StringComparison.Ordinal);

        var unmounted = await CliRunner.Run("evaluate-shard", Manifest(_dir.File("moved-model")), "--shard", "0/1");
        Assert.Equal(1, unmounted.Code);
        Assert.Contains("error LNAS1201", unmounted.Err, StringComparison.Ordinal);
        Assert.Contains("is the shared folder mounted there?", unmounted.Err, StringComparison.Ordinal);
    }
}
