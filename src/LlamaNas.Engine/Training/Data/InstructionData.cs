using System.Text;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Engine.Tokenization;

namespace LlamaNas.Engine.Training.Data;

/// <summary>One Alpaca-style record.</summary>
public sealed record InstructionRecord(string Instruction, string Input, string Output);

/// <summary>Alpaca instruction data: loading (JSON array or jsonl) and the Stanford Alpaca prompt template.</summary>
public static class InstructionData
{
    /// <summary>The Stanford Alpaca template (with and without an input).</summary>
    public static string Prompt(InstructionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.Input.Length == 0
            ? "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
              $"### Instruction:\n{record.Instruction}\n\n### Response:\n"
            : "Below is an instruction that describes a task, paired with an input that provides further context. " +
              $"Write a response that appropriately completes the request.\n\n### Instruction:\n{record.Instruction}\n\n### Input:\n{record.Input}\n\n### Response:\n";
    }

    /// <summary>
    /// BOS + prompt + response + EOS, targets on the response and EOS only. The prompt's length is measured by
    /// tokenizing it alone, as the Alpaca reference code does.
    /// </summary>
    public static TrainingExample Tokenize(InstructionRecord record, ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var prompt = Prompt(record);
        var promptTokens = tokenizer.Encode(prompt, addSpecialTokens: false);
        var full = tokenizer.Encode(prompt + record.Output, addSpecialTokens: false);
        var tokens = new List<int>(full.Count + 2);
        if (tokenizer.BosId is { } bos)
        {
            tokens.Add(bos);
        }

        var responseStart = tokens.Count + promptTokens.Count;
        tokens.AddRange(full);
        if (tokenizer.EosId is { } eos)
        {
            tokens.Add(eos);
        }

        return new TrainingExample([.. tokens], [.. tokens.Select((_, i) => i >= responseStart)]);
    }

    /// <summary>Reads a JSON array of records or jsonl (one record per line); every problem names file and record.</summary>
    public static IReadOnlyList<InstructionRecord> Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingDataNotFound, "instruction data file not found.", new DiagnosticLocation(path));
        }

        var text = ReadJsonText(path);
        var records = new List<InstructionRecord>();
        if (text.TrimStart().StartsWith('['))
        {
            using var doc = Parse(text, path, 0);
            var i = 0;
            foreach (var element in doc.RootElement.EnumerateArray())
            {
                records.Add(Record(element, path, 0, $"record {i++}"));
            }
        }
        else
        {
            var lineNumber = 0;
            foreach (var line in text.Split('\n'))
            {
                lineNumber++;
                if (line.Trim().Length == 0)
                {
                    continue;
                }

                using var doc = Parse(line, path, lineNumber);
                records.Add(Record(doc.RootElement, path, lineNumber, null));
            }
        }

        return records.Count > 0 ? records : throw new LlamaNasException(DiagnosticCodes.TrainingDataEmpty, "the instruction data holds no records.", new DiagnosticLocation(path));
    }

    /// <summary>A JSON or JSON-lines training file as text, its strings checked (LNAS0112) and read failures coded (LNAS0705).</summary>
    internal static string ReadJsonText(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingInputUnreadable, $"{Path.GetFileName(path)} could not be read: {e.Message}", new DiagnosticLocation(path), e);
        }

        JsonText.EnsureValidStrings(bytes, path);
        return Encoding.UTF8.GetString(JsonText.WithoutBom(bytes));
    }

    private static JsonDocument Parse(string json, string path, int line)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            var at = line > 0 ? line : (int)(e.LineNumber ?? 0) + 1;
            throw new LlamaNasException(DiagnosticCodes.TrainingDataInvalidJson, $"not valid JSON: {e.Message}", new DiagnosticLocation(path, at), e);
        }
    }

    private static InstructionRecord Record(JsonElement e, string path, int line, string? item)
    {
        string Field(string name, bool required)
        {
            if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v))
            {
                return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw Bad($"field '{name}' must be a string");
            }

            return required ? throw Bad($"field '{name}' is missing") : string.Empty;
        }

        LlamaNasException Bad(string what) => new(DiagnosticCodes.TrainingDataInvalidRecord, $"instruction record: {what} (expected instruction, optional input, output).", new DiagnosticLocation(path, line, Item: item));

        if (e.ValueKind != JsonValueKind.Object)
        {
            throw Bad("not a JSON object");
        }

        return new InstructionRecord(Field("instruction", true), Field("input", false), Field("output", true));
    }
}
