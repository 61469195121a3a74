using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using LlamaNas.Core.Evaluation;
using LlamaNas.TestSupport;

namespace LlamaNas.Core.Tests.Evaluation;

/// <summary>Task prompt snapshots (<see cref="Snapshots"/>) in <c>Evaluation/Snapshots</c>.</summary>
internal static class Snapshot
{
    private static readonly JsonSerializerOptions Quoting = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Verify(string name, string actual) => Snapshots.Verify(Path.Combine("tests", "LlamaNas.Core.Tests", "Evaluation", "Snapshots"), name, actual);

    /// <summary>Every request of the items as JSON strings, so whitespace and line breaks are exact.</summary>
    public static string Render(EvaluationTask task, IEnumerable<MultipleChoiceItem> items)
    {
        var text = new StringBuilder();
        text.Append($"task: {task.Name}\nacc_norm: {task.ReportsAccNorm}\nnum_fewshot: {task.NumFewshot}\nitems in task: {task.Items.Count}\n");
        foreach (var item in items)
        {
            text.Append($"\n== item {Quote(item.Id)} gold={item.Gold} group={(item.Group is null ? "-" : Quote(item.Group))}\n");
            text.Append($"choice texts: {string.Join(", ", item.ChoiceTexts.Select(Quote))}\n");
            AppendSide(text, "context", [.. item.Requests.Select(r => r.Context)]);
            AppendSide(text, "continuation", [.. item.Requests.Select(r => r.Continuation)]);
        }

        return text.ToString();
    }

    private static void AppendSide(StringBuilder text, string side, IReadOnlyList<string> values)
    {
        if (values.Distinct().Count() == 1)
        {
            text.Append($"{side} (every choice): {Quote(values[0])}\n");
            return;
        }

        for (var i = 0; i < values.Count; i++)
        {
            text.Append($"{side} {i}: {Quote(values[i])}\n");
        }
    }

    private static string Quote(string s) => JsonSerializer.Serialize(s, Quoting);
}
