using System.Globalization;

namespace LlamaNas.Pipeline.ScaleOut;

/// <summary>
/// Shard <see cref="Index"/> of <see cref="Count"/>: the manifest items at positions Index, Index + Count, … (strided,
/// so every shard gets a like mix of a batch's sizes).
/// </summary>
public sealed record ShardSlice(int Index, int Count)
{
    public IEnumerable<int> Positions(int items)
    {
        for (var p = Index; p < items; p += Count)
        {
            yield return p;
        }
    }

    public override string ToString() => Index.ToString(CultureInfo.InvariantCulture) + "/" + Count.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The shard from <c>--shard i/N</c>, else from the scheduler's environment: Slurm's <c>SLURM_ARRAY_TASK_ID</c>
    /// (with <c>SLURM_ARRAY_TASK_COUNT</c>) or Kubernetes' <c>JOB_COMPLETION_INDEX</c>; <paramref name="count"/>
    /// (<c>--shard-count</c>) overrides the environment's count (a re-queued array holds fewer tasks than shards).
    /// LNAS1200 when neither gives a valid shard.
    /// </summary>
    public static ShardSlice Resolve(string? shard, int? count, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (shard is not null)
        {
            var parts = shard.Split('/');
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var i) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                throw ScaleOutOptions.Invalid("--shard", $"'{shard}' is not i/N (e.g. 0/4).");
            }

            if (count is not null && count != n)
            {
                throw ScaleOutOptions.Invalid("--shard-count", $"--shard {shard} already gives the count; --shard-count {count} disagrees.");
            }

            return Checked(i, n, "--shard");
        }

        var (index, source) = environment("SLURM_ARRAY_TASK_ID") is { } slurm ? (slurm, "SLURM_ARRAY_TASK_ID")
            : environment("JOB_COMPLETION_INDEX") is { } k8s ? (k8s, "JOB_COMPLETION_INDEX")
            : (null, null);
        if (index is null)
        {
            throw ScaleOutOptions.Invalid("--shard", "give --shard i/N, or run in a Slurm array task (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX).");
        }

        if (!int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out var k))
        {
            throw ScaleOutOptions.Invalid(source!, $"'{index}' is not a shard index.");
        }

        var total = count ?? (source == "SLURM_ARRAY_TASK_ID" && environment("SLURM_ARRAY_TASK_COUNT") is { } c && int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out var sc) ? sc : null);
        return total is { } t ? Checked(k, t, source!) : throw ScaleOutOptions.Invalid("--shard-count", $"{source} gives the index; give the number of shards with --shard-count.");
    }

    private static ShardSlice Checked(int index, int count, string source) =>
        count >= 1 && index >= 0 && index < count ? new ShardSlice(index, count) : throw ScaleOutOptions.Invalid(source, $"shard {index} of {count} does not exist (the index runs from 0 to the count - 1).");
}
