using System.CommandLine;
using LlamaNas.Pipeline.ScaleOut;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas evaluate-shard &lt;manifest&gt; --shard i/N</c>: a worker of a sharded search (docs/SCALE-OUT.md). The
/// shard comes from --shard, or from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX with --shard-count.
/// </summary>
public static class EvaluateShardCommand
{
    public static Command Create()
    {
        var manifest = new Argument<string>("manifest") { Description = "The work manifest (manifest.json) a sharded search wrote into its shared folder." };
        var shard = new Option<string?>("--shard") { Description = "This worker's shard as i/N (0 ≤ i < N); default: the scheduler's index (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX)." };
        var count = new Option<int?>("--shard-count") { Description = "The number of shards N, with the index from the scheduler's environment." };
        var command = new Command("evaluate-shard", "Measure one shard of a sharded search's work manifest, writing one result file per item (a search's worker).")
        {
            manifest, shard, count,
        };
        command.SetAction((result, cancel) =>
        {
            var slice = ShardSlice.Resolve(result.GetValue(shard), result.GetValue(count), Environment.GetEnvironmentVariable);
            ShardWorker.Run(result.GetValue(manifest)!, slice, result.InvocationConfiguration.Error, cancel);
            return Task.FromResult(0);
        });
        return command;
    }
}
