using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Pipeline.ScaleOut;

/// <summary>One launch of a manifest's shards: which manifest, how many shards it is cut into, which attempt.</summary>
public sealed record ShardJob(WorkManifest Manifest, string ManifestPath, int Shards, int Attempt, string SharedRoot)
{
    public string Folder => Path.GetDirectoryName(ManifestPath)!;

    public string LogsFolder => Path.Combine(Folder, "logs");

    /// <summary>A scheduler-safe name (lowercase letters, digits, '-'; Kubernetes allows 63 characters).</summary>
    public string Name => ScaleOutOptions.Invariant($"llamanas-{Manifest.Id[..12]}-a{Attempt}");

    /// <summary>The manifest's path relative to the shared folder, with '/' (how a pod's mount finds it).</summary>
    public string RelativeManifest => Path.GetRelativePath(SharedRoot, ManifestPath).Replace('\\', '/');
}

/// <summary>Starts the given shards of a job and returns once they have all finished, whether or not they succeeded (the results decide).</summary>
public interface IShardLauncher
{
    void Run(ShardJob job, IReadOnlyList<int> shards, TextWriter progress, CancellationToken cancel);
}

public static class ShardLaunchers
{
    public static IShardLauncher Create(ScaleOutOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var worker = options.ResolveWorkerCommand();
        return options.Mode switch
        {
            ScaleOutMode.Processes => new ProcessLauncher(worker),
            ScaleOutMode.Slurm => new SlurmLauncher(worker, options.SlurmOptions),
            ScaleOutMode.Kubernetes => new KubernetesLauncher(worker, options.Kubernetes, options.PollSeconds),
            _ => throw ScaleOutOptions.Invalid("--evaluation", "local evaluation launches no shards."),
        };
    }

    /// <summary>
    /// Runs a scheduler command to its end; LNAS1206 when it is not installed. When <paramref name="cancel"/> fires, the
    /// command is stopped and <paramref name="cancelled"/> sees what it printed so far (e.g. to cancel a submitted job).
    /// </summary>
    internal static (int Code, string Out, string Err) Command(string file, IReadOnlyList<string> args, CancellationToken cancel, Action<string>? cancelled = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
            {
                stdout.Append(e.Data).Append('\n');
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.Append(e.Data).Append('\n');
            }
        };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new LlamaNasException(DiagnosticCodes.ShardLaunchFailed, $"{file} could not be started ({e.Message}); run the search where {file} is on PATH (a login node), or use another --evaluation mode.", new DiagnosticLocation(file), e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            process.WaitForExitAsync(cancel).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);

            // Bounded, and not waiting for the output's end: a grandchild that escaped the kill may hold the pipe open.
            process.WaitForExit(5000);
            lock (stdout)
            {
                cancelled?.Invoke(stdout.ToString());
            }

            throw;
        }

        // The parameterless wait also drains the asynchronous readers.
        process.WaitForExit();
        return (process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs a clean-up command (scancel, kubectl delete) after a cancellation, best effort: the cancellation is what gets reported.</summary>
    internal static void CleanUp(string file, IReadOnlyList<string> args, TextWriter progress)
    {
        try
        {
            var (code, _, err) = Command(file, args, CancellationToken.None);
            progress.WriteLine(code == 0 ? $"{file} {string.Join(' ', args)}: done" : $"{file} {string.Join(' ', args)} failed: {err.Trim()}");
        }
        catch (LlamaNasException e)
        {
            progress.WriteLine(e.Diagnostic.ToString());
        }
    }

    /// <summary>The worker's shell command line for a job (index from <paramref name="shard"/>, else the scheduler's environment).</summary>
    internal static string WorkerLine(string worker, string manifest, ShardJob job, int? shard) =>
        shard is { } i
            ? ScaleOutOptions.Invariant($"{worker} evaluate-shard {Shell.Quote(manifest)} --shard {i}/{job.Shards}")
            : ScaleOutOptions.Invariant($"{worker} evaluate-shard {Shell.Quote(manifest)} --shard-count {job.Shards}");
}

/// <summary>
/// Worker processes on this machine, all shards at once; each one's output goes to <c>logs/shard-i.attempt-a.log</c>
/// beside the manifest. Each keeps the default thread count (the machine's cores), as the search's own process
/// does: on the CPU the number of threads can change a sum's last bits, so fewer threads per worker would trade
/// byte-identical results for less contention.
/// </summary>
public sealed class ProcessLauncher(string worker) : IShardLauncher
{
    /// <summary>Called with each started process, its shard and attempt (e.g. to watch or stop it).</summary>
    public Action<Process, int, int>? Started { get; init; }

    public void Run(ShardJob job, IReadOnlyList<int> shards, TextWriter progress, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(shards);
        ArgumentNullException.ThrowIfNull(progress);
        Directory.CreateDirectory(job.LogsFolder);
        var running = new List<(int Shard, Process Process, string Log)>();
        try
        {
            foreach (var shard in shards)
            {
                var log = Path.Combine(job.LogsFolder, ScaleOutOptions.Invariant($"shard-{shard}.attempt-{job.Attempt}.log"));
                var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };

                info.ArgumentList.Add("-c");
                info.ArgumentList.Add($"exec {ShardLaunchers.WorkerLine(worker, job.ManifestPath, job, shard)} >{Shell.Quote(log)} 2>&1");
                var process = Process.Start(info)!;
                running.Add((shard, process, log));
                Started?.Invoke(process, shard, job.Attempt);
            }

            foreach (var (shard, process, log) in running)
            {
                process.WaitForExitAsync(cancel).GetAwaiter().GetResult();
                if (process.ExitCode != 0)
                {
                    progress.WriteLine(ScaleOutOptions.Invariant($"shard {shard}/{job.Shards} exited with code {process.ExitCode}; its log: {log}"));
                }
            }
        }
        catch (OperationCanceledException)
        {
            foreach (var (_, process, _) in running.Where(r => !r.Process.HasExited))
            {
                process.Kill(entireProcessTree: true);
            }

            throw;
        }
        finally
        {
            foreach (var (_, process, _) in running)
            {
                process.Dispose();
            }
        }
    }
}

/// <summary>
/// A Slurm job array: writes <c>shards.sbatch</c> beside the manifest (<see cref="Script"/>) and submits it with
/// <c>sbatch --wait --array=…</c> for the shards asked for, which returns when every array task has ended.
/// </summary>
public sealed class SlurmLauncher(string worker, string sbatchOptions) : IShardLauncher
{
    public const string ScriptName = "shards.sbatch";

    /// <summary>The job script: the user's #SBATCH options, one array task per shard, the worker reading SLURM_ARRAY_TASK_ID.</summary>
    public string Script(ShardJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var sb = new StringBuilder("#!/bin/bash\n");
        sb.Append("# Generated by llamanas for one work manifest of a sharded search (the path on the last line): one array\n");
        sb.Append("# task per shard, each measuring the manifest items of its SLURM_ARRAY_TASK_ID. llamanas submits it with\n");
        sb.Append("# sbatch --wait --array=<shards> and writes one per manifest; set your cluster's options with --slurm-options\n");
        sb.Append("# (SearchSlurmOptions in a .nasproj).\n");
        sb.Append(ScaleOutOptions.Invariant($"#SBATCH --job-name=llamanas-{job.Manifest.Id[..12]}\n"));
        sb.Append(ScaleOutOptions.Invariant($"#SBATCH --array=0-{job.Shards - 1}\n"));
        sb.Append(ScaleOutOptions.Invariant($"#SBATCH --output={job.LogsFolder}/shard-%a.log\n"));
        foreach (var option in sbatchOptions.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            sb.Append("#SBATCH ").Append(option).Append('\n');
        }

        sb.Append("set -euo pipefail\n");
        sb.Append("exec ").Append(ShardLaunchers.WorkerLine(worker, job.ManifestPath, job, shard: null)).Append('\n');
        return sb.ToString();
    }

    public void Run(ShardJob job, IReadOnlyList<int> shards, TextWriter progress, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(shards);
        ArgumentNullException.ThrowIfNull(progress);
        Directory.CreateDirectory(job.LogsFolder);
        var script = Path.Combine(job.Folder, ScriptName);
        AtomicFile.WriteAllText(script, Script(job));
        var array = string.Join(',', shards);
        var output = ScaleOutOptions.Invariant($"--output={job.LogsFolder}/shard-%a.attempt-{job.Attempt}.log");
        progress.WriteLine($"sbatch: {job.Manifest.Label}, array tasks {array} of {job.Shards} ({script})");
        // On cancellation the array is cancelled too, so no task keeps a GPU for a search that has stopped.
        var (code, stdout, stderr) = ShardLaunchers.Command("sbatch", ["--parsable", "--wait", $"--array={array}", output, script], cancel, printed =>
        {
            if (JobId(printed) is { } id)
            {
                ShardLaunchers.CleanUp("scancel", [id], progress);
            }
        });
        var jobId = JobId(stdout);
        if (jobId is null)
        {
            throw new LlamaNasException(DiagnosticCodes.ShardLaunchFailed, $"sbatch did not accept {ScriptName} (exit code {code}): {stderr.Trim()}", new DiagnosticLocation(script));
        }

        progress.WriteLine(ScaleOutOptions.Invariant($"sbatch: job {jobId} ended (exit code {code})"));
    }

    /// <summary>The job id <c>sbatch --parsable</c> prints first (<c>id</c> or <c>id;cluster</c>).</summary>
    private static string? JobId(string printed) =>
        printed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()?.Split(';')[0];
}
