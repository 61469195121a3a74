using System.CommandLine;
using LlamaNas.Pipeline.ScaleOut;

namespace LlamaNas.Tool.Search;

/// <summary>
/// <c>search</c>'s options for evaluating on workers (docs/SCALE-OUT.md); the .nasproj's <c>SearchEvaluation</c>,
/// <c>SearchWorkers</c>, … carry the same names and meanings.
/// </summary>
internal sealed class ScaleOutCliOptions
{
    private readonly Option<string> _mode = new("--evaluation") { Description = "Where candidates are evaluated: local (this process), processes (worker processes here), slurm (a job array via sbatch --wait) or kubernetes (an Indexed Job via kubectl).", DefaultValueFactory = _ => "local" };
    private readonly Option<int> _workers = new("--workers") { Description = "Shards per batch: array tasks, Job completions or processes.", DefaultValueFactory = _ => 2 };
    private readonly Option<string?> _shared = new("--shared-dir") { Description = "A folder the search and every worker can read and write; the model and work manifests are placed there." };
    private readonly Option<string?> _worker = new("--worker-command") { Description = "The shell words that start llamanas on a worker (default: this tool for processes and slurm, 'llamanas' for kubernetes)." };
    private readonly Option<int> _attempts = new("--shard-attempts") { Description = "Launches of a shard before items without a result are an error.", DefaultValueFactory = _ => 3 };
    private readonly Option<string?> _slurm = new("--slurm-options") { Description = "Extra #SBATCH options, space-separated (e.g. '--partition=cpu --cpus-per-task=32 --time=02:00:00')." };
    private readonly Option<string?> _image = new("--k8s-image") { Description = "Container image with llamanas, for kubernetes evaluation." };
    private readonly Option<string> _namespace = new("--k8s-namespace") { Description = "Namespace of the Job.", DefaultValueFactory = _ => "default" };
    private readonly Option<string?> _claim = new("--k8s-volume-claim") { Description = "PersistentVolumeClaim that holds --shared-dir." };
    private readonly Option<string> _mount = new("--k8s-mount-path") { Description = "Where pods mount the claim.", DefaultValueFactory = _ => "/llamanas-shared" };
    private readonly Option<string?> _resources = new("--k8s-resources") { Description = "Per-pod limits as name=quantity pairs (e.g. cpu=32,memory=32Gi)." };

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        foreach (var option in new Option[] { _mode, _workers, _shared, _worker, _attempts, _slurm, _image, _namespace, _claim, _mount, _resources })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The options, checked (LNAS1200); null for local evaluation.</summary>
    public ScaleOutOptions? Read(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var mode = ScaleOutOptions.ParseMode(result.GetValue(_mode)!, "--evaluation");
        if (mode == ScaleOutMode.Local)
        {
            return null;
        }

        var options = new ScaleOutOptions
        {
            Mode = mode,
            Workers = result.GetValue(_workers),
            SharedDirectory = result.GetValue(_shared) is { } shared ? Path.GetFullPath(shared) : "",
            WorkerCommand = result.GetValue(_worker) ?? "",
            Attempts = result.GetValue(_attempts),
            SlurmOptions = result.GetValue(_slurm) ?? "",
            Kubernetes = new KubernetesOptions
            {
                Image = result.GetValue(_image) ?? "",
                Namespace = result.GetValue(_namespace)!,
                VolumeClaim = result.GetValue(_claim) ?? "",
                MountPath = result.GetValue(_mount)!,
                Resources = result.GetValue(_resources) ?? "",
            },
        };
        options.Validate();
        return options;
    }
}
