using System.Text.Json.Nodes;
using LlamaNas.Pipeline.Build;
using LlamaNas.Pipeline.Search;
using LlamaNas.TestSupport;

namespace LlamaNas.Tool.Tests;

/// <summary><c>llamanas build</c> as the SDK's targets call it: canonical diagnostics, exit codes, the plan step's key files.</summary>
public sealed class BuildCommandTests
{
    [Fact]
    public async Task Project_errors_are_canonical_lines_on_stderr_with_exit_code_1()
    {
        using var dir = new TempDir();
        var project = dir.Write("bad.nasproj", $"""
            <Project Sdk="LlamaNas.Sdk/0.1.0">
              <PropertyGroup>
                <BaseModel>{SharedData.Stories260K}</BaseModel>
                <SelfGeneratedData>true</SelfGeneratedData>
                <Sed>3</Sed>
                <SizeBudget>2</SizeBudget>
              </PropertyGroup>
            </Project>
            """);
        var (code, output, error) = await CliRunner.Run("build", project, "--stage", "plan");
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Equal(
            [$"{project}(5,5): error LNAS1001: unknown property 'Sed'; did you mean 'Seed'?", $"{project}(6,5): error LNAS1003: SizeBudget is '2'; expected a number > 0 and ≤ 1."],
            error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.False(Directory.Exists(dir.File("obj")));
    }

    [Fact]
    public async Task Plan_writes_every_stage_key_and_a_warning_does_not_fail_the_build()
    {
        using var dir = new TempDir();
        var project = dir.Write("ok.nasproj", $"""
            <Project Sdk="LlamaNas.Sdk/0.1.0">
              <PropertyGroup>
                <BaseModel>{SharedData.Stories260K}</BaseModel>
                <SelfGeneratedData>true</SelfGeneratedData>
                <Colour>blue</Colour>
              </PropertyGroup>
            </Project>
            """);
        var (code, _, error) = await CliRunner.Run("build", project, "--stage", "plan", "--configuration", "Release");
        Assert.Equal(0, code);
        Assert.StartsWith($"{project}(5,5): warning LNAS1002: property 'Colour' is not a llamanas setting", error, StringComparison.Ordinal);
        foreach (var stage in StageNames.All)
        {
            Assert.Matches("^[0-9a-f]{64}\n$", File.ReadAllText(dir.File(Path.Combine("obj", "Release", "llamanas", stage + ".key"))));
        }

        var (unknown, _, stageError) = await CliRunner.Run("build", project, "--stage", "compile");
        Assert.Equal((1, true), (unknown, stageError.Contains("error LNAS1100: unknown stage 'compile'", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_built_model_reproduces_through_evaluate_the_perplexity_recorded_in_pareto_json()
    {
        using var dir = new TempDir();
        var project = dir.Write(TinyProject.FileName, TinyProject.Text(evaluations: 8, extraProperties: "\n    <GgufType>none</GgufType>"));
        var (code, output, error) = await CliRunner.Run("build", project);
        Assert.True(code == 0, error);
        Assert.Contains($"llamanas: model -> {dir.File(Path.Combine("bin", "Debug", "model"))}", output, StringComparison.Ordinal);

        var pareto = ParetoDocument.Load(dir.File(Path.Combine("bin", "Debug", "pareto.json")));
        var selection = Selection.Load(dir.File(Path.Combine("obj", "Debug", "llamanas", "selection.json")));
        var recorded = Assert.Single(pareto.Front, e => e.Index == selection.Selected.Index).Metrics["perplexity:heldout.txt"];
        var results = dir.File("results.json");
        var (evaluated, _, evaluateError) = await CliRunner.Run("evaluate", dir.File(Path.Combine("bin", "Debug", "model")), "--perplexity", dir.File(Path.Combine("obj", "Debug", "llamanas", "data", "heldout.txt")), "--output", results);
        Assert.True(evaluated == 0, evaluateError);
        var measured = JsonNode.Parse(File.ReadAllText(results))!["results"]!["heldout.txt"]!["token_perplexity"]!.GetValue<double>();
        Assert.InRange(measured, recorded * (1 - 1e-5), recorded * (1 + 1e-5));
    }
}
