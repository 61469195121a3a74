using k8s;
using k8s.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Pipeline.ScaleOut;
using LlamaNas.TestSupport;

namespace LlamaNas.Pipeline.Tests.ScaleOut;

/// <summary>The job definitions handed to the cluster's own scheduler: snapshots, and the Job read as Kubernetes' own batch/v1 type.</summary>
public sealed class JobDefinitionTests
{
    private static readonly string SnapshotFolder = Path.Combine("tests", "LlamaNas.Pipeline.Tests", "Snapshots");

    private const string Root = "/cluster/scratch/llamanas";

    private static ShardJob Job(int attempt = 1)
    {
        var manifest = new WorkManifest
        {
            Label = "batch-0003",
            Seed = 7,
            ModelKey = "sha256:00",
            Evaluator = new EvaluatorManifest
            {
                Model = "../../models/0123456789abcdef",
                Dtype = "bf16",
                Objectives = [new ObjectiveEntry(ObjectiveKind.Accuracy, "arc_easy"), new ObjectiveEntry(ObjectiveKind.Size, "bf16")],
                DataDir = "/cluster/data",
                Speed = new SpeedOptions(),
            },
            Items = [.. Enumerable.Range(0, 50).Select(i => new WorkItem(i, WorkKind.Subnetwork, [i % 3, 1, 0]))],
        }.WithId();
        return new ShardJob(manifest, $"{Root}/work/{manifest.Id[..16]}/manifest.json", 8, attempt, Root);
    }

    private static string Scrub(string text, ShardJob job) => text.Replace(job.Manifest.Id[..16], "<id16>", StringComparison.Ordinal).Replace(job.Manifest.Id[..12], "<id12>", StringComparison.Ordinal);

    [Fact]
    public void The_sbatch_script_is_an_array_of_one_task_per_shard()
    {
        var job = Job();
        var script = new SlurmLauncher("/opt/llamanas/llamanas", "--partition=gpu --gres=gpu:1 --time=02:00:00").Script(job);
        Snapshots.Verify(SnapshotFolder, "slurm.sbatch", Scrub(script, job));
    }

    [Fact]
    public void The_indexed_job_is_a_valid_batch_v1_job_with_one_completion_per_shard()
    {
        var job = Job(attempt: 2);
        var options = new KubernetesOptions { Image = "ghcr.io/example/llamanas:0.1.0", Namespace = "nas", VolumeClaim = "llamanas-shared", MountPath = "/shared", Resources = "nvidia.com/gpu=1, memory=32Gi" };
        var yaml = new KubernetesLauncher("llamanas", options, 10).Manifest(job);
        Snapshots.Verify(SnapshotFolder, "kubernetes.job.yaml", Scrub(yaml, job));

        // Read back as the API's own model, strictly: an unknown or misplaced field fails here.
        var parsed = KubernetesYaml.Deserialize<V1Job>(yaml, strict: true);
        Assert.Equal(("batch/v1", "Job", "nas"), (parsed.ApiVersion, parsed.Kind, parsed.Metadata.NamespaceProperty));
        Assert.Equal($"llamanas-{job.Manifest.Id[..12]}-a2", parsed.Metadata.Name);
        Assert.True(parsed.Metadata.Name.Length <= 63);
        var spec = parsed.Spec;
        Assert.Equal(("Indexed", 8, 8, 0), (spec.CompletionMode, spec.Completions, spec.Parallelism, spec.BackoffLimit));
        var pod = spec.Template.Spec;
        Assert.Equal("Never", pod.RestartPolicy);
        var container = Assert.Single(pod.Containers);
        Assert.Equal(["llamanas"], container.Command);
        Assert.Equal(["evaluate-shard", $"/shared/work/{job.Manifest.Id[..16]}/manifest.json", "--shard-count", "8"], container.Args);
        Assert.Equal("1", container.Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Equal("32Gi", container.Resources.Limits["memory"].ToString());
        Assert.Equal(("shared", "/shared"), (container.VolumeMounts.Single().Name, container.VolumeMounts.Single().MountPath));
        Assert.Equal("llamanas-shared", pod.Volumes.Single().PersistentVolumeClaim.ClaimName);
    }
}
