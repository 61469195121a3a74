using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LlamaNas.Engine.Training;
using LlamaNas.TestSupport;
using static LlamaNas.Tool.Tests.CliRunner;

namespace LlamaNas.Tool.Tests;

/// <summary>The finetune verb end to end on stories260K and TinyStories: outputs every verb loads, resume, coded errors.</summary>
public sealed class FinetuneCommandTests : IDisposable
{
    private static readonly string Stories = SharedData.Stories260K;
    private static readonly string Train = SharedData.Path("data", "tinystories", "train-v1-head.txt");
    private static readonly string Valid = SharedData.Path("data", "tinystories", "valid-head-a.txt");

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string[] Finetune(string output, params string[] extra) =>
        ["finetune", Stories, "--data", Train, "--batch-size", "2", "--seq-len", "32", "--lr", "2e-3", "--warmup", "2", "--seed", "3", "--output", output, .. extra];

    [Fact]
    public async Task Fine_tunes_stories260K_into_a_super_network_that_evaluate_generate_and_inspect_load()
    {
        var output = _dir.File("supernet");
        var (rc, stdout, stderr) = await Run(Finetune(output, "--strategy", "sandwich", "--steps", "4", "--permute", "--calibration-batches", "2", "--log-every", "2", "--depths", "3,4,5", "--mlp", "86,129,172"));
        Assert.True(rc == 0, stderr);
        Assert.Matches(@"step 2/4  loss \d+\.\d{4}  lr [\d.E+-]+  grad \d+\.\d{3}  \d+ tok/s  ETA \d\d:\d\d:\d\d  \[full; depth=", stdout);
        Assert.Matches(@"block importance \(cosine distance input→output; reported, not reordered\): 0: \d\.\d{4}, 1: .*, 4: \d\.\d{4}", stdout);

        Assert.Equal(
            ["checkpoints", "config.json", "model.safetensors", "supernet.json", "tokenizer.model", "tokenizer_config.json", "train_log.jsonl"],
            Directory.EnumerateFileSystemEntries(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Stories, "tokenizer.model")), File.ReadAllBytes(Path.Combine(output, "tokenizer.model")));

        var supernet = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "supernet.json")))!;
        Assert.Equal("sandwich", supernet["strategy"]!.GetValue<string>());
        Assert.StartsWith("sandwich(random=2; seed=3; space=", supernet["schedule"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal([3, 4, 5], supernet["space"]!["depths"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal([86, 129, 172], supernet["space"]!["mlp"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal(4, supernet["steps"]!.GetValue<int>());
        Assert.Equal(3, supernet["seed"]!.GetValue<int>());
        Assert.Equal(Path.GetFullPath(Stories), supernet["base_model"]!["path"]!.GetValue<string>());
        Assert.Equal(Sha256(Path.Combine(Stories, "config.json"), Path.Combine(Stories, "model.safetensors")), supernet["base_model"]!["fingerprint"]!.GetValue<string>());
        Assert.Equal(Sha256(Train), supernet["data"]!["fingerprint"]!.GetValue<string>());
        Assert.Equal(5, supernet["importance"]!["block_scores"]!.AsArray().Count);
        Assert.False(string.IsNullOrEmpty(supernet["engine"]!.GetValue<string>()));

        var log = File.ReadAllLines(Path.Combine(output, "train_log.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal([1, 2, 3, 4], log.Select(e => e["step"]!.GetValue<int>()));
        Assert.All(log, e =>
        {
            Assert.Equal(4, e["subnetworks"]!.AsArray().Count); // largest, 2 random, smallest
            Assert.Equal("depth=3 mlp=86", e["subnetworks"]![3]!.GetValue<string>());
            Assert.Equal(4, e["losses"]!.AsArray().Count);
            Assert.InRange(e["loss"]!.GetValue<double>(), 0.5, 4);
            Assert.True(e["lr"]!.GetValue<double>() > 0 && e["grad_norm"]!.GetValue<double>() > 0 && e["tokens_per_s"]!.GetValue<double>() > 0);
            Assert.Equal(64, e["tokens"]!.GetValue<int>());
        });

        var text = _dir.Write("valid.txt", File.ReadAllText(Valid)[..4000]);
        var evaluate = await Run("evaluate", output, "--perplexity", text);
        Assert.True(evaluate.Code == 0, evaluate.Err);
        Assert.Matches(@"\| valid\.txt \| 0 \| token_perplexity \| \d+\.\d{4} \|", evaluate.Out);
        var generate = await Run("generate", output, "--prompt", "Once upon a time", "--max-new-tokens", "20");
        Assert.True(generate.Code == 0, generate.Err);
        Assert.StartsWith("Once upon a time", generate.Out, StringComparison.Ordinal);
        var inspect = await Run("inspect", output);
        Assert.True(inspect.Code == 0, inspect.Err);
        Assert.Contains("parameters    260,032", inspect.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Killing_the_process_and_resuming_gives_the_uninterrupted_model_and_log()
    {
        string[] settings = ["--strategy", "instatune", "--steps", "80", "--checkpoint-every", "5", "--log-every", "100"];
        var straight = _dir.File("straight");
        var reference = await Run(Finetune(straight, settings));
        Assert.True(reference.Code == 0, reference.Err);

        // Run the tool as its own process and SIGKILL it past its first checkpoint (step 5), mid-run.
        var killed = _dir.File("killed");
        var log = Path.Combine(killed, SupernetFineTuning.LogFile);
        using (var process = Process.Start(new ProcessStartInfo("dotnet", [typeof(Cli).Assembly.Location, .. Finetune(killed, settings)]) { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            var timeout = Stopwatch.StartNew();
            while (GrowingFile.Lines(log) < 7)
            {
                if (process.HasExited)
                {
                    Assert.Fail("the run finished before it could be killed: " + await process.StandardError.ReadToEndAsync());
                }

                Assert.True(timeout.Elapsed < TimeSpan.FromMinutes(3), "the run made no progress");
                await Task.Delay(10);
            }

            process.Kill();
            await process.WaitForExitAsync();
        }

        Assert.InRange(GrowingFile.Lines(log), 7, 79);
        Assert.False(File.Exists(Path.Combine(killed, "model.safetensors")));

        var resumed = await Run(Finetune(killed, [.. settings, "--resume"]));
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Matches(@"resumed at step [1-7]?[05] from ", resumed.Out);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));
        Assert.Equal(TrainingLog.WithoutTimings(Path.Combine(straight, SupernetFineTuning.LogFile)), TrainingLog.WithoutTimings(log));
        Assert.Equal(80, File.ReadAllLines(log).Length);

        // Resuming a finished run redoes nothing and leaves the same model.
        var again = await Run(Finetune(killed, [.. settings, "--resume"]));
        Assert.True(again.Code == 0, again.Err);
        Assert.Contains("resumed at step 80", again.Out, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));
    }

    [Fact]
    public async Task Ctrl_c_saves_a_checkpoint_at_the_last_finished_step_and_exits_with_130()
    {
        var output = _dir.File("interrupted");
        var log = Path.Combine(output, SupernetFineTuning.LogFile);
        var info = new ProcessStartInfo("dotnet", [typeof(Cli).Assembly.Location, .. Finetune(output, "--steps", "100000", "--log-every", "1")]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var waited = Stopwatch.StartNew();
        while (GrowingFile.Lines(log) < 3 && !process.HasExited && waited.Elapsed < TimeSpan.FromMinutes(3))
        {
            Thread.Sleep(20);
        }

        using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await interrupt.WaitForExitAsync();
        }

        await process.WaitForExitAsync();
        var printed = await stdout + await stderr;
        Assert.True(process.ExitCode == Cli.CancelledExitCode, printed);
        var step = int.Parse(System.Text.RegularExpressions.Regex.Match(printed, @"interrupted after step (\d+); saved a checkpoint").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Directory.Exists(Path.Combine(output, "checkpoints", $"step-{step:D7}")), printed);
    }

    [Fact]
    public async Task Lora_fine_tuning_checkpoints_only_adapters_and_exports_merged_base_shaped_weights()
    {
        var output = _dir.File("lora");
        var (rc, stdout, stderr) = await Run(Finetune(output, "--steps", "4", "--lora-rank", "4", "--lora-alpha", "8"));
        Assert.True(rc == 0, stderr);
        Assert.Contains("lora(rank=4; alpha=8; dropout=0.05): ", stdout, StringComparison.Ordinal);

        using (var checkpoint = Engine.Checkpoints.SafetensorsFile.Open(Path.Combine(output, "checkpoints", "step-0000004", "model.safetensors")))
        {
            Assert.All(checkpoint.Tensors, t => Assert.Matches(@"\.lora_[AB]$", t.Name));
            Assert.Equal(2 * ((5 * 7) + 1), checkpoint.Tensors.Count);
        }

        using (var exported = Engine.Checkpoints.LlamaCheckpoint.Open(output))
        using (var original = Engine.Checkpoints.LlamaCheckpoint.Open(Stories))
        {
            Assert.Equal(original.Tensors.Keys.Order(StringComparer.Ordinal), exported.Tensors.Keys.Order(StringComparer.Ordinal));
        }

        Assert.NotEqual(File.ReadAllBytes(Path.Combine(Stories, "model.safetensors")), File.ReadAllBytes(Path.Combine(output, "model.safetensors")));
        var lora = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "supernet.json")))!["lora"]!;
        Assert.Equal(4, lora["rank"]!.GetValue<int>());
        Assert.True(lora["merged"]!.GetValue<bool>());
        var generate = await Run("generate", output, "--max-new-tokens", "10");
        Assert.True(generate.Code == 0, generate.Err);
    }

    [Fact]
    public async Task Alpaca_records_train_on_their_responses()
    {
        var output = _dir.File("alpaca");
        var alpaca = SharedData.Path("data", "alpaca", "alpaca_small_2000_subset.json");
        var (rc, stdout, stderr) = await Run("finetune", Stories, "--data", alpaca, "--seq-len", "256", "--batch-size", "2", "--steps", "2", "--strategy", "grid-params", "--output", output);
        Assert.True(rc == 0, stderr);
        Assert.Matches(@"data: \d+ rows of 256 tokens \(alpaca\)", stdout);
        var data = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "supernet.json")))!["data"]!;
        Assert.Equal("alpaca", data["format"]!.GetValue<string>());
        Assert.InRange(data["rows"]!.GetValue<int>(), 1000, 2000); // one padded row per record that keeps a response token
    }

    [Fact]
    public async Task Bad_settings_and_reused_outputs_are_coded_errors()
    {
        var output = _dir.File("run");
        var unknown = await Run(Finetune(output, "--strategy", "biggest-first", "--steps", "2"));
        Assert.Equal(1, unknown.Code);
        Assert.Contains("error LNAS0724", unknown.Err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));

        var badSpace = await Run(Finetune(output, "--steps", "2", "--mlp", "86,x"));
        Assert.Contains("error LNAS0532", badSpace.Err, StringComparison.Ordinal);
        var tooDeep = await Run(Finetune(output, "--steps", "2", "--depths", "3,9"));
        Assert.Contains("error LNAS0503", tooDeep.Err, StringComparison.Ordinal);
        var format = await Run(Finetune(output, "--steps", "2", "--format", "csv"));
        Assert.Contains("error LNAS0704", format.Err, StringComparison.Ordinal);

        var first = await Run(Finetune(output, "--steps", "2", "--strategy", "grid-params", "--grid-bins", "4"));
        Assert.True(first.Code == 0, first.Err);
        var grid = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "supernet.json")))!["grid"]!.AsArray();
        Assert.Equal(4, grid.Count);
        var reused = await Run(Finetune(output, "--steps", "2", "--strategy", "grid-params", "--grid-bins", "4"));
        Assert.Equal(1, reused.Code);
        Assert.Contains("error LNAS0725", reused.Err, StringComparison.Ordinal);
        var changed = await Run(Finetune(output, "--steps", "2", "--strategy", "grid-params", "--grid-bins", "5", "--resume"));
        Assert.Equal(1, changed.Code);
        Assert.Contains("error LNAS0722", changed.Err, StringComparison.Ordinal);
    }

    private static string Sha256(params string[] files) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData([.. files.SelectMany(File.ReadAllBytes)]));
}
