using System.Text.RegularExpressions;
using LlamaNas.TestSupport;

namespace LlamaNas.Sdk.Tests;

/// <summary>
/// Malformed projects fail the build with the tool's coded diagnostics turned into real MSBuild errors (counted in
/// MSBuild's summary, so not merely echoed text), pointing at the line and column in the file where there is one.
/// </summary>
[Collection(PackedSdk.Name)]
public sealed partial class DiagnosticsTests(SdkPackages packages)
{
    private const string Depth = "<SearchDimension Include=\"Depth\" Choices=\"3;4;5\" />";

    /// <summary>Each case: the PropertyGroup after BaseModel (empty BaseModel when the case removes it) and the ItemGroup.</summary>
    public static TheoryData<string, string, string> Cases => new()
    {
        { "unknown-property", "<SizeBudjet>0.5</SizeBudjet>", Depth },
        { "empty-choices", "", "<SearchDimension Include=\"MlpWidth\" Choices=\"\" />" },
        { "unknown-dimension", "", "<SearchDimension Include=\"Width\" Choices=\"2;4\" />" },
        { "duplicate-dimension", "", Depth + "\n    " + Depth },
        { "size-budget-not-a-fraction", "<SizeBudget>1.5</SizeBudget>", Depth },
        { "no-base-model", "<BaseModel></BaseModel>", Depth },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Malformed_project_fails_with_coded_errors_at_line_and_column(string name, string properties, string items)
    {
        var dir = packages.Workspace("bad-" + name);
        var baseModel = properties.Contains("<BaseModel>", StringComparison.Ordinal) ? "" : $"<BaseModel>{SharedData.Stories260K}</BaseModel>";
        File.WriteAllText(Path.Combine(dir, "Bad.nasproj"), $"""
            <Project Sdk="LlamaNas.Sdk/{packages.Version}">
              <PropertyGroup>
                <SelfGeneratedData>true</SelfGeneratedData>
                {baseModel}
                {properties}
              </PropertyGroup>
              <ItemGroup>
                {items}
              </ItemGroup>
            </Project>
            """);

        var result = packages.Run(dir, "build");

        Assert.NotEqual(0, result.ExitCode);
        var diagnostics = result.Lines.Where(l => Diagnostic().IsMatch(l))
            .Select(l => l.Trim().Replace(dir, "{dir}", StringComparison.Ordinal).Replace(SharedData.Stories260K, "{stories260K}", StringComparison.Ordinal))
            .Distinct().ToList();
        Assert.NotEmpty(diagnostics);
        Assert.All(diagnostics, d => Assert.Matches(@"^\{dir\}/Bad\.nasproj(\(\d+,\d+\): | : )(error|warning) LNAS\d{4}: ", d));

        // MSBuild counted them as its own errors and warnings: the tool's text was not merely echoed.
        AssertSummary(result, errors: diagnostics.Count(d => d.Contains(": error ", StringComparison.Ordinal)), warnings: diagnostics.Count(d => d.Contains(": warning ", StringComparison.Ordinal)));
        Snapshots.Verify(PackageLayoutTests.SnapshotFolder, "diagnostics-" + name, string.Join("\n", diagnostics) + "\n");
    }

    [Fact]
    public void A_project_warning_obeys_warnaserror_and_NoWarn()
    {
        var dir = packages.Workspace("warning");
        var project = Path.Combine(dir, "Warn.nasproj");
        File.WriteAllText(project, $"""
            <Project Sdk="LlamaNas.Sdk/{packages.Version}">
              <PropertyGroup>
                <BaseModel>{SharedData.Stories260K}</BaseModel>
                <SelfGeneratedData>true</SelfGeneratedData>
                <Colour>blue</Colour>
              </PropertyGroup>
            </Project>
            """);

        var plain = packages.Run(dir, "build", "-t:LlamaNasPlan").ShouldSucceed();
        Assert.Contains(plain.Lines, l => l.Trim() == $"{project}(5,5): warning LNAS1002: property 'Colour' is not a llamanas setting and is ignored by the build (settings: docs/NASPROJ.md; start MSBuild-only names with '_' to silence this).");
        AssertSummary(plain, errors: 0, warnings: 1);

        var strict = packages.Run(dir, "build", "-t:LlamaNasPlan", "-warnaserror:LNAS1002");
        Assert.NotEqual(0, strict.ExitCode);
        Assert.Contains(strict.Lines, l => l.Trim().StartsWith($"{project}(5,5): error LNAS1002: ", StringComparison.Ordinal));
        AssertSummary(strict, errors: 1, warnings: 0);

        ProjectFile.SetProperties(project, new Dictionary<string, string> { ["NoWarn"] = "LNAS1002" });
        var silenced = packages.Run(dir, "build", "-t:LlamaNasPlan", "-warnaserror").ShouldSucceed();
        Assert.DoesNotContain(silenced.Lines, l => l.Contains("LNAS1002", StringComparison.Ordinal));
        AssertSummary(silenced, errors: 0, warnings: 0);
    }

    [Fact]
    public void A_design_time_build_runs_no_stage_not_even_the_plan()
    {
        var dir = packages.Workspace("design-time");
        File.WriteAllText(Path.Combine(dir, "Bad.nasproj"), $"""
            <Project Sdk="LlamaNas.Sdk/{packages.Version}">
              <PropertyGroup>
                <SizeBudjet>0.5</SizeBudjet>
              </PropertyGroup>
            </Project>
            """);

        var result = packages.Run(dir, "build", "-p:DesignTimeBuild=true").ShouldSucceed();

        Assert.DoesNotContain("LNAS", result.Output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "obj", "Debug", "llamanas")));
    }

    private static void AssertSummary(DotnetResult result, int errors, int warnings)
    {
        Assert.Contains(result.Lines, l => l.Trim() == $"{errors} Error(s)");
        Assert.Contains(result.Lines, l => l.Trim() == $"{warnings} Warning(s)");
    }

    [GeneratedRegex(@": (error|warning) [A-Z]+\d+: ")]
    private static partial Regex Diagnostic();
}
