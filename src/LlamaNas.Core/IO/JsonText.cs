using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Core.IO;

/// <summary>
/// Checks the text inside JSON strings before a parser reads them. System.Text.Json accepts raw invalid UTF-8 and
/// escaped lone surrogates (<c>"\ud800"</c>) while parsing, then throws <see cref="InvalidOperationException"/> when a
/// string is read; every JSON reader of user files calls <see cref="EnsureValidStrings(ReadOnlySpan{byte}, string)"/>
/// first so such a file is a coded LNAS0112 at its line and column instead.
/// </summary>
public static class JsonText
{
    // As lenient as any of our parsers: whatever they accept is scanned. JSON lines are several top-level values.
    private static readonly JsonReaderOptions ScanOptions = new()
    {
        AllowTrailingCommas = true,
        AllowMultipleValues = true,
        CommentHandling = JsonCommentHandling.Skip,
        MaxDepth = 1024,
    };

    /// <summary>
    /// Throws LNAS0112 at the first string or property name of <paramref name="json"/> (one JSON document or JSON lines,
    /// with or without a byte-order mark) that is not valid Unicode. Syntax errors are left to the caller's parser,
    /// which reports them with its own code; the scan stops there.
    /// </summary>
    public static void EnsureValidStrings(ReadOnlySpan<byte> json, string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var bom = Encoding.UTF8.Preamble;
        var start = json.StartsWith(bom) ? bom.Length : 0;
        var text = json[start..];
        var reader = new Utf8JsonReader(text, ScanOptions);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || IsValid(ref reader))
                {
                    continue;
                }

                var offset = (int)reader.TokenStartIndex;
                var before = text[..offset];
                var line = before.Count((byte)'\n') + 1;
                var column = offset - (before.LastIndexOf((byte)'\n') + 1) + 1;
                var what = reader.TokenType == JsonTokenType.PropertyName ? "a property name" : "a string value";
                throw new LlamaNasException(
                    DiagnosticCodes.JsonInvalidText,
                    $"{what} in {Path.GetFileName(file)} is not valid text (invalid UTF-8 bytes or an unpaired \\uD800-\\uDFFF escape). Save the file as UTF-8 and replace the broken characters.",
                    new DiagnosticLocation(file, line, column));
            }
        }
        catch (JsonException)
        {
            // The caller's parser reports the syntax error at the same place.
        }
    }

    /// <summary>Reads <paramref name="file"/> and checks it with <see cref="EnsureValidStrings(ReadOnlySpan{byte}, string)"/>.</summary>
    public static byte[] ReadChecked(string file)
    {
        var bytes = File.ReadAllBytes(file);
        EnsureValidStrings(bytes, file);
        return bytes;
    }

    /// <summary>The UTF-8 text of <paramref name="bytes"/> without a leading byte-order mark.</summary>
    public static ReadOnlySpan<byte> WithoutBom(ReadOnlySpan<byte> bytes) =>
        bytes.StartsWith(Encoding.UTF8.Preamble) ? bytes[Encoding.UTF8.Preamble.Length..] : bytes;

    private static bool IsValid(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return Utf8.IsValid(reader.ValueSpan);
        }

        try
        {
            reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
