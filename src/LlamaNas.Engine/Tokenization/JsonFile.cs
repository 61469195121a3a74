using System.Globalization;
using System.Text;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Engine.Tokenization;

/// <summary>
/// Points diagnostics at the line and column of a value in a JSON file, named by its path of property names and
/// array indices (<c>["model", "merges", 12]</c>). Locating re-reads the bytes, so it costs nothing until an error.
/// </summary>
internal sealed class JsonLocator(string path, byte[] bytes)
{
    public string Path { get; } = path;

    /// <summary>The location of the value at <paramref name="jsonPath"/> (strings are property names, ints array indices).</summary>
    public DiagnosticLocation Where(params object[] jsonPath)
    {
        var item = FormatPath(jsonPath);
        var offset = FindOffset(jsonPath);
        if (offset < 0)
        {
            return new DiagnosticLocation(Path, Item: item.Length == 0 ? null : item);
        }

        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        var column = Encoding.UTF8.GetCharCount(bytes, lineStart, (int)offset - lineStart) + 1;
        return new DiagnosticLocation(Path, line, column, item.Length == 0 ? null : item);
    }

    internal static string FormatPath(IReadOnlyList<object> jsonPath)
    {
        var sb = new StringBuilder();
        foreach (var segment in jsonPath)
        {
            if (segment is int index)
            {
                sb.Append('[').Append(index.ToString(CultureInfo.InvariantCulture)).Append(']');
            }
            else
            {
                if (sb.Length > 0)
                {
                    sb.Append('.');
                }

                sb.Append(segment);
            }
        }

        return sb.ToString();
    }

    private long FindOffset(IReadOnlyList<object> target)
    {
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 256 });
        var path = new List<object>();
        var arrayIndex = new Stack<int>(); // next index of each open container; -1 marks an object
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    path[^1] = reader.GetString()!;
                    continue;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    arrayIndex.Pop();
                    path.RemoveAt(path.Count - 1);
                    continue;
            }

            if (arrayIndex.Count > 0 && arrayIndex.Peek() >= 0)
            {
                var next = arrayIndex.Pop();
                path[^1] = next;
                arrayIndex.Push(next + 1);
            }

            if (SamePath(path, target))
            {
                return reader.TokenStartIndex;
            }

            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                arrayIndex.Push(reader.TokenType == JsonTokenType.StartArray ? 0 : -1);
                path.Add(string.Empty);
            }
        }

        return -1;
    }

    private static bool SamePath(List<object> path, IReadOnlyList<object> target)
    {
        if (path.Count != target.Count)
        {
            return false;
        }

        for (var i = 0; i < path.Count; i++)
        {
            if (!Equals(path[i], target[i]))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>A value's place in a JSON file, resolved to a line and column only when a diagnostic needs it.</summary>
internal sealed record JsonPointer(JsonLocator Locator, object[] Path)
{
    public DiagnosticLocation Where() => Locator.Where(Path);
}

/// <summary>A parsed JSON file with a <see cref="JsonLocator"/> for its diagnostics.</summary>
internal sealed class JsonFile : IDisposable
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, MaxDepth = 256 };

    private readonly JsonDocument _document;

    private JsonFile(JsonLocator locator, JsonDocument document)
    {
        Locator = locator;
        _document = document;
    }

    public JsonLocator Locator { get; }

    public string Path => Locator.Path;

    public JsonElement Root => _document.RootElement;

    /// <summary>Reads and parses <paramref name="path"/>; syntax errors become <paramref name="invalidCode"/> at their line and column.</summary>
    public static JsonFile Load(string path, string invalidCode)
    {
        var bytes = TokenizerFiles.ReadAllBytes(path);
        JsonText.EnsureValidStrings(bytes, path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, DocumentOptions);
        }
        catch (JsonException e)
        {
            var name = System.IO.Path.GetFileName(path);
            throw new LlamaNasException(invalidCode, $"{name} is not valid JSON: {e.Message}",
                new DiagnosticLocation(path, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1), e);
        }

        return new JsonFile(new JsonLocator(path, bytes), document);
    }

    public DiagnosticLocation Where(params object[] jsonPath) => Locator.Where(jsonPath);

    public void Dispose() => _document.Dispose();
}
