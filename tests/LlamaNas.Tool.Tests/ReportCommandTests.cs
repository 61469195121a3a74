using LlamaNas.Pipeline.Reporting;
using LlamaNas.Pipeline.Tests;
using LlamaNas.TestSupport;

namespace LlamaNas.Tool.Tests;

public class ReportCommandTests
{
    [Fact]
    public async Task Writes_the_report_and_every_figure_for_a_search_folder_the_same_each_time()
    {
        using var temp = new TempDir();
        var folder = temp.File("search");
        ReportFixture.Write(folder, marked: true);
        var output = temp.File("out");
        var (rc, stdout, error) = await CliRunner.Run("report", folder, "--output", output);
        Assert.True(rc == 0, error);
        Assert.Contains("report.md", stdout, StringComparison.Ordinal);
        var report = File.ReadAllText(Path.Combine(output, "report.md"));
        Assert.StartsWith("# Search report\n\nlinas, 20 sub-networks evaluated, objectives perplexity:heldout.txt, size_gb:fp32;", report, StringComparison.Ordinal);
        foreach (var figure in SearchReport.Files(speed: false))
        {
            Assert.True(File.Exists(Path.Combine(output, figure)), figure);
            Assert.DoesNotContain(temp.Path, File.ReadAllText(Path.Combine(output, figure)), StringComparison.Ordinal);
        }

        Assert.Contains("![quality vs size](figures/quality_vs_size.png)", report, StringComparison.Ordinal);
        Assert.Contains("![choices of the top 20 %](figures/search_space_top20.png)", report, StringComparison.Ordinal);
        Assert.Contains("| probability | 0.25 | 0.75 |", report, StringComparison.Ordinal);
        Assert.Contains("size budget (0.05 MB)", File.ReadAllText(Path.Combine(output, "figures", "quality_vs_size.svg")), StringComparison.Ordinal);
        Assert.DoesNotContain(temp.Path, report, StringComparison.Ordinal);

        // Default output: the search folder itself; the same bytes.
        (rc, _, error) = await CliRunner.Run("report", folder);
        Assert.True(rc == 0, error);
        foreach (var file in SearchReport.Files(speed: false).Append("report.md"))
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(output, file)), File.ReadAllBytes(Path.Combine(folder, file)));
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("pareto.json")]
    [InlineData("evaluations.csv")]
    [InlineData("search_state.json")]
    public async Task A_missing_or_incomplete_search_folder_is_LNAS0550_and_nothing_is_written(string? missing)
    {
        using var temp = new TempDir();
        var folder = temp.File("search");
        if (missing is not null)
        {
            ReportFixture.Write(folder, marked: false);
            File.Delete(Path.Combine(folder, missing));
        }

        var output = temp.File("out");
        var (rc, _, error) = await CliRunner.Run("report", folder, "--output", output);
        Assert.Equal(1, rc);
        Assert.Contains("error LNAS0550", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public async Task A_truncated_evaluations_file_or_unreadable_selection_is_LNAS0550()
    {
        using var temp = new TempDir();
        var folder = temp.File("search");
        ReportFixture.Write(folder, marked: true);
        File.WriteAllText(Path.Combine(folder, "selection.json"), "{");
        var (rc, _, error) = await CliRunner.Run("report", folder);
        Assert.Equal(1, rc);
        Assert.Contains("error LNAS0550: selection.json could not be read", error, StringComparison.Ordinal);

        File.Delete(Path.Combine(folder, "selection.json"));
        var csv = Path.Combine(folder, "evaluations.csv");
        File.WriteAllText(csv, File.ReadAllText(csv).Replace("\n3,0,", "\n3,0,,", StringComparison.Ordinal));
        (rc, _, error) = await CliRunner.Run("report", folder);
        Assert.Equal(1, rc);
        Assert.Contains("error LNAS0550: evaluations.csv line 5 cannot be read", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(folder, "report.md")));
    }
}
