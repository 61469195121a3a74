using System.Text;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Core.Evaluation.Tasks;

/// <summary>The tabular formats task data comes in, each read into <see cref="DataRow"/>s in file order.</summary>
internal enum DataFormat
{
    JsonLines,
    Json,
    Csv,
    Parquet,
    HellaSwagText,
}

internal static class DataFiles
{
    public static DataFormat FormatOf(string path) => Path.GetExtension(path).ToUpperInvariant() switch
    {
        ".JSONL" => DataFormat.JsonLines,
        ".JSON" => DataFormat.Json,
        ".CSV" => DataFormat.Csv,
        ".PARQUET" => DataFormat.Parquet,
        ".TXT" => DataFormat.HellaSwagText,
        _ => throw new LlamaNasException(DiagnosticCodes.EvalFileFormatUnsupported,
            "unknown data file type: expected .jsonl, .json, .csv, .parquet (or .txt for HellaSwag's text layout)", new DiagnosticLocation(path)),
    };

    /// <summary>Rows of a JSON, JSON-lines, CSV or Parquet file. The text layout of HellaSwag has its own reader.</summary>
    public static IReadOnlyList<DataRow> ReadRows(string path) => FormatOf(path) switch
    {
        DataFormat.JsonLines => ReadJsonLines(path),
        DataFormat.Json => ReadJson(path),
        DataFormat.Csv => CsvRows.Read(path),
        DataFormat.Parquet => ParquetRows.Read(path),
        _ => throw new LlamaNasException(DiagnosticCodes.EvalFileFormatUnsupported,
            "a .txt file holds HellaSwag's text layout and no other task's data", new DiagnosticLocation(path)),
    };

    public static byte[] ReadAllBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalDataNotFound, $"cannot read the data file: {e.Message}", new DiagnosticLocation(path), e);
        }
    }

    /// <summary>The file as UTF-8 text lines (a byte-order mark is dropped; "\r\n" and "\n" both end a line).</summary>
    public static string[] ReadLines(string path) => SplitLines(DecodeUtf8(ReadAllBytes(path)));

    private static string[] SplitLines(string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            lines[i] = lines[i].TrimEnd('\r');
        }

        return lines;
    }

    public static string DecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        var bom = Encoding.UTF8.Preamble;
        return Encoding.UTF8.GetString(bytes.StartsWith(bom) ? bytes[bom.Length..] : bytes);
    }

    /// <summary>One JSON object a line; blank lines are skipped.</summary>
    private static List<DataRow> ReadJsonLines(string path)
    {
        var rows = new List<DataRow>();
        var bytes = ReadAllBytes(path);
        JsonText.EnsureValidStrings(bytes, path);
        var lines = SplitLines(DecodeUtf8(bytes));
        for (var i = 0; i < lines.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(lines[i]))
            {
                continue;
            }

            JsonElement value;
            try
            {
                using var doc = JsonDocument.Parse(lines[i]);
                value = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new LlamaNasException(DiagnosticCodes.EvalRowMalformedJson, $"malformed JSON: {e.Message}",
                    new DiagnosticLocation(path, i + 1, (int)(e.BytePositionInLine ?? 0) + 1), e);
            }

            rows.Add(ObjectRow(path, i + 1, value));
        }

        return rows;
    }

    /// <summary>A JSON array of objects; a .json file that does not start with '[' is read as JSON lines (the Hugging Face export).</summary>
    private static List<DataRow> ReadJson(string path)
    {
        var bytes = ReadAllBytes(path);
        JsonText.EnsureValidStrings(bytes, path);
        var start = bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble) ? Encoding.UTF8.Preamble.Length : 0;
        var first = start;
        while (first < bytes.Length && bytes[first] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            first++;
        }

        if (first >= bytes.Length || bytes[first] != (byte)'[')
        {
            return ReadJsonLines(path);
        }

        var rows = new List<DataRow>();
        var reader = new Utf8JsonReader(bytes.AsSpan(start), new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        var line = 1;
        var counted = 0L;
        try
        {
            reader.Read();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                line += bytes.AsSpan(start + (int)counted, (int)(reader.TokenStartIndex - counted)).Count((byte)'\n');
                counted = reader.TokenStartIndex;
                var value = JsonElement.ParseValue(ref reader);
                rows.Add(ObjectRow(path, line, value));
            }

            if (reader.TokenType != JsonTokenType.EndArray || reader.Read())
            {
                throw new JsonException("the array is not closed, or text follows it");
            }
        }
        catch (JsonException e)
        {
            var errorLine = e.LineNumber is { } l ? (int)l + 1 : line;
            throw new LlamaNasException(DiagnosticCodes.EvalRowMalformedJson, $"malformed JSON: {e.Message}",
                new DiagnosticLocation(path, errorLine, (int)(e.BytePositionInLine ?? 0) + 1), e);
        }

        return rows;
    }

    private static DataRow ObjectRow(string path, int line, JsonElement value) =>
        value.ValueKind == JsonValueKind.Object
            ? new DataRow(path, line, value)
            : throw new LlamaNasException(DiagnosticCodes.EvalRowInvalidValue,
                $"a row must be a JSON object, not {DataRow.Describe(value)}", new DiagnosticLocation(path, line));
}
