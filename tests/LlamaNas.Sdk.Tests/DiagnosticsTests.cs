using System.Text.RegularExpressions;
using LlamaNas.TestSupport;

namespace LlamaNas.Sdk.Tests;

/// <summary>
/// Malformed projects fail the build with the tool's coded diagnostics turned into real MSBuild errors (MSBuild's own
/// <c>[project]</c> suffix shows they are error events, not echoed text), pointing at the line and column in the file.
/// </summary>
[Collection(PackedSdk.Name)]
public sealed partial class DiagnosticsTests(SdkPackages packages)
{
    public static TheoryData<string, string, string> Cases => new()
    {
        { "unknown-property", "<SizeBudjet>0.5</SizeBudjet>", "" },
        { "empty-choices", "", "<SearchDimension Include=\"Depth\" Choices=\"\" />" },
        { "unknown-dimension", "", "<SearchDimension Include=\"Width\" Choices=\"2;4\" />" },
        { "size-budget-not-a-fraction", "<SizeBudget>1.5</SizeBudget>", "" },
        { "no-base-model", "<BaseModel></BaseModel>", "" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Malformed_project_fails_with_coded_errors_at_line_and_column(string name, string property, string item)
    {
        var dir = packages.Workspace("bad-" + name);
        File.WriteAllText(Path.Combine(dir, "Bad.nasproj"), $"""
            <Project Sdk="LlamaNas.Sdk/{packages.Version}">
              <PropertyGroup>
                <BaseModel>{SharedData.Stories260K}</BaseModel>
                <SelfGeneratedData>true</SelfGeneratedData>
                {property}
              </PropertyGroup>
              <ItemGroup>
                <SearchDimension Include="Depth" Choices="3;4;5" />
                {item}
              </ItemGroup>
            </Project>
            """);

        var result = packages.Run(dir, "build", "-clp:NoSummary");

        Assert.NotEqual(0, result.ExitCode);
        var diagnostics = result.Lines.Where(l => Diagnostic().IsMatch(l))
            .Select(l => l.Trim().Replace(dir, "{dir}", StringComparison.Ordinal).Replace(SharedData.Stories260K, "{stories260K}", StringComparison.Ordinal))
            .Distinct().ToList();
        Assert.NotEmpty(diagnostics);
        Assert.All(diagnostics, d => Assert.Matches(@"^\{dir\}/Bad\.nasproj\(\d+,\d+\): (error|warning) LNAS\d{4}: .+ \[\{dir\}/Bad\.nasproj\]$", d));
        Snapshot.Verify(PackageLayoutTests.SnapshotFolder, "diagnostics-" + name, string.Join("\n", diagnostics) + "\n");
    }

    [GeneratedRegex(@": (error|warning) [A-Z]+\d+: ")]
    private static partial Regex Diagnostic();
}
