using System.Text;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Project;
using LlamaNas.TestSupport;

namespace LlamaNas.Core.Tests.Project;

/// <summary>Reading and validating .nasproj files: defaults, evaluated values, and every kind of mistake with its code, line and column.</summary>
public sealed class NasProjectTests
{
    private static readonly string SnapshotFolder = Path.Combine("tests", "LlamaNas.Core.Tests", "Project", "Snapshots");

    private static string Model => SharedData.Stories260K;

    /// <summary>Each case: a name and the body of a project (PropertyGroup and ItemGroup lines), one or more mistakes.</summary>
    public static TheoryData<string, string> Malformed => new()
    {
        { "unknown_property_typo", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>", "<SerachEvaluations>10</SerachEvaluations>") },
        { "unknown_dimension", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>") + Items("<SearchDimension Include=\"MlpWidht\" Choices=\"86;172\" />") },
        { "empty_choices", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>") + Items("<SearchDimension Include=\"Depth\" Choices=\"\" />") },
        { "impossible_choices", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>") + Items("<SearchDimension Include=\"Depth\" Choices=\"3;9\" />", "<SearchDimension Include=\"MlpWidth\" Choices=\"86;x\" />") },
        { "unreachable_budget", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>", "<SizeBudget>0.1</SizeBudget>") + Items("<SearchDimension Include=\"Depth\" Choices=\"4;5\" />") },
        { "missing_files", Props("<BaseModel>no-such-model</BaseModel>", "<HeldOutText>missing.txt</HeldOutText>") + Items("<TrainingData Include=\"missing-train.txt\" />") },
        { "missing_base_model", Props("<TargetTask>arc_easy</TargetTask>", "<FineTune>false</FineTune>") },
        { "bad_values", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>yes</SelfGeneratedData>", "<SearchEvaluations>-3</SearchEvaluations>", "<SizeBudget>1.5</SizeBudget>", "<SearchAlgorithm>linsa</SearchAlgorithm>") },
        { "task_without_data", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>", "<TargetTask>arc_easy</TargetTask>") },
        { "unknown_task", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>", "<TargetTask>arc_eazy</TargetTask>") },
        { "unknown_quantization", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>", "<Quantization>int4</Quantization>") },
        { "conflicting_data", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>") + Items("<TrainingData Include=\"train.txt\" />") },
        { "duplicate_dimension_and_metadata", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>") + Items("<SearchDimension Include=\"Depth\" Choices=\"3;4\" />", "<SearchDimension Include=\"Depth\" Choices=\"4;5\" />", "<SearchDimension Include=\"MlpWidth\" Choices=\"86;172\" PerLayer=\"true\" Choises=\"1\" />") },
        { "not_xml", "<Project>\n  <PropertyGroup>\n    <BaseModel>x</BaseModel>\n  </PropertyGrop>\n</Project>\n" },
        { "scale_out_without_shared_folder", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>", "<SearchEvaluation>slurm</SearchEvaluation>") },
        { "kubernetes_without_image_or_claim", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>", "<SearchEvaluation>kubernetes</SearchEvaluation>", "<SearchSharedDirectory>shared</SearchSharedDirectory>", "<SearchWorkers>0</SearchWorkers>") },
        { "unknown_evaluation_mode", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>", "<SearchEvaluation>slrum</SearchEvaluation>") },
        { "item_type_typo", Props("<BaseModel>{model}</BaseModel>", "<SelfGeneratedData>true</SelfGeneratedData>") + Items("<SearchDimensions Include=\"Depth\" Choices=\"3;4\" />") },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_project_fails_with_codes_lines_and_columns(string name, string body)
    {
        using var dir = new TempDir();
        dir.Write("train.txt", "A story.\n");
        var path = dir.Write("p.nasproj", body.StartsWith("<Project>", StringComparison.Ordinal) ? body : Wrap(body));
        var e = Assert.Throws<LlamaNasException>(() => NasProject.Read(path));
        Assert.All(e.Diagnostics, d => Assert.Equal(path, d.Location!.File));
        Assert.Contains(e.Diagnostics, d => d is { Severity: DiagnosticSeverity.Error, Location.Line: > 0, Location.Column: > 0 });
        var text = new StringBuilder();
        foreach (var d in e.Diagnostics)
        {
            text.Append(d).Append('\n');
        }

        Snapshots.Verify(SnapshotFolder, name, Snapshots.ScrubPath(Snapshots.ScrubPath(text.ToString(), Model, "<stories260K>"), dir.Path, "<project>"));
    }

    [Fact]
    public void Defaults_fill_every_setting_and_paths_resolve_against_the_project()
    {
        using var dir = new TempDir();
        dir.Write("held.txt", "A story.\n");
        var path = dir.Write("sub/p.nasproj", Wrap(Props("<BaseModel>" + Model + "</BaseModel>", "<HeldOutText>../held.txt</HeldOutText>", "<FineTune>false</FineTune>", "<_Private>ok</_Private>")));
        var p = NasProject.Read(path);
        Assert.Equal(("perplexity", 0.75, 100, 20, 0UL, "linas", "fp32", "none"), (p.TargetTask, p.SizeBudget, p.SearchEvaluations, p.SearchPopulation, p.Seed, p.SearchAlgorithm, p.ComputeDtype, p.Quantization));
        Assert.Equal(Path.Combine(dir.Path, "held.txt"), p.HeldOutText);
        Assert.Equal("model", p.ModelFolder);
        Assert.Equal([3, 4, 5], p.Space.Depths); // LLaMA-NAS's {3/4, 7/8, 1} of stories260K's 5 layers
        Assert.Empty(p.Warnings);
    }

    [Fact]
    public void An_unrelated_property_is_a_warning_and_evaluated_values_win_over_the_xml()
    {
        using var dir = new TempDir();
        dir.Write("held.txt", "A story.\n");
        var path = dir.Write("p.nasproj", Wrap(Props("<BaseModel>" + Model + "</BaseModel>", "<HeldOutText>held.txt</HeldOutText>", "<FineTune>false</FineTune>", "<SearchEvaluations Condition=\"'$(CI)' == 'true'\">10</SearchEvaluations>", "<Colour>blue</Colour>")));

        // Outside MSBuild a Condition cannot be evaluated: a coded error, not a silent guess.
        var e = Assert.Throws<LlamaNasException>(() => NasProject.Read(path));
        Assert.Contains(e.Diagnostics, d => d.Code == DiagnosticCodes.ProjectPropertyInvalid && d.Message.Contains("Condition", StringComparison.Ordinal));

        var evaluated = $$$"""{"properties": {"BaseModel": "{{{Model}}}", "HeldOutText": "held.txt", "FineTune": "false", "SearchEvaluations": "42", "Seed": "", "SizeBudget": "0.9"}, "items": [{"type": "SearchDimension", "include": "Depth", "metadata": {"Choices": "4;5"}}]}""";
        var p = NasProject.Read(path, evaluated);
        Assert.Equal(42, p.SearchEvaluations);
        Assert.Equal([4, 5], p.Space.Depths);
        var warning = Assert.Single(p.Warnings);
        Assert.Equal((DiagnosticCodes.ProjectUnrecognizedProperty, DiagnosticSeverity.Warning, 7), (warning.Code, warning.Severity, warning.Location!.Line));
    }

    [Fact]
    public void Every_setting_has_a_documented_default_of_its_kind()
    {
        var docs = File.ReadAllText(Path.Combine(SharedData.RepositoryRoot, "docs", "NASPROJ.md"));
        foreach (var p in NasProjectSchema.Properties)
        {
            Assert.Contains($"`{p.Name}`", docs, StringComparison.Ordinal);
            Assert.True(p.Choices is null || p.Choices.Contains(p.Default), p.Name);
        }
    }

    private static string Props(params string[] lines) =>
        "  <PropertyGroup>\n" + string.Concat(lines.Select(l => "    " + l.Replace("{model}", Model, StringComparison.Ordinal) + "\n")) + "  </PropertyGroup>\n";

    private static string Items(params string[] lines) => "  <ItemGroup>\n" + string.Concat(lines.Select(l => "    " + l + "\n")) + "  </ItemGroup>\n";

    private static string Wrap(string body) => "<Project Sdk=\"LlamaNas.Sdk/0.1.0\">\n" + body + "</Project>\n";
}
