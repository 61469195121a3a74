using System.Text.Json;
using System.Text.RegularExpressions;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Core.Evaluation.Tasks;

/// <summary>
/// A multiple-choice task of the user's own, scored like the built-in ones (acc and acc_norm). The data is JSON lines,
/// one object a line: <c>{"id"?: string, "context": string, "choices": [string, ...], "gold": int,
/// "continuation_delimiter"?: string}</c> (at least two non-empty choices, gold 0-based, delimiter " " unless given;
/// other fields are refused so a misspelt one does not go unnoticed). Choice k is scored as the continuation
/// delimiter + choices[k] after the context. An optional header beside it, <c>{file stem}.task.json</c>
/// (<c>tasks/qa.jsonl</c> → <c>tasks/qa.task.json</c>), holds <c>{"name"?: string, "description"?: string,
/// "num_fewshot"?: int}</c>: the description is put before every context (and before its shots). Shots come from a
/// pool file of the same schema: the first k rows that are not the item itself, each rendered as
/// context + delimiter + choices[gold] + "\n\n".
/// </summary>
internal static partial class UserTask
{
    /// <summary>The task name that asks for the header's name (or the file's stem) instead of one given.</summary>
    public const string GenericName = "user";

    private static readonly HashSet<string> Fields = ["id", "context", "choices", "gold", "continuation_delimiter"];
    private static readonly HashSet<string> HeaderFields = ["name", "description", "num_fewshot"];

    public static EvaluationTask Load(string taskName, string path, TaskLoadOptions options)
    {
        if (!File.Exists(path))
        {
            throw new LlamaNasException(DiagnosticCodes.EvalDataNotFound, "the user task file does not exist", new DiagnosticLocation(path));
        }

        var header = ReadHeader(path);
        var name = taskName != GenericName ? taskName : header.Name ?? Path.GetFileNameWithoutExtension(path);
        if (!ValidName().IsMatch(name) || TaskLoader.BuiltInTaskNames.Contains(name) || name == GenericName)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalOptionsInvalid,
                $"'{name}' cannot name a user task: use letters, digits, '_', '-' or '.', and no built-in task name ({string.Join(", ", TaskLoader.BuiltInTaskNames)})",
                new DiagnosticLocation(path));
        }

        var docs = ReadDocs(path, header.Description);
        var k = options.NumFewshot ?? header.NumFewshot ?? 0;
        IReadOnlyList<TaskDoc> pool = [];
        if (k > 0)
        {
            pool = options.FewshotPoolPath is { } poolPath
                ? ReadDocs(TaskLoader.RequireFile(poolPath), header.Description)
                : throw new LlamaNasException(DiagnosticCodes.EvalFewshotPoolRequired,
                    $"{k}-shot evaluation of the user task '{name}' needs a few-shot pool: pass a JSON-lines file of the same schema as the pool",
                    new DiagnosticLocation(path));
        }

        var poolSource = options.FewshotPoolPath ?? "";
        return TaskLoader.Build(name, docs, pool, k, _ => null, reportsAccNorm: true, path + (k > 0 ? $"; few-shot: {poolSource}" : ""), poolSource);
    }

    private static List<TaskDoc> ReadDocs(string path, string description)
    {
        if (DataFiles.FormatOf(path) != DataFormat.JsonLines)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalFileFormatUnsupported, "a user task is a JSON-lines (.jsonl) file", new DiagnosticLocation(path));
        }

        var docs = new List<TaskDoc>();
        foreach (var row in DataFiles.ReadRows(path))
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in row.Value.EnumerateObject())
            {
                // JSON parsers disagree on which of two equal keys wins, so a row with both is ambiguous.
                if (!seen.Add(property.Name))
                {
                    throw row.Error(DiagnosticCodes.EvalRowDuplicateField, $"field '{property.Name}' appears twice in the row; keep one", property.Name);
                }

                if (!Fields.Contains(property.Name))
                {
                    throw row.Error(DiagnosticCodes.EvalRowUnknownField,
                        $"unknown field '{property.Name}'; a user task row has {string.Join(", ", Fields)}", property.Name);
                }
            }

            var choices = row.Strings("choices");
            if (choices.Count < 2)
            {
                throw row.Error(DiagnosticCodes.EvalRowWrongChoiceCount, $"'choices' has {choices.Count} choice(s); at least 2 expected", "choices");
            }

            if (choices.Any(c => c.Length == 0))
            {
                throw row.Error(DiagnosticCodes.EvalRowInvalidValue, "a choice is empty", "choices");
            }

            var gold = row.Int("gold", allowDigitString: false);
            if (gold < 0 || gold >= choices.Count)
            {
                throw row.Error(DiagnosticCodes.EvalRowBadAnswer, $"'gold' is {gold}, outside the {choices.Count} choices (0 to {choices.Count - 1})", "gold");
            }

            var delimiter = row.OptionalString("continuation_delimiter") ?? " ";
            docs.Add(new TaskDoc(row.OptionalString("id") ?? row.FallbackId, null, description, row.String("context"), choices, gold, Delimiter: delimiter));
        }

        return docs;
    }

    private static (string? Name, string Description, int? NumFewshot) ReadHeader(string dataPath)
    {
        var headerPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dataPath))!, Path.GetFileNameWithoutExtension(dataPath) + ".task.json");
        if (!File.Exists(headerPath))
        {
            return (null, "", null);
        }

        JsonElement header;
        try
        {
            var bytes = DataFiles.ReadAllBytes(headerPath);
            JsonText.EnsureValidStrings(bytes, headerPath);
            using var doc = JsonDocument.Parse(JsonText.WithoutBom(bytes).ToArray());
            header = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalUserTaskHeaderInvalid, $"malformed JSON: {e.Message}",
                new DiagnosticLocation(headerPath, (int)(e.LineNumber ?? 0) + 1), e);
        }

        var row = new DataRow(headerPath, 1, header);
        if (header.ValueKind != JsonValueKind.Object)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalUserTaskHeaderInvalid, "a task header is a JSON object", new DiagnosticLocation(headerPath));
        }

        foreach (var property in header.EnumerateObject().Where(p => !HeaderFields.Contains(p.Name)))
        {
            throw new LlamaNasException(DiagnosticCodes.EvalUserTaskHeaderInvalid,
                $"unknown field '{property.Name}'; a task header has {string.Join(", ", HeaderFields)}", new DiagnosticLocation(headerPath, Item: property.Name));
        }

        try
        {
            int? k = row.Has("num_fewshot") ? row.Int("num_fewshot") : null;
            return (row.OptionalString("name"), row.OptionalString("description") ?? "", k);
        }
        catch (LlamaNasException e)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalUserTaskHeaderInvalid, e.Diagnostic.Message, e.Diagnostic.Location, e);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex ValidName();
}
