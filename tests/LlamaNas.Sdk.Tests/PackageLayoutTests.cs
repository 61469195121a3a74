using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using LlamaNas.TestSupport;

namespace LlamaNas.Sdk.Tests;

/// <summary>What the packed packages hold, pinned as snapshots (versions scrubbed; the tool's payload summarised).</summary>
[Collection(PackedSdk.Name)]
public sealed partial class PackageLayoutTests(SdkPackages packages)
{
    private const string ToolFolder = "tools/net10.0/";

    [Fact]
    public void Sdk_package_holds_the_sdk_files_the_task_and_the_tool()
    {
        using var zip = ZipFile.OpenRead(packages.SdkPackage);
        var files = PackageFiles(zip);

        // The Linux natives ship, other platforms' do not (they would triple the package).
        Assert.Contains(ToolFolder + "runtimes/linux-x64/native/libLibTorchSharp.so", files);
        Assert.Contains(ToolFolder + "runtimes/linux-x64/native/libtorch_cpu.so", files);
        Assert.DoesNotContain(files, f => f.StartsWith(ToolFolder + "runtimes/win", StringComparison.Ordinal) || f.StartsWith(ToolFolder + "runtimes/osx", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f.EndsWith(".pdb", StringComparison.Ordinal));

        // Only the tool's top-level files are listed, so a libtorch or satellite-language update does not churn it.
        var listed = files.Where(f => !f.StartsWith(ToolFolder, StringComparison.Ordinal) || !f[ToolFolder.Length..].Contains('/', StringComparison.Ordinal));
        var folders = files.Where(f => f.StartsWith(ToolFolder, StringComparison.Ordinal) && f[ToolFolder.Length..].Contains('/', StringComparison.Ordinal))
            .Select(f => ToolFolder + f[ToolFolder.Length..].Split('/')[0] + "/…").Distinct();
        Snapshots.Verify(SnapshotFolder, "LlamaNas.Sdk.package", Render(zip, listed.Concat(folders).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void Templates_package_holds_both_templates()
    {
        using var zip = ZipFile.OpenRead(packages.TemplatesPackage);
        Snapshots.Verify(SnapshotFolder, "LlamaNas.Templates.package", Render(zip, PackageFiles(zip)));
    }

    internal static string SnapshotFolder => Path.Combine("tests", "LlamaNas.Sdk.Tests", "Snapshots");

    private static List<string> PackageFiles(ZipArchive zip) =>
        [.. zip.Entries.Select(e => e.FullName)
            .Where(n => !n.StartsWith("_rels/", StringComparison.Ordinal) && !n.StartsWith("package/", StringComparison.Ordinal) && n != "[Content_Types].xml")
            .Order(StringComparer.Ordinal)];

    private string Render(ZipArchive zip, IEnumerable<string> files)
    {
        var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var reader = new StreamReader(nuspec.Open());
        var text = new StringBuilder("files:\n");
        foreach (var file in files)
        {
            text.Append("  ").Append(file).Append('\n');
        }

        var metadata = reader.ReadToEnd().ReplaceLineEndings("\n").Replace(packages.Version, "{version}", StringComparison.Ordinal);
        text.Append("\nnuspec:\n").Append(Commit().Replace(metadata, "commit=\"{commit}\"").TrimEnd()).Append('\n');
        return text.ToString();
    }

    [GeneratedRegex("commit=\"[0-9a-f]+\"")]
    private static partial Regex Commit();
}
