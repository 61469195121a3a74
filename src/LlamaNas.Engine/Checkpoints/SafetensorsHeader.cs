using System.Text.Json;
using System.Text.Unicode;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Engine.Checkpoints;

/// <summary>Parses and validates the JSON header of a safetensors file against the size of its data buffer.</summary>
internal static class SafetensorsHeader
{
    public const string MetadataKey = "__metadata__";

    public static (List<SafetensorsTensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(ReadOnlyMemory<byte> header, long dataLength, string path)
    {
        var file = Path.GetFileName(path);
        if (!Utf8.IsValid(header.Span))
        {
            throw Error(DiagnosticCodes.SafetensorsHeaderInvalid, path, $"the header of {file} is not valid UTF-8; the file is damaged or not a safetensors file. Re-download or re-export it.");
        }

        JsonText.EnsureValidStrings(header.Span, path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw Error(DiagnosticCodes.SafetensorsHeaderInvalid, path, $"the header of {file} is not valid JSON ({e.Message}); the file is damaged or not a safetensors file. Re-download or re-export it.", inner: e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Error(DiagnosticCodes.SafetensorsHeaderInvalid, path, $"the header of {file} must be a JSON object mapping tensor names to entries, not {document.RootElement.ValueKind}. Re-export the file.");
            }

            var tensors = new List<SafetensorsTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw Error(DiagnosticCodes.SafetensorsDuplicateTensor, path, $"{file} lists '{property.Name}' twice in its header, so which data is meant is ambiguous. Re-export the file.", property.Name);
                }

                if (property.Name == MetadataKey)
                {
                    ParseMetadata(property.Value, metadata, path);
                }
                else
                {
                    tensors.Add(ParseEntry(property.Name, property.Value, dataLength, path));
                }
            }

            CheckLayout(tensors, dataLength, path);
            return (tensors, metadata);
        }
    }

    private static void ParseMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Error(DiagnosticCodes.SafetensorsMetadataInvalid, path, $"__metadata__ in {Path.GetFileName(path)} must be an object of strings, not {value.ValueKind}. Re-export the file.", MetadataKey);
        }

        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String || !metadata.TryAdd(entry.Name, entry.Value.GetString()!))
            {
                throw Error(DiagnosticCodes.SafetensorsMetadataInvalid, path, $"__metadata__ in {Path.GetFileName(path)} must map each key once to a string; '{entry.Name}' breaks that. Re-export the file.", MetadataKey);
            }
        }
    }

    private static SafetensorsTensorInfo ParseEntry(string name, JsonElement entry, long dataLength, string path)
    {
        var file = Path.GetFileName(path);
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw Error(DiagnosticCodes.SafetensorsHeaderInvalid, path, $"the header entry for '{name}' in {file} must be an object with dtype, shape and data_offsets, not {entry.ValueKind}. Re-export the file.", name);
        }

        if (!entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw Error(DiagnosticCodes.SafetensorsHeaderInvalid, path, $"the header entry for '{name}' in {file} lacks a string 'dtype'. Re-export the file.", name);
        }

        var dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
        {
            throw Error(DiagnosticCodes.SafetensorsUnknownDType, path, $"'{name}' in {file} has dtype '{dtypeName}', which is not one of {SafetensorsDTypes.KnownNames}. Convert the checkpoint to F32, F16 or BF16.", name);
        }

        var shape = ParseShape(name, entry, path);
        var (begin, end) = ParseOffsets(name, entry, path);
        if (end > dataLength)
        {
            throw Error(DiagnosticCodes.SafetensorsInvalidOffsets, path, $"'{name}' in {file} ends at byte {end} of the data, but the data holds only {dataLength} bytes: the file is truncated. Re-download or re-export it.", name);
        }

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, d) => a * d) * dtype.Size());
        }
        catch (OverflowException)
        {
            throw Error(DiagnosticCodes.SafetensorsInvalidShape, path, $"'{name}' in {file} has shape [{string.Join(", ", shape)}], too large for any file. Re-export the file.", name);
        }

        if (end - begin != expected)
        {
            throw Error(DiagnosticCodes.SafetensorsSizeMismatch, path, $"'{name}' in {file} occupies {end - begin} bytes, but {dtypeName} with shape [{string.Join(", ", shape)}] needs {expected}. Re-export the file.", name);
        }

        return new SafetensorsTensorInfo(name, dtype, shape, begin, end, path);
    }

    private static long[] ParseShape(string name, JsonElement entry, string path)
    {
        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw Error(DiagnosticCodes.SafetensorsInvalidShape, path, $"the header entry for '{name}' in {Path.GetFileName(path)} lacks a 'shape' array. Re-export the file.", name);
        }

        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var d) || d < 0)
            {
                throw Error(DiagnosticCodes.SafetensorsInvalidShape, path, $"'{name}' in {Path.GetFileName(path)} has shape {shapeElement.GetRawText()}; every dimension must be a non-negative integer. Re-export the file.", name);
            }

            shape[i++] = d;
        }

        return shape;
    }

    private static (long Begin, long End) ParseOffsets(string name, JsonElement entry, string path)
    {
        var file = Path.GetFileName(path);
        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2
            || !TryGetOffset(offsets[0], out var begin) || !TryGetOffset(offsets[1], out var end))
        {
            var found = entry.TryGetProperty("data_offsets", out var raw) ? raw.GetRawText() : "nothing";
            throw Error(DiagnosticCodes.SafetensorsInvalidOffsets, path, $"'{name}' in {file} needs data_offsets [begin, end] of two non-negative integers, found {found}. Re-export the file.", name);
        }

        if (begin > end)
        {
            throw Error(DiagnosticCodes.SafetensorsInvalidOffsets, path, $"'{name}' in {file} has data_offsets [{begin}, {end}]: begin lies after end. Re-export the file.", name);
        }

        return (begin, end);
    }

    private static bool TryGetOffset(JsonElement element, out long value)
    {
        value = 0;
        return element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out value) && value >= 0;
    }

    /// <summary>
    /// Like the reference implementation, the tensors must cover the data section exactly: from byte 0, each one
    /// where the previous ends, the last at its end. A hole would otherwise go unnoticed (LNAS0243).
    /// </summary>
    private static void CheckLayout(List<SafetensorsTensorInfo> tensors, long dataLength, string path)
    {
        SafetensorsTensorInfo? previous = null;
        foreach (var t in tensors.Where(t => t.ByteCount > 0).OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd))
        {
            var expectedBegin = previous?.DataEnd ?? 0;
            if (t.DataBegin > expectedBegin)
            {
                throw Error(
                    DiagnosticCodes.SafetensorsDataNotContiguous,
                    path,
                    $"'{t.Name}' starts at byte {t.DataBegin} of the data, but the bytes from {expectedBegin} belong to no tensor in {Path.GetFileName(path)}; the data section must be exactly covered by the tensors. Re-export the file.",
                    t.Name);
            }

            if (previous is not null && t.DataBegin < previous.DataEnd)
            {
                throw Error(
                    DiagnosticCodes.SafetensorsOverlappingTensors,
                    path,
                    $"'{t.Name}' (bytes {t.DataBegin}-{t.DataEnd}) overlaps '{previous.Name}' (bytes {previous.DataBegin}-{previous.DataEnd}) in {Path.GetFileName(path)}; each tensor needs its own bytes. Re-export the file.",
                    t.Name);
            }

            if (previous is null || t.DataEnd > previous.DataEnd)
            {
                previous = t;
            }
        }

        var covered = previous?.DataEnd ?? 0;
        if (covered != dataLength)
        {
            throw Error(
                DiagnosticCodes.SafetensorsDataNotContiguous,
                path,
                $"the tensors of {Path.GetFileName(path)} cover {covered} bytes, but its data section holds {dataLength}; the data section must be exactly covered by the tensors. Re-export the file.");
        }
    }

    internal static LlamaNasException Error(string code, string path, string message, string? item = null, Exception? inner = null) =>
        new(code, message, new DiagnosticLocation(path, Item: item), inner);
}
