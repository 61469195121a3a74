using LlamaNas.Pipeline.ScaleOut;
using LlamaNas.TestSupport;

namespace LlamaNas.Tool.Tests.ScaleOut;

/// <summary><c>SearchEvaluation</c> in a .nasproj: the build drives a sharded search and builds what the local build builds.</summary>
public sealed class ScaleOutBuildTests
{
    [Fact]
    public async Task A_project_evaluated_by_worker_processes_builds_the_same_model_as_a_local_build()
    {
        using var dir = new TempDir();

        // Both projects share one super-network cache, so the second build restores the first's fine-tuning.
        string Project(string folder, string extra) => dir.Write(
            Path.Combine(folder, TinyProject.FileName),
            TinyProject.Text(evaluations: 8, extraProperties: "\n    <GgufType>none</GgufType>" + extra).Replace("<LlamaNasCacheDirectory>cache</LlamaNasCacheDirectory>", "<LlamaNasCacheDirectory>../cache</LlamaNasCacheDirectory>", StringComparison.Ordinal));
        // Both builds as their own processes, computing with the same thread count as the workers.
        var local = await ToolProcess.Run(["build", Project("local", "")]);
        Assert.True(local.Code == 0, local.Err);

        var sharded = Project("sharded", $"\n    <SearchEvaluation>processes</SearchEvaluation>\n    <SearchWorkers>3</SearchWorkers>\n    <SearchSharedDirectory>../shared</SearchSharedDirectory>\n    <SearchWorkerCommand>dotnet {typeof(Cli).Assembly.Location}</SearchWorkerCommand>");
        var (code, output, error) = await ToolProcess.Run(["build", sharded]);
        Assert.True(code == 0, error);
        Assert.DoesNotContain("stage finetune: running", output, StringComparison.Ordinal);
        foreach (var file in new[] { "bin/Debug/pareto.json", "bin/Debug/evaluations.csv", "bin/Debug/model/model.safetensors", "obj/Debug/llamanas/search/baseline.json" })
        {
            Assert.Equal(File.ReadAllBytes(dir.File(Path.Combine("local", file))), File.ReadAllBytes(dir.File(Path.Combine("sharded", file))));
        }

        // The search, the INT8 re-ranking and both baselines were measured by workers.
        var labels = Directory.GetFiles(dir.File("shared"), WorkManifest.FileName, SearchOption.AllDirectories).Select(m => WorkManifest.Load(m).Label).ToList();
        Assert.Contains("batch-0000", labels);
        Assert.Contains("int8", labels);
        Assert.Equal(2, labels.Count(l => l == "whole"));

        // Where candidates are evaluated is not part of any key: switching back to local rebuilds nothing.
        var again = await ToolProcess.Run(["build", Project("sharded", "")]);
        Assert.True(again.Code == 0, again.Err);
        Assert.DoesNotContain(": running", again.Out, StringComparison.Ordinal);
    }
}
