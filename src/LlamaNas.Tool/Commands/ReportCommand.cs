using System.CommandLine;
using LlamaNas.Pipeline.Reporting;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas report &lt;search-folder&gt; [--output &lt;dir&gt;]</c>: the build report's figures and search-space
/// analysis for any <c>llamanas search</c> output folder (docs/SEARCH.md). A <c>baseline.json</c> in the folder and a
/// <c>selection.json</c> in it or in its parent (where a build keeps them) mark the base model, the selected
/// sub-network and the size budget.
/// </summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("search-folder") { Description = "A `llamanas search` output folder (pareto.json, evaluations.csv, search_state.json)." };
        var output = new Option<string?>("--output") { Description = "Where to write report.md and figures/ (default: the search folder)." };
        var command = new Command("report", "Figures (quality vs size, vs speed) and the search-space analysis of a search's evaluations.")
        {
            folder, output,
        };
        command.SetAction(result =>
        {
            var directory = result.GetValue(folder)!;
            var selection = new[] { directory, Path.Combine(directory, "..") }.Select(d => Path.Combine(d, "selection.json")).FirstOrDefault(File.Exists);
            var results = SearchResults.Load(directory, Path.Combine(directory, "baseline.json"), selection);
            var report = SearchReport.WriteStandalone(results, result.GetValue(output) ?? directory);
            result.InvocationConfiguration.Output.WriteLine($"wrote {report} and its figures");
            return 0;
        });
        return command;
    }
}
