using System.Security;
using System.Text.RegularExpressions;
using LlamaNas.TestSupport;

namespace LlamaNas.Sdk.Tests;

[CollectionDefinition(Name)]
public sealed class PackedSdk : ICollectionFixture<SdkPackages>
{
    public const string Name = "LlamaNas.Sdk packages";
}

/// <summary>
/// Packs LlamaNas.Sdk and the template pack once into a temp folder feed and installs the templates into a private
/// hive. Every workspace gets a NuGet.config that sees only that feed and a packages folder of this run, so a stale
/// LlamaNas.Sdk of the same version from another run or the user's cache is never used.
/// </summary>
public sealed partial class SdkPackages : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "llamanas-sdk-tests-" + Guid.NewGuid().ToString("N"));

    public SdkPackages()
    {
        Directory.CreateDirectory(Feed);
        var repo = SharedData.RepositoryRoot;
        Dotnet.Run(repo, null, "pack", Path.Combine("src", "LlamaNas.Sdk", "LlamaNas.Sdk.csproj"), "-c", "Release", "-o", Feed, "-nodeReuse:false", "-tl:off").ShouldSucceed();
        Dotnet.Run(repo, null, "pack", Path.Combine("templates", "LlamaNas.Templates.csproj"), "-c", "Release", "-o", Feed, "-nodeReuse:false", "-tl:off").ShouldSucceed();
        SdkPackage = Directory.GetFiles(Feed, "LlamaNas.Sdk.*.nupkg").Single();
        TemplatesPackage = Directory.GetFiles(Feed, "LlamaNas.Templates.*.nupkg").Single();
        Version = PackageVersion().Match(Path.GetFileName(SdkPackage)).Groups[1].Value;
        Dotnet.Run(root, null, "new", "install", TemplatesPackage, "--debug:custom-hive", Hive).ShouldSucceed();
    }

    public string Feed => Path.Combine(root, "feed");

    public string Hive => Path.Combine(root, "hive");

    /// <summary>The super-network cache of every build here, so none touches the user's.</summary>
    public string Cache => Path.Combine(root, "cache");

    public string SdkPackage { get; }

    public string TemplatesPackage { get; }

    /// <summary>The version both packages were packed with.</summary>
    public string Version { get; }

    /// <summary>A fresh folder whose NuGet.config restores only from the test feed into this run's packages folder.</summary>
    public string Workspace(string name)
    {
        var dir = Path.Combine(root, "work", name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{SecurityElement.Escape(Path.Combine(root, "packages"))}" />
              </config>
              <packageSources>
                <clear />
                <add key="llamanas-test-feed" value="{SecurityElement.Escape(Feed)}" />
              </packageSources>
            </configuration>
            """);
        return dir;
    }

    /// <summary><c>dotnet new</c> with the private template hive.</summary>
    public DotnetResult New(string workspace, params string[] args) =>
        Dotnet.Run(workspace, null, ["new", .. args, "--debug:custom-hive", Hive, "--no-update-check"]);

    /// <summary>A dotnet command (build, clean) in <paramref name="directory"/>, with node reuse and the terminal logger off.</summary>
    public DotnetResult Run(string directory, params string[] args) =>
        Dotnet.Run(directory, new Dictionary<string, string> { ["LLAMANAS_CACHE"] = Cache }, [.. args, "-nodeReuse:false", "-tl:off"]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // A process still holding a file keeps a temp folder behind; nothing to fail the run for.
        }
    }

    [GeneratedRegex(@"^LlamaNas\.Sdk\.(.+)\.nupkg$")]
    private static partial Regex PackageVersion();
}
