using System.Globalization;
using System.Reflection;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Pipeline.ScaleOut;

/// <summary>Where a search's candidates are evaluated.</summary>
public enum ScaleOutMode
{
    /// <summary>In the search's own process.</summary>
    Local,

    /// <summary>Worker processes on this machine (a test of the protocol, or several GPUs of one host).</summary>
    Processes,

    /// <summary>A Slurm job array submitted with <c>sbatch --wait</c>.</summary>
    Slurm,

    /// <summary>A Kubernetes Indexed Job applied with <c>kubectl</c>.</summary>
    Kubernetes,
}

/// <summary>
/// How a search shards its evaluations (<c>search --evaluation …</c>, the .nasproj's <c>SearchEvaluation</c> …):
/// the mode, the number of workers, the folder every worker sees, the worker command and the scheduler's settings.
/// None of these change what is measured, so none is part of a search's recorded settings or a build's keys.
/// </summary>
public sealed record ScaleOutOptions
{
    public ScaleOutMode Mode { get; init; } = ScaleOutMode.Local;

    /// <summary>Shards per batch (array tasks, Job completions, processes); a batch with fewer items uses fewer.</summary>
    public int Workers { get; init; } = 2;

    /// <summary>The folder the driver and every worker can read and write (a cluster file system or a volume).</summary>
    public string SharedDirectory { get; init; } = "";

    /// <summary>
    /// The shell words that start the tool on a worker; empty: this process's own tool for processes and Slurm
    /// (shared installs), <c>llamanas</c> for Kubernetes (the image's tool).
    /// </summary>
    public string WorkerCommand { get; init; } = "";

    /// <summary>Launches per shard before missing results are an error (LNAS1205).</summary>
    public int Attempts { get; init; } = 3;

    /// <summary>Extra <c>#SBATCH</c> options, space-separated (e.g. <c>--partition=cpu --cpus-per-task=32 --time=02:00:00</c>).</summary>
    public string SlurmOptions { get; init; } = "";

    public KubernetesOptions Kubernetes { get; init; } = new();

    /// <summary>Seconds between looks at a Kubernetes Job's status.</summary>
    public double PollSeconds { get; init; } = 10;

    /// <summary>Options from their command-line (or .nasproj) spelling; LNAS1200 names the bad one.</summary>
    public static ScaleOutMode ParseMode(string text, string source) => text.Trim().ToLowerInvariant() switch
    {
        "local" or "" => ScaleOutMode.Local,
        "processes" => ScaleOutMode.Processes,
        "slurm" => ScaleOutMode.Slurm,
        "kubernetes" or "k8s" => ScaleOutMode.Kubernetes,
        _ => throw Invalid(source, $"unknown evaluation mode '{text}' (use local, processes, slurm or kubernetes)."),
    };

    public static string Name(ScaleOutMode mode) => mode.ToString().ToLowerInvariant();

    /// <summary>LNAS1200 for settings that cannot work (checked before anything is written or submitted).</summary>
    public void Validate(string prefix = "--")
    {
        if (Mode == ScaleOutMode.Local)
        {
            return;
        }

        if (Workers < 1)
        {
            throw Invalid(prefix + "workers", "must be at least 1.");
        }

        if (Attempts < 1)
        {
            throw Invalid(prefix + "shard-attempts", "must be at least 1.");
        }

        if (string.IsNullOrWhiteSpace(SharedDirectory))
        {
            throw Invalid(prefix + "shared-dir", $"{Name(Mode)} evaluation needs a folder every worker can read and write.");
        }

        if (Mode == ScaleOutMode.Kubernetes)
        {
            Kubernetes.Validate(prefix);
        }
    }

    /// <summary>The worker command as shell text: <see cref="WorkerCommand"/>, or the default for the mode.</summary>
    public string ResolveWorkerCommand()
    {
        if (!string.IsNullOrWhiteSpace(WorkerCommand))
        {
            return WorkerCommand.Trim();
        }

        if (Mode == ScaleOutMode.Kubernetes)
        {
            return "llamanas";
        }

        // This process's own tool: the apphost, or dotnet with the tool's assembly.
        var entry = Assembly.GetEntryAssembly();
        var process = Environment.ProcessPath;
        if (entry is null || process is null || !string.Equals(entry.GetName().Name, "llamanas", StringComparison.Ordinal))
        {
            throw Invalid("--worker-command", "the command that starts llamanas on a worker cannot be inferred in this process; give it (e.g. 'dotnet /opt/llamanas/llamanas.dll').");
        }

        return string.Equals(Path.GetFileNameWithoutExtension(process), "dotnet", StringComparison.Ordinal)
            ? $"{Shell.Quote(process)} {Shell.Quote(entry.Location)}"
            : Shell.Quote(process);
    }

    internal static LlamaNasException Invalid(string source, string message) =>
        new(DiagnosticCodes.ScaleOutOptionsInvalid, message, new DiagnosticLocation(source));

    internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The Indexed Job's settings: image, namespace, shared volume and per-pod resources.</summary>
public sealed record KubernetesOptions
{
    /// <summary>A container image with llamanas (and the GPU runtime) installed.</summary>
    public string Image { get; init; } = "";

    public string Namespace { get; init; } = "default";

    /// <summary>The PersistentVolumeClaim that holds <see cref="ScaleOutOptions.SharedDirectory"/>.</summary>
    public string VolumeClaim { get; init; } = "";

    /// <summary>Where pods mount the claim; paths under the shared folder are rewritten to it.</summary>
    public string MountPath { get; init; } = "/llamanas-shared";

    /// <summary>Resource limits per pod as name=quantity pairs (e.g. <c>cpu=32,memory=32Gi</c>).</summary>
    public string Resources { get; init; } = "";

    public void Validate(string prefix)
    {
        if (string.IsNullOrWhiteSpace(Image))
        {
            throw ScaleOutOptions.Invalid(prefix + "k8s-image", "Kubernetes evaluation needs a container image with llamanas installed.");
        }

        if (string.IsNullOrWhiteSpace(VolumeClaim))
        {
            throw ScaleOutOptions.Invalid(prefix + "k8s-volume-claim", "Kubernetes evaluation needs the PersistentVolumeClaim that holds the shared folder.");
        }

        if (!MountPath.StartsWith('/'))
        {
            throw ScaleOutOptions.Invalid(prefix + "k8s-mount-path", $"'{MountPath}' is not an absolute path.");
        }

        _ = ParseResources(prefix);
    }

    /// <summary>The resource limits, in order; LNAS1200 for a pair without '='.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ParseResources(string prefix = "--")
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var part in Resources.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == part.Length - 1)
            {
                throw ScaleOutOptions.Invalid(prefix + "k8s-resources", $"'{part}' is not name=quantity (e.g. cpu=32).");
            }

            pairs.Add(new(part[..eq].Trim(), part[(eq + 1)..].Trim()));
        }

        return pairs;
    }
}

/// <summary>POSIX shell quoting, for the commands written into job scripts.</summary>
internal static class Shell
{
    /// <summary>The word unchanged when it is plainly safe, else single-quoted.</summary>
    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+=:,@%".Contains(c, StringComparison.Ordinal))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
