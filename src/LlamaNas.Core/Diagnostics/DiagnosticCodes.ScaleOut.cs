namespace LlamaNas.Core.Diagnostics;

// search evaluation sharded over workers: Slurm job arrays, Kubernetes Indexed Jobs, local processes (1200-1249, docs/SCALE-OUT.md)
public static partial class DiagnosticCodes
{
    /// <summary>A scale-out option is missing or invalid: the mode, the shared folder, the shard, the worker command, the image.</summary>
    public const string ScaleOutOptionsInvalid = "LNAS1200";

    /// <summary>A work manifest cannot be read, is not one, or names an input the worker cannot find.</summary>
    public const string ShardManifestInvalid = "LNAS1201";

    /// <summary>A result file cannot be read, or does not fit its manifest (unknown item, other genes, wrong number of values, not finite).</summary>
    public const string ShardResultCorrupt = "LNAS1202";

    /// <summary>A result file belongs to another manifest.</summary>
    public const string ShardResultForeign = "LNAS1203";

    /// <summary>Two result files give the same item.</summary>
    public const string ShardResultDuplicate = "LNAS1204";

    /// <summary>Items still have no result after every attempt.</summary>
    public const string ShardResultsMissing = "LNAS1205";

    /// <summary>The scheduler could not be reached or refused the job (sbatch, kubectl).</summary>
    public const string ShardLaunchFailed = "LNAS1206";

    /// <summary>Warning: workers finished without a result for some items; their shards run again.</summary>
    public const string ShardRequeued = "LNAS1207";
}
