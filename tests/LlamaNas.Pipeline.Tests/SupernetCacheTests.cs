using System.IO.Compression;
using System.Text.RegularExpressions;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Project;
using LlamaNas.Pipeline.Build;
using LlamaNas.Pipeline.Cache;
using LlamaNas.TestSupport;

namespace LlamaNas.Pipeline.Tests;

/// <summary>The super-network cache in NuGet feeds: push after training, restore instead of training, and what goes wrong.</summary>
public sealed partial class SupernetCacheTests
{
    /// <summary>Small enough that the tiny project's super-network (about 1 MB) is split into several packages.</summary>
    private const long SplittingLimit = 400_000;

    [Fact]
    public void A_trained_super_network_is_pushed_in_parts_and_a_clean_build_restores_it_instead_of_training()
    {
        using var dir = new TempDir();
        var feed = Directory.CreateDirectory(dir.File("feed")).FullName;
        var extra = $"\n    <LlamaNasCacheFeeds>../feed</LlamaNasCacheFeeds>\n    <LlamaNasCachePackageLimit>{SplittingLimit}</LlamaNasCachePackageLimit>";

        var (a, logA, warningsA) = Build(TinyProject.Write(dir, "a", TinyProject.Text(extraProperties: extra)));
        Assert.Equal(string.Empty, warningsA);
        Assert.Contains("stage finetune: running", BuildPipelineTests.Headlines(logA));
        Assert.Matches(StepLine(), logA);
        Assert.Contains(BuildPipelineTests.Headlines(logA), h => h.StartsWith("stage finetune: pushed the super-network to " + feed, StringComparison.Ordinal));
        var packages = Directory.GetFiles(feed, "*.nupkg", SearchOption.AllDirectories);
        Assert.True(packages.Length > 1, $"{packages.Length} package(s)");
        Assert.All(packages, p => Assert.InRange(new FileInfo(p).Length, 1, SplittingLimit));
        var key = a.Keys[StageNames.FineTune];
        Assert.Contains(packages, p => string.Equals(Path.GetFileName(p), SupernetPackage.FileName(SupernetPackage.Main(key)), StringComparison.OrdinalIgnoreCase));

        // Another machine: its own obj/ and an empty super-network cache; the same inputs.
        var (b, logB, warningsB) = Build(TinyProject.Write(dir, "b", TinyProject.Text(extraProperties: extra)));
        Assert.Equal(string.Empty, warningsB);
        Assert.Equal(key, b.Keys[StageNames.FineTune]);
        Assert.Contains(BuildPipelineTests.Headlines(logB), h => h.StartsWith("stage finetune: restored the super-network from " + feed, StringComparison.Ordinal) && h.EndsWith("fine-tuning skipped", StringComparison.Ordinal));
        Assert.DoesNotMatch(StepLine(), logB);
        Assert.DoesNotContain(BuildPipelineTests.Headlines(logB), h => h.Contains("pushed", StringComparison.Ordinal));
        Assert.Equal(SupernetPackage.Contents(a.SupernetDir), SupernetPackage.Contents(b.SupernetDir));
        Assert.All(SupernetPackage.Contents(a.SupernetDir), f => Assert.Equal(File.ReadAllBytes(Path.Combine(a.SupernetDir, f)), File.ReadAllBytes(Path.Combine(b.SupernetDir, f))));
        Assert.Equal([b.SupernetDir], Directory.GetDirectories(Path.GetDirectoryName(b.SupernetDir)!));
        foreach (var file in new[] { "pareto.json", "evaluations.csv", "model/model.safetensors", "model/config.json", "model.gguf" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir.Path, "a", "bin", "Debug", file)), File.ReadAllBytes(Path.Combine(dir.Path, "b", "bin", "Debug", file)));
        }
    }

    [Fact]
    public void Read_only_mode_restores_but_never_pushes()
    {
        using var dir = new TempDir();
        var feed = Directory.CreateDirectory(dir.File("feed")).FullName;
        var readOnly = $"\n    <LlamaNasCacheFeeds>{feed}</LlamaNasCacheFeeds>\n    <LlamaNasCacheMode>read</LlamaNasCacheMode>";

        var (a, logA, warningsA) = FineTune(TinyProject.Write(dir, "a", TinyProject.Text(extraProperties: readOnly)));
        Assert.Equal(string.Empty, warningsA);
        Assert.Matches(StepLine(), logA);
        Assert.Empty(Directory.GetFileSystemEntries(feed));

        // Once the feed has it (pushed by a trusted build; a second machine's push of the same key is skipped, no
        // warning), a read-only build restores it.
        using var pushErrors = new StringWriter();
        for (var machine = 0; machine < 2; machine++)
        {
            SupernetFeeds.Open(a.Project with { CacheMode = "readwrite" }, new BuildLog(TextWriter.Null, pushErrors))
                .Push(a.Keys[StageNames.FineTune], a.SupernetDir, "test", [], NasProject.DefaultCachePackageLimit, CancellationToken.None);
        }

        Assert.Equal(string.Empty, pushErrors.ToString());
        Assert.Single(Directory.GetFiles(feed, "*.nupkg", SearchOption.AllDirectories));
        var (_, logB, warningsB) = FineTune(TinyProject.Write(dir, "b", TinyProject.Text(extraProperties: readOnly)));
        Assert.Equal(string.Empty, warningsB);
        Assert.Contains(BuildPipelineTests.Headlines(logB), h => h.StartsWith("stage finetune: restored", StringComparison.Ordinal));
        Assert.DoesNotMatch(StepLine(), logB);
    }

    [Fact]
    public void An_unreachable_feed_is_a_warning_and_the_build_trains_as_usual()
    {
        using var dir = new TempDir();
        var project = TinyProject.Write(dir, "a", TinyProject.Text(extraProperties: "\n    <LlamaNasCacheFeeds>http://127.0.0.1:1/v3/index.json;no-such-folder</LlamaNasCacheFeeds>"));

        var (context, log, warnings) = FineTune(project);
        var lines = warnings.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Contains($"warning {DiagnosticCodes.CacheFeedUnreachable}:", l, StringComparison.Ordinal));
        Assert.Contains("http://127.0.0.1:1/v3/index.json", lines[0], StringComparison.Ordinal);
        Assert.Contains(Path.Combine(dir.Path, "a", "no-such-folder"), lines[1], StringComparison.Ordinal);
        Assert.Matches(StepLine(), log);
        Assert.True(BuildPipeline.IsUpToDate(context, StageNames.FineTune));
        Assert.False(Directory.Exists(dir.File("a/no-such-folder")));
    }

    [Fact]
    public void A_corrupt_package_on_the_feed_is_a_coded_error_naming_it_and_leaves_nothing_behind()
    {
        using var dir = new TempDir();
        var feed = Directory.CreateDirectory(dir.File("feed")).FullName;
        var project = TinyProject.Write(dir, "a", TinyProject.Text(extraProperties: $"\n    <LlamaNasCacheFeeds>{feed}</LlamaNasCacheFeeds>"));
        using var context = BuildPipeline.Plan(new BuildRequest { ProjectFile = project }, Quiet);
        var key = context.Keys[StageNames.FineTune];

        // A package of this key whose bytes were changed after it was pushed (the zip itself stays valid).
        var fake = CopyOfStories(dir);
        SupernetFeeds.Open(context.Project, Quiet).Push(key, fake, "test", [], NasProject.DefaultCachePackageLimit, CancellationToken.None);
        var main = SupernetPackage.Main(key);
        var nupkg = Assert.Single(Directory.GetFiles(feed, "*.nupkg", SearchOption.AllDirectories));
        Assert.Equal(SupernetPackage.FileName(main).ToLowerInvariant(), Path.GetFileName(nupkg));
        using (var zip = ZipFile.Open(nupkg, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("data/00000")!;
            var bytes = ReadAll(entry);
            bytes[^1] ^= 1;
            entry.Delete();
            using var stream = zip.CreateEntry("data/00000").Open();
            stream.Write(bytes);
        }

        var tampered = Assert.Throws<LlamaNasException>(() => RunUpToFineTune(context));
        Assert.Equal(DiagnosticCodes.CachePackageCorrupt, tampered.Code);
        Assert.Contains($"{main.Id} {main.Version.ToNormalizedString()}", tampered.Message, StringComparison.Ordinal);
        Assert.Contains(feed, tampered.Message, StringComparison.Ordinal);

        // Not a package at all (a truncated upload).
        File.WriteAllBytes(nupkg, File.ReadAllBytes(nupkg)[..1000]);
        var truncated = Assert.Throws<LlamaNasException>(() => BuildPipeline.RunStage(context, StageNames.FineTune, Quiet));
        Assert.Equal(DiagnosticCodes.CachePackageCorrupt, truncated.Code);
        Assert.Contains(main.Id, truncated.Message, StringComparison.Ordinal);

        // Nothing half-restored: no super-network folder, no temporary folder, no stamp.
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(context.SupernetDir)!));
        Assert.False(File.Exists(context.StampFile(StageNames.FineTune)));
    }

    [Fact]
    public void An_authenticated_http_feed_from_NuGet_config_takes_pushes_skips_duplicates_and_restores_without_printing_credentials()
    {
        const string Password = "s3cret-feed-token";
        using var server = new FakeNuGetServer("ci", Password);
        using var dir = new TempDir();
        dir.Write("a/NuGet.config", $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="team-supernets" value="{server.IndexUrl}" allowInsecureConnections="true" />
              </packageSources>
              <packageSourceCredentials>
                <team-supernets>
                  <add key="Username" value="ci" />
                  <add key="ClearTextPassword" value="{Password}" />
                </team-supernets>
              </packageSourceCredentials>
            </configuration>
            """);
        var project = TinyProject.Write(dir, "a");
        using var output = new StringWriter();
        using var error = new StringWriter();
        var log = new BuildLog(output, error);
        using var context = BuildPipeline.Plan(new BuildRequest { ProjectFile = project }, log);
        var key = context.Keys[StageNames.FineTune];
        var fake = CopyOfStories(dir);

        // No LlamaNasCacheFeeds: the project's NuGet.config names the feed (the user's nuget.org is left out).
        var feeds = SupernetFeeds.Open(context.Project, log);
        Assert.Equal([server.IndexUrl], feeds.Sources.Select(s => s.Source));
        feeds.Push(key, fake, "test", [], SplittingLimit, CancellationToken.None);
        Assert.Equal(string.Empty, error.ToString());
        var pushed = server.Packages.Count;
        Assert.True(pushed > 1, $"{pushed} package(s)");
        Assert.Contains(server.Packages.Keys, k => k.StartsWith(SupernetPackage.Main(key).Id.ToLowerInvariant() + "/", StringComparison.Ordinal));

        // A second machine pushing the same key: every package is already there (409), which is success.
        SupernetFeeds.Open(context.Project, log).Push(key, fake, "test", [], SplittingLimit, CancellationToken.None);
        Assert.Equal(pushed, server.Conflicts);

        var target = dir.File("restored/" + key);
        Directory.CreateDirectory(dir.File("restored"));
        Assert.True(SupernetFeeds.Open(context.Project, log).TryRestore(key, target, CancellationToken.None));
        Assert.All(Directory.GetFiles(fake), f => Assert.Equal(File.ReadAllBytes(f), File.ReadAllBytes(Path.Combine(target, Path.GetFileName(f)))));
        Assert.Equal(string.Empty, error.ToString());

        // Wrong credentials: the feed refuses (401), which is a warning; the build would train.
        File.WriteAllText(dir.File("a/NuGet.config"), File.ReadAllText(dir.File("a/NuGet.config")).Replace(Password, "wrong-token", StringComparison.Ordinal));
        var refused = dir.File("refused/" + key);
        Directory.CreateDirectory(dir.File("refused"));
        Assert.False(SupernetFeeds.Open(context.Project, log).TryRestore(key, refused, CancellationToken.None));
        Assert.False(Directory.Exists(refused));
        Assert.True(server.Unauthorized > 0);
        var warning = Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"warning {DiagnosticCodes.CacheFeedUnreachable}:", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, output.ToString() + error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-token", output.ToString() + error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Cache_feeds_must_be_folders_http_urls_or_source_names()
    {
        using var dir = new TempDir();
        var project = TinyProject.Write(dir, "a", TinyProject.Text(extraProperties: "\n    <LlamaNasCacheFeeds>ftp://example.invalid/feed</LlamaNasCacheFeeds>\n    <LlamaNasCachePackageLimit>1000</LlamaNasCachePackageLimit>"));
        var e = Assert.Throws<LlamaNasException>(() => BuildPipeline.Plan(new BuildRequest { ProjectFile = project }, Quiet));
        Assert.Equal(
            [("LlamaNasCacheFeeds", DiagnosticCodes.ProjectPropertyInvalid), ("LlamaNasCachePackageLimit", DiagnosticCodes.ProjectPropertyInvalid)],
            e.Diagnostics.Select(d => (Property(project, d.Location!.Line), d.Code)));
    }

    /// <summary>A stand-in super-network folder (the base model's files): what the feed side does not depend on training.</summary>
    private static string CopyOfStories(TempDir dir)
    {
        var fake = Directory.CreateDirectory(dir.File("fake")).FullName;
        foreach (var file in Directory.GetFiles(SharedData.Stories260K))
        {
            File.Copy(file, Path.Combine(fake, Path.GetFileName(file)));
        }

        return fake;
    }

    private static readonly BuildLog Quiet = new(TextWriter.Null, TextWriter.Null);

    private static string Property(string project, int line) => Regex.Match(File.ReadAllLines(project)[line - 1], "<(\\w+)>").Groups[1].Value;

    private static (BuildContext Context, string Log, string Warnings) Build(string project)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var log = new BuildLog(output, error);
        using var context = BuildPipeline.Plan(new BuildRequest { ProjectFile = project }, log);
        BuildPipeline.RunAll(context, log);
        return (context, output.ToString(), error.ToString());
    }

    /// <summary>The data and fine-tuning stages only (the cache's part of a build).</summary>
    private static (BuildContext Context, string Log, string Warnings) FineTune(string project)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var log = new BuildLog(output, error);
        using var context = BuildPipeline.Plan(new BuildRequest { ProjectFile = project }, log);
        RunUpToFineTune(context, log);
        return (context, output.ToString(), error.ToString());
    }

    private static void RunUpToFineTune(BuildContext context, BuildLog? log = null)
    {
        BuildPipeline.RunStage(context, StageNames.Data, log ?? Quiet);
        BuildPipeline.RunStage(context, StageNames.FineTune, log ?? Quiet);
    }

    private static byte[] ReadAll(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>A fine-tuning step's progress line: present exactly when the build trained.</summary>
    [GeneratedRegex(@"(?m)^step \d+/\d+ ")]
    private static partial Regex StepLine();
}
