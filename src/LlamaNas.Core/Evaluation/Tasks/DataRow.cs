using System.Globalization;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Core.Evaluation.Tasks;

/// <summary>
/// One record of a task data file as a JSON value, whatever the file's format, with where it came from: the line for
/// text formats (JSON lines, JSON arrays, CSV) and the 1-based row number for Parquet. Field access throws coded
/// errors that name the file, the line or row, and the field.
/// </summary>
internal sealed class DataRow(string file, int line, JsonElement value, bool isParquetRow = false)
{
    public string File { get; } = file;

    public int Line { get; } = line;

    public JsonElement Value { get; } = value;

    /// <summary>"file:line" (or "file:row"), the identity of a row without an id of its own.</summary>
    public string FallbackId => $"{Path.GetFileName(File)}:{Line}";

    /// <summary>A coded error at this row; Parquet rows also say "row N" in the message, as their location's number is no line.</summary>
    public LlamaNasException Error(string code, string message, string? field = null) =>
        new(code, isParquetRow ? $"row {Line}: {message}" : message, new DiagnosticLocation(File, Line, Item: field));

    public bool Has(string path) => TryGet(path, out _);

    public JsonElement Get(string path) =>
        TryGet(path, out var element) ? element : throw Error(DiagnosticCodes.EvalRowMissingField, $"missing field '{path}'", path);

    public string String(string path)
    {
        var element = Get(path);
        return element.ValueKind == JsonValueKind.String
            ? element.GetString()!
            : throw Error(DiagnosticCodes.EvalRowInvalidValue, $"field '{path}' must be a string, not {Describe(element)}", path);
    }

    public string? OptionalString(string path) => Has(path) ? String(path) : null;

    /// <summary>
    /// An integer given as a JSON number or, when <paramref name="allowDigitString"/>, as a string of digits (Hugging
    /// Face stores some labels as "3"; a schema of our own says number and means it).
    /// </summary>
    public int Int(string path, bool allowDigitString = true)
    {
        var element = Get(path);
        if (element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var number))
        {
            return number;
        }

        if (allowDigitString && element.ValueKind == JsonValueKind.String
            && int.TryParse(element.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number))
        {
            return number;
        }

        throw Error(DiagnosticCodes.EvalRowInvalidValue, $"field '{path}' must be an integer, not {Describe(element)}", path);
    }

    public IReadOnlyList<JsonElement> Array(string path)
    {
        var element = Get(path);
        return element.ValueKind == JsonValueKind.Array
            ? [.. element.EnumerateArray()]
            : throw Error(DiagnosticCodes.EvalRowInvalidValue, $"field '{path}' must be a list, not {Describe(element)}", path);
    }

    public IReadOnlyList<string> Strings(string path) =>
        [.. Array(path).Select((e, i) => e.ValueKind == JsonValueKind.String
            ? e.GetString()!
            : throw Error(DiagnosticCodes.EvalRowInvalidValue, $"'{path}[{i}]' must be a string, not {Describe(e)}", path))];

    public IReadOnlyList<int> Ints(string path) =>
        [.. Array(path).Select((e, i) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v)
            ? v
            : throw Error(DiagnosticCodes.EvalRowInvalidValue, $"'{path}[{i}]' must be an integer, not {Describe(e)}", path))];

    public static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Shorten(element.GetString()!)}\"",
        JsonValueKind.Number => $"the number {element.GetRawText()}",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {element.GetRawText()}",
        _ => "null",
    };

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private bool TryGet(string path, out JsonElement element)
    {
        element = Value;
        foreach (var part in path.Split('.'))
        {
            if (element.ValueKind == JsonValueKind.Array && int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                if (index >= element.GetArrayLength())
                {
                    return false;
                }

                element = element[index];
            }
            else if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element))
            {
                return false;
            }
        }

        return element.ValueKind != JsonValueKind.Null;
    }
}
