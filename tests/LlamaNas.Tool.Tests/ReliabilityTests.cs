using System.Diagnostics;
using System.Text.Json.Nodes;
using LlamaNas.Core.IO;
using LlamaNas.Engine.Training;
using LlamaNas.TestSupport;
using static LlamaNas.Tool.Tests.CliRunner;

namespace LlamaNas.Tool.Tests;

/// <summary>What users get for broken inputs, a second writer on one folder, and bugs: one coded line, never a stack trace.</summary>
public sealed class ReliabilityTests : IDisposable
{
    private static readonly string Stories = SharedData.Stories260K;
    private static readonly string Train = SharedData.Path("data", "tinystories", "train-v1-head.txt");

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Inspect_of_a_config_with_a_lone_surrogate_is_a_coded_error()
    {
        var model = CopyOfStories("bad-text");
        var config = Path.Combine(model, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"silu\"", "\"\\ud800\"", StringComparison.Ordinal));
        var (rc, _, err) = await Run("inspect", model);
        Assert.Equal(1, rc);
        Assert.Matches(@"config\.json\(16,17\): error LNAS0112: a string value in config\.json is not valid text", err);
    }

    [Fact]
    public async Task Generate_with_a_tokenizer_larger_than_the_embedding_is_LNAS0310_naming_both_sizes()
    {
        var model = CopyOfStories("big-tokenizer");
        File.Delete(Path.Combine(model, "tokenizer.model"));
        File.Delete(Path.Combine(model, "tokenizer_config.json"));
        File.Copy(SharedData.Path("models", "smollm2-135m", "tokenizer.json"), Path.Combine(model, "tokenizer.json"));
        var (rc, _, err) = await Run("generate", model, "--max-new-tokens", "5");
        Assert.Equal(1, rc);
        Assert.Contains("error LNAS0310: the tokenizer has 49152 token ids but the model's embedding has 512 rows", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Evaluate_of_a_model_with_rope_theta_0_is_refused_instead_of_printing_NaN()
    {
        var model = CopyOfStories("rope-theta-0");
        var config = Path.Combine(model, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"rope_theta\": 10000.0", "\"rope_theta\": 0", StringComparison.Ordinal));
        var text = _dir.Write("story.txt", "Once upon a time, there was a little girl named Lily.");
        var (rc, output, err) = await Run("evaluate", model, "--perplexity", text);
        Assert.Equal(1, rc);
        Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
        Assert.Contains("error LNAS0203: config.json field 'rope_theta' is 0; it must be > 0. [rope_theta]", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_internal_error_is_one_coded_line_exit_70_and_a_log_with_the_stack()
    {
        using var error = new StringWriter();
        var logs = _dir.File("logs");
        Exception bug;
        try
        {
            throw new InvalidOperationException("a bug\non two lines");
        }
        catch (InvalidOperationException e)
        {
            bug = e;
        }

        var rc = await InternalError.ReportAsync(bug, ["inspect", "x"], error, logs);
        Assert.Equal(70, rc);
        var line = Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^llamanas: error LNAS0190: internal error \(InvalidOperationException: a bug on two lines\); details in .*/logs/internal-error-\d{8}-\d{6}-\d+\.log\.", line);
        var log = File.ReadAllText(Assert.Single(Directory.GetFiles(logs)));
        Assert.StartsWith("llamanas inspect x\n", log, StringComparison.Ordinal);
        Assert.Contains(nameof(An_internal_error_is_one_coded_line_exit_70_and_a_log_with_the_stack), log, StringComparison.Ordinal);
    }

    /// <summary>
    /// Two identical finetune processes on one folder: one runs, the other fails at once naming it. After a SIGKILL
    /// of the holder its lock is stale, and a --resume run takes it over and finishes with a complete log.
    /// </summary>
    [Fact]
    public async Task Two_finetune_processes_on_one_folder_one_runs_the_other_is_refused_and_a_killed_holders_lock_is_taken_over()
    {
        var output = _dir.File("shared-output");
        string[] args = ["finetune", Stories, "--data", Train, "--batch-size", "8", "--seq-len", "256", "--seed", "3", "--steps", "16", "--checkpoint-every", "2", "--log-every", "100", "--threads", "1", "--output", output];
        using var a = new ToolProcess(args);
        using var b = new ToolProcess(args);

        var clock = Stopwatch.StartNew();
        while (!a.HasExited && !b.HasExited)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "neither process was refused");
            await Task.Delay(20);
        }

        var (loser, holder) = a.HasExited ? (a, b) : (b, a);
        var refusal = await loser.ErrorAsync();
        Assert.Equal(1, loser.ExitCode);
        Assert.Contains("error LNAS0111: the output folder is in use by 'llamanas finetune", refusal, StringComparison.Ordinal);
        Assert.Contains($"(pid {holder.Id} on {Environment.MachineName}", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", refusal, StringComparison.Ordinal);

        // The holder goes on past a checkpoint (its steps, on one thread whatever the machine, outlast the refusal);
        // then it is killed without a chance to release its lock.
        var log = Path.Combine(output, SupernetFineTuning.LogFile);
        while (GrowingFile.Lines(log) < 3)
        {
            if (holder.HasExited)
            {
                Assert.Fail("the holder stopped: " + await holder.ErrorAsync());
            }

            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(4), "the holder made no progress");
            await Task.Delay(20);
        }

        Assert.False(holder.HasExited, $"the holder finished before it could be killed ({GrowingFile.Lines(log)} steps logged)");
        holder.Kill();
        await holder.WaitForExitAsync();
        Assert.True(File.Exists(Path.Combine(output, OutputLock.FileName)));

        var resumed = await Run([.. args, "--resume"]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Matches(@"resumed at step [1-9]\d* from ", resumed.Out);
        Assert.Equal(Enumerable.Range(1, 16), File.ReadLines(log).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<int>()));
        Assert.False(File.Exists(Path.Combine(output, OutputLock.FileName)));
    }

    private string CopyOfStories(string name)
    {
        var copy = _dir.File(name);
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Stories))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        return copy;
    }

    /// <summary>
    /// The tool as its own process, its output collected line by line: a pipe may outlive the process that wrote it
    /// (a process started beside it can inherit it), so waiting for the end of a stream could wait for the other run.
    /// </summary>
    private sealed class ToolProcess : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _error = new();

        public ToolProcess(string[] args)
        {
            _process = new Process { StartInfo = new ProcessStartInfo("dotnet", [typeof(Cli).Assembly.Location, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true } };
            _process.ErrorDataReceived += (_, e) =>
            {
                lock (_error)
                {
                    _error.AppendLine(e.Data);
                }
            };
            _process.OutputDataReceived += (_, _) => { };
            _process.Start();
            _process.BeginErrorReadLine();
            _process.BeginOutputReadLine();
        }

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.ExitCode;

        public int Id => _process.Id;

        /// <summary>Stderr so far, once the process has exited or a line has come (up to 10 s).</summary>
        public async Task<string> ErrorAsync()
        {
            for (var i = 0; i < 500 && Error().Length == 0; i++)
            {
                await Task.Delay(20);
            }

            return Error();
        }

        public void Kill() => _process.Kill();

        public Task WaitForExitAsync() => _process.WaitForExitAsync();

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            _process.Dispose();
        }

        private string Error()
        {
            lock (_error)
            {
                return _error.ToString();
            }
        }
    }
}
