using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Tokenization;

namespace LlamaNas.Engine.Training.Data;

/// <summary>Plain-text corpora for causal-LM training: a .txt with separator lines, or .jsonl with a text field.</summary>
public static class TextCorpus
{
    public static IReadOnlyList<string> Load(string path, string separator = "<|endoftext|>", string jsonField = "text")
    {
        if (!File.Exists(path))
        {
            throw new LlamaNasException(DiagnosticCodes.TrainingDataNotFound, "text corpus file not found.", new DiagnosticLocation(path));
        }

        var docs = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? LoadJsonl(path, jsonField) : PerplexityEvaluator.ReadDocuments(path, separator);
        return docs.Count > 0 ? docs : throw new LlamaNasException(DiagnosticCodes.TrainingDataEmpty, "the corpus holds no text.", new DiagnosticLocation(path));
    }

    /// <summary>BOS + text + EOS, every token a target.</summary>
    public static TrainingExample Tokenize(string document, ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        List<int> tokens = [.. tokenizer.BosId is { } bos ? [bos] : Array.Empty<int>(), .. tokenizer.Encode(document, addSpecialTokens: false)];
        if (tokenizer.EosId is { } eos)
        {
            tokens.Add(eos);
        }

        return new TrainingExample([.. tokens], [.. tokens.Select((_, i) => i > 0)]);
    }

    private static List<string> LoadJsonl(string path, string field)
    {
        var docs = new List<string>();
        var lineNumber = 0;
        foreach (var line in InstructionData.ReadJsonText(path).Split('\n'))
        {
            lineNumber++;
            if (line.Trim().Length == 0)
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty(field, out var v) || v.ValueKind != JsonValueKind.String)
                {
                    throw new LlamaNasException(DiagnosticCodes.TrainingDataInvalidRecord, $"each line needs a string field '{field}'.", new DiagnosticLocation(path, lineNumber, Item: field));
                }

                docs.Add(v.GetString()!);
            }
            catch (JsonException e)
            {
                throw new LlamaNasException(DiagnosticCodes.TrainingDataInvalidJson, $"not valid JSON: {e.Message}", new DiagnosticLocation(path, lineNumber), e);
            }
        }

        return docs;
    }
}
