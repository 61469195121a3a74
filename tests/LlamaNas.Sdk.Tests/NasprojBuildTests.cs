using LlamaNas.TestSupport;

namespace LlamaNas.Sdk.Tests;

/// <summary>
/// A project made by <c>dotnet new nasproj</c> against the packed SDK, built with real <c>dotnet build</c> processes
/// running the packaged tool on the real stories260K model (with a tiny budget).
/// </summary>
[Collection(PackedSdk.Name)]
public sealed class NasprojBuildTests(SdkPackages packages)
{
    private static readonly string[] AllStages = ["data", "finetune", "search", "select", "export", "report"];

    [Fact]
    public void New_project_builds_then_rebuilds_nothing_reruns_from_search_when_the_search_changes_and_cleans_all_but_the_cache_it_rebuilds_from()
    {
        // A space in every path the build passes to the tool.
        var workspace = packages.Workspace("nas proj");
        packages.New(workspace, "nasproj", "-n", "Shrink", "--base-model", SharedData.Stories260K).ShouldSucceed();
        var dir = Path.Combine(workspace, "Shrink");
        var project = Path.Combine(dir, "Shrink.nasproj");
        var cache = Path.Combine(workspace, "cache");
        Assert.StartsWith($"<Project Sdk=\"LlamaNas.Sdk/{packages.Version}\">", File.ReadAllText(project), StringComparison.Ordinal);
        ProjectFile.SetProperties(project, TinyBudget(cache));

        var first = packages.Run(dir, "build").ShouldSucceed();
        Assert.Equal(AllStages, first.StagesRun);
        var bin = Path.Combine(dir, "bin", "Debug");
        var model = Path.Combine(bin, "model");
        foreach (var file in new[] { "model.safetensors", "config.json" })
        {
            Assert.True(File.Exists(Path.Combine(model, file)), $"{file} missing from {model}:\n{first.Output}");
        }

        foreach (var file in new[] { "report.md", "pareto.json", "evaluations.csv" })
        {
            Assert.True(File.Exists(Path.Combine(bin, file)), $"{file} missing from {bin}:\n{first.Output}");
        }

        Assert.Contains(first.Lines, l => l.Trim().StartsWith("llamanas: model -> ", StringComparison.Ordinal) && l.Contains(model, StringComparison.Ordinal));
        var supernet = Directory.GetFiles(Path.Combine(cache, "supernets"), "*", SearchOption.AllDirectories);
        Assert.NotEmpty(supernet);

        var second = packages.Run(dir, "build").ShouldSucceed();
        Assert.Empty(second.StagesRun);

        ProjectFile.SetProperties(project, new Dictionary<string, string> { ["SearchEvaluations"] = "6" });
        var third = packages.Run(dir, "build").ShouldSucceed();
        Assert.Equal(["search", "select", "export", "report"], third.StagesRun);

        var trainingLog = Directory.GetFiles(Path.Combine(cache, "supernets"), "train_log.jsonl", SearchOption.AllDirectories).Single();
        var trained = File.ReadAllText(trainingLog);
        packages.Run(dir, "clean").ShouldSucceed();
        Assert.Empty(Directory.GetFiles(bin, "*", SearchOption.AllDirectories));
        Assert.False(Directory.Exists(model), "clean left the model folder behind");
        Assert.False(Directory.Exists(Path.Combine(dir, "obj", "Debug", "llamanas")), "clean left the stages' intermediates behind");
        Assert.Equal(supernet, Directory.GetFiles(Path.Combine(cache, "supernets"), "*", SearchOption.AllDirectories));

        // After a clean the model comes back from the cached super-network: it is not trained again.
        var afterClean = packages.Run(dir, "build").ShouldSucceed();
        Assert.Contains("export", afterClean.StagesRun);
        Assert.DoesNotContain("finetune", afterClean.StagesRun);
        Assert.True(File.Exists(Path.Combine(model, "model.safetensors")), afterClean.Output);
        Assert.Equal(trained, File.ReadAllText(trainingLog));
    }

    [Fact]
    public void New_task_project_builds_a_model_for_its_own_task()
    {
        var workspace = packages.Workspace("nastask");
        packages.New(workspace, "nastask", "-n", "quiz", "--base-model", SharedData.Stories260K).ShouldSucceed();
        var dir = Path.Combine(workspace, "quiz");
        var project = Path.Combine(dir, "quiz.nasproj");
        Assert.Equal(["quiz.jsonl", "quiz.nasproj", "quiz.task.json"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains("<TargetTask>quiz.jsonl</TargetTask>", File.ReadAllText(project), StringComparison.Ordinal);
        ProjectFile.SetProperties(project, TinyBudget(Path.Combine(workspace, "cache")));

        // Planning loads the task, so this also proves the template's rows and header are valid.
        var build = packages.Run(dir, "build").ShouldSucceed();
        Assert.Equal(AllStages, build.StagesRun);
        Assert.True(File.Exists(Path.Combine(dir, "bin", "Debug", "model", "model.safetensors")), build.Output);
        Assert.Contains("quiz", File.ReadAllText(Path.Combine(dir, "bin", "Debug", "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void A_project_without_a_version_takes_the_sdk_version_pinned_in_global_json()
    {
        var dir = packages.Workspace("pinned");
        File.WriteAllText(Path.Combine(dir, "global.json"), $$"""
            { "msbuild-sdks": { "LlamaNas.Sdk": "{{packages.Version}}" } }
            """);
        File.WriteAllText(Path.Combine(dir, "Pinned.nasproj"), $"""
            <Project Sdk="LlamaNas.Sdk">
              <PropertyGroup>
                <BaseModel>{SharedData.Stories260K}</BaseModel>
                <SelfGeneratedData>true</SelfGeneratedData>
              </PropertyGroup>
            </Project>
            """);

        packages.Run(dir, "build", "-t:LlamaNasPlan").ShouldSucceed();

        Assert.True(File.Exists(Path.Combine(dir, "obj", "Debug", "llamanas", "report.key")));
    }

    /// <summary>Small enough for about a minute on two cores; the cache in the workspace so clean can be checked.</summary>
    internal static Dictionary<string, string> TinyBudget(string cache) => new()
    {
        ["FineTuneSteps"] = "4",
        ["FineTuneBatchSize"] = "2",
        ["FineTuneSequenceLength"] = "64",
        ["SelfGeneratedSamples"] = "8",
        ["SelfGeneratedHeldOutSamples"] = "4",
        ["SelfGeneratedTokens"] = "64",
        ["SearchEvaluations"] = "4",
        ["SearchPopulation"] = "4",
        ["LlamaNasCacheDirectory"] = cache,
    };
}
