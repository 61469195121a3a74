using System.Diagnostics;
using LlamaNas.Pipeline.ScaleOut;
using LlamaNas.TestSupport;

namespace LlamaNas.Tool.Tests.ScaleOut;

/// <summary>The search's single-process result, computed once for the class: every sharded run must reproduce it byte for byte.</summary>
public sealed class SingleProcessSearch : IDisposable
{
    public SingleProcessSearch()
    {
        // A few hundred tokens of held-out TinyStories: enough to rank sub-networks, quick to score.
        Text = Dir.Write("valid.txt", File.ReadAllText(SharedData.Path("data", "tinystories", "valid-head-a.txt"))[..2500]);
        Output = Dir.File("local");

        // As its own process, like the workers: libtorch's thread count in this test process depends on which tests
        // ran before (--threads), and the thread count can change a sum's last bits.
        var (code, _, error) = ToolProcess.Run(Args(Output)).GetAwaiter().GetResult();
        Assert.True(code == 0, error);
    }

    public TempDir Dir { get; } = new();

    public string Text { get; }

    public string Output { get; }

    public string[] Args(string output, params string[] more) =>
    [
        "search", SharedData.Stories260K, "--objectives", "perplexity,size", "--perplexity-text", Text, "--perplexity-tokens", "300",
        "--evaluations", "10", "--population", "4", "--inner-generations", "20", "--seed", "7", "--quantization", "int8", "--output", output, .. more,
    ];

    public void Dispose() => Dir.Dispose();
}

/// <summary>
/// The search with its evaluations sharded over real worker processes (<c>llamanas evaluate-shard</c>) through each
/// launcher: local processes, a Slurm job array (sbatch --wait) and a Kubernetes Indexed Job (kubectl), the last two
/// through stand-ins that run the generated job here as the scheduler would.
/// </summary>
public sealed class ScaleOutSearchTests(SingleProcessSearch local) : IClassFixture<SingleProcessSearch>, IDisposable
{
    private static readonly string[] Deterministic = ["evaluations.csv", "pareto.json", "history.csv"];

    private readonly TempDir _dir = new();

    private static string Tool => ToolProcess.Tool;

    private static string Worker => $"dotnet {Tool}";

    public void Dispose() => _dir.Dispose();

    private void AssertSameAsLocal(string output)
    {
        foreach (var file in Deterministic)
        {
            Assert.Equal(File.ReadAllText(Path.Combine(local.Output, file)), File.ReadAllText(Path.Combine(output, file)));
            Assert.Equal(File.ReadAllBytes(Path.Combine(local.Output, file)), File.ReadAllBytes(Path.Combine(output, file)));
        }
    }

    private static string[] Files(string folder, string pattern) =>
        Directory.Exists(folder) ? [.. Directory.GetFiles(folder, pattern, SearchOption.AllDirectories).Order(StringComparer.Ordinal)] : [];

    [Fact]
    public async Task Worker_processes_reproduce_the_single_process_search_and_a_rerun_reuses_their_results()
    {
        var shared = _dir.File("shared");
        var output = _dir.File("sharded");
        var (code, _, error) = await ToolProcess.Run(local.Args(output, "--evaluation", "processes", "--workers", "2", "--shared-dir", shared, "--worker-command", Worker));
        Assert.True(code == 0, error);
        AssertSameAsLocal(output);

        // One manifest per batch, plus the reference point and the INT8 re-ranking; every item has its result file.
        var manifests = Files(shared, WorkManifest.FileName).Select(WorkManifest.Load).ToList();
        Assert.Equal(["int8", "reference"], manifests.Select(m => m.Label).Where(l => !l.StartsWith("batch-", StringComparison.Ordinal)).Order());
        Assert.Equal(10, manifests.Where(m => m.Label.StartsWith("batch-", StringComparison.Ordinal)).Sum(m => m.Items.Count));
        Assert.Equal(manifests.Sum(m => m.Items.Count), Files(shared, "?????.json").Length);
        Assert.DoesNotContain(Files(shared, "*.log"), l => l.Contains("attempt-2", StringComparison.Ordinal));

        // The same search again (a driver restarted after a crash): every result is found, no worker is started.
        var logs = Files(shared, "*.log").Length;
        var again = _dir.File("again");
        var rerun = await ToolProcess.Run(local.Args(again, "--evaluation", "processes", "--workers", "2", "--shared-dir", shared, "--worker-command", Worker));
        Assert.True(rerun.Code == 0, rerun.Err);
        Assert.Equal(logs, Files(shared, "*.log").Length);
        AssertSameAsLocal(again);
    }

    [Fact]
    public async Task A_killed_worker_is_requeued_and_the_search_ends_the_same()
    {
        // The first worker of any shard 1 is killed (SIGKILL) while it starts up (a worker here takes about 2 s); every later one runs.
        var killer = _dir.Write("kill-first.sh", """
            #!/bin/bash
            if [[ " $* " == *" --shard 1/2 "* ]] && mkdir "$KILL_MARKER" 2>/dev/null; then
              "$@" &
              pid=$!
              sleep 0.5
              kill -9 "$pid"
              wait "$pid"
              exit 137
            fi
            exec "$@"
            """);
        var marker = _dir.File("killed-once");
        var shared = _dir.File("shared");
        var output = _dir.File("sharded");
        var (code, _, error) = await ToolProcess.Run(
            local.Args(output, "--evaluation", "processes", "--workers", "2", "--shared-dir", shared, "--worker-command", $"bash {killer} {Worker}"),
            new Dictionary<string, string> { ["KILL_MARKER"] = marker });
        Assert.True(code == 0, error);
        Assert.True(Directory.Exists(marker), "no worker was killed");
        Assert.Matches(@"warning LNAS1207: \d+ items of [a-z0-9-]+ have no result after attempt 1 \(items [\d, ]+\); shards 1 of 2 run again \(attempt 2 of 3\)\.", error);
        Assert.Single(Files(shared, "shard-1.attempt-2.log"));
        AssertSameAsLocal(output);
    }

    [Fact]
    public async Task A_slurm_job_array_reproduces_the_single_process_search()
    {
        var bin = FakeScheduler("sbatch", """
            #!/bin/bash
            # Stands in for sbatch --parsable --wait: prints a job id, then runs every array task of the script here.
            array=""; output=""; script=""
            for a in "$@"; do
              case "$a" in
                --array=*) array="${a#--array=}" ;;
                --output=*) output="${a#--output=}" ;;
                --parsable|--wait) ;;
                *) script="$a" ;;
              esac
            done
            echo 4242
            echo "$array" >> "$(dirname "$script")/arrays.txt"
            rc=0
            IFS=',' read -ra tasks <<< "$array"
            for t in "${tasks[@]}"; do
              SLURM_ARRAY_JOB_ID=4242 SLURM_ARRAY_TASK_ID="$t" SLURM_ARRAY_TASK_COUNT="${#tasks[@]}" bash "$script" > "${output//%a/$t}" 2>&1 || rc=1
            done
            exit $rc
            """);
        var shared = _dir.File("shared");
        var output = _dir.File("sharded");

        // No --worker-command: the driver runs as the tool itself, so its workers run the same tool.
        var (code, _, error) = await ToolProcess.Run(local.Args(output, "--evaluation", "slurm", "--workers", "3", "--shared-dir", shared, "--slurm-options", "--time=00:10:00"), new Dictionary<string, string> { ["PATH"] = bin });
        Assert.True(code == 0, error);
        AssertSameAsLocal(output);
        var script = File.ReadAllText(Files(shared, SlurmLauncher.ScriptName)[0]);
        Assert.Contains("#SBATCH --time=00:10:00", script, StringComparison.Ordinal);
        Assert.Contains(Tool, script, StringComparison.Ordinal);
        Assert.Contains("0,1,2", Files(shared, "arrays.txt").Select(f => File.ReadAllText(f).Trim()));
    }

    [Fact]
    public async Task A_kubernetes_indexed_job_reproduces_the_single_process_search()
    {
        var shared = _dir.File("shared");
        var bin = FakeScheduler("kubectl", $$"""
            #!/bin/bash
            # Stands in for kubectl: 'apply -f job.yaml' runs the Job's pods here, one per completion index, with the
            # claim mounted at the test's shared folder; 'get job' reports the Job complete.
            set -euo pipefail
            case "$1" in
              apply)
                file="$3"
                n=$(sed -n 's/^  completions: //p' "$file")
                mount=$(sed -n 's/^ *mountPath: "\(.*\)"$/\1/p' "$file")
                manifest=$(sed -n 's/^ *args: \[\(.*\)\]$/\1/p' "$file" | grep -o '"[^"]*"' | sed -n 2p | tr -d '"')
                manifest="{{shared}}${manifest#"$mount"}"
                for ((i = 0; i < n; i++)); do
                  JOB_COMPLETION_INDEX=$i {{Worker}} evaluate-shard "$manifest" --shard-count "$n" > "$(dirname "$file")/pod-$i.log" 2>&1 || true
                done
                echo "job.batch/applied" ;;
              get) echo "Complete" ;;
              *) echo "unexpected kubectl $*" >&2; exit 2 ;;
            esac
            """);
        var output = _dir.File("sharded");
        var (code, _, error) = await ToolProcess.Run(
            local.Args(output, "--evaluation", "kubernetes", "--workers", "2", "--shared-dir", shared, "--k8s-image", "example/llamanas:0.1.0", "--k8s-volume-claim", "nas-shared", "--k8s-mount-path", "/mnt/nas"),
            new Dictionary<string, string> { ["PATH"] = bin });
        Assert.True(code == 0, error);
        AssertSameAsLocal(output);
        Assert.Contains("mountPath: \"/mnt/nas\"", File.ReadAllText(Files(shared, "job-a1.yaml")[0]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_its_scheduler_the_search_says_so()
    {
        var (code, _, error) = await ToolProcess.Run(local.Args(_dir.File("out"), "--evaluation", "slurm", "--shared-dir", _dir.File("shared")), new Dictionary<string, string> { ["PATH"] = _dir.Path });
        Assert.Equal(1, code);
        Assert.Contains("error LNAS1206: sbatch could not be started", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_search_cancels_its_slurm_array()
    {
        // sbatch submits (prints the job id), then waits for an array that never ends; scancel records what it cancels.
        var submitted = _dir.File("submitted");
        var cancelled = _dir.File("cancelled.txt");
        FakeScheduler("scancel", $"#!/bin/bash\necho \"$*\" > {cancelled}\n");
        var bin = FakeScheduler("sbatch", $"#!/bin/bash\nexec 2>>{_dir.File("sbatch.err")}\necho 777\ntouch {submitted}\nexec sleep 300\n");
        var info = new ProcessStartInfo("dotnet", [Tool, .. local.Args(_dir.File("out"), "--evaluation", "slurm", "--shared-dir", _dir.File("shared"))]) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["PATH"] = bin;
        using var driver = Process.Start(info)!;
        var stdout = driver.StandardOutput.ReadToEndAsync();
        var stderr = driver.StandardError.ReadToEndAsync();
        var waited = Stopwatch.StartNew();
        while (!File.Exists(submitted) && !driver.HasExited && waited.Elapsed < TimeSpan.FromMinutes(2))
        {
            Thread.Sleep(50);
        }

        // Ctrl+C, as on a login node.
        using (var interrupt = Process.Start("kill", ["-INT", driver.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            interrupt.WaitForExit();
        }

        Assert.True(driver.WaitForExit(TimeSpan.FromMinutes(1)), "the search did not stop");
        var log = await stderr;
        Assert.True(File.Exists(submitted), "the search never submitted: " + log + string.Join(", ", Directory.GetFileSystemEntries(_dir.Path)) + (File.Exists(_dir.File("sbatch.err")) ? File.ReadAllText(_dir.File("sbatch.err")) : ""));
        Assert.Equal(Cli.CancelledExitCode, driver.ExitCode);
        Assert.Contains("llamanas: cancelled", log, StringComparison.Ordinal);
        Assert.True(File.Exists(cancelled), "scancel was not run: " + log + await stdout);
        Assert.Equal("777", File.ReadAllText(cancelled).Trim());
        Assert.Contains("scancel 777: done", log, StringComparison.Ordinal);
    }

    /// <summary>A folder holding the stand-in <paramref name="name"/>, ahead of the real PATH.</summary>
    private string FakeScheduler(string name, string script)
    {
        var bin = _dir.File("bin");
        var path = _dir.Write(Path.Combine("bin", name), script.ReplaceLineEndings("\n") + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return bin + ":" + Environment.GetEnvironmentVariable("PATH");
    }
}
