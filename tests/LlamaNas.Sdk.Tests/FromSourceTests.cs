using LlamaNas.TestSupport;

namespace LlamaNas.Sdk.Tests;

/// <summary>
/// From-source mode, as the in-repo samples use it: the project imports Sdk.props and Sdk.targets from this checkout,
/// and the build compiles the task and the tool (Release) before planning. In the packages' collection so it never
/// builds the tool while the fixture publishes it.
/// </summary>
[Collection(PackedSdk.Name)]
public sealed class FromSourceTests(SdkPackages packages)
{
    [Fact]
    public void A_project_importing_the_sdk_files_builds_the_task_and_tool_from_source_and_plans()
    {
        var dir = packages.Workspace("from source");
        var sdk = Path.Combine(SharedData.RepositoryRoot, "src", "LlamaNas.Sdk", "Sdk");
        File.WriteAllText(Path.Combine(dir, "Local.nasproj"), $"""
            <Project>
              <Import Project="{sdk}/Sdk.props" />
              <PropertyGroup>
                <LlamaNasFromSource>true</LlamaNasFromSource>
                <BaseModel>{SharedData.Stories260K}</BaseModel>
                <SelfGeneratedData>true</SelfGeneratedData>
              </PropertyGroup>
              <Import Project="{sdk}/Sdk.targets" />
            </Project>
            """);

        var result = packages.Run(dir, "build", "-t:LlamaNasPlan", "-v:n").ShouldSucceed();

        Assert.Contains(result.Lines, l => l.Trim().StartsWith("LlamaNas.Tool -> ", StringComparison.Ordinal) && l.Contains(Path.Combine("src", "LlamaNas.Tool", "bin", "Release"), StringComparison.Ordinal));
        Assert.Contains(result.Lines, l => l.Trim().StartsWith("LlamaNas.Build.Tasks -> ", StringComparison.Ordinal));
        var tool = Path.Combine(SharedData.RepositoryRoot, "src", "LlamaNas.Tool", "bin", "Release", "net10.0", "llamanas.dll");
        Assert.Contains(result.Lines, l => l.Contains(tool, StringComparison.Ordinal) && l.Contains(" --stage plan ", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(dir, "obj", "Debug", "llamanas", "report.key")), result.Output);
    }
}
