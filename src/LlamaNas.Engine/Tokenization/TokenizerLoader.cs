using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Models;

namespace LlamaNas.Engine.Tokenization;

/// <summary>Loads the tokenizer of a Hugging Face model directory, or a tokenizer file given directly.</summary>
public static class TokenizerLoader
{
    public const string SentencePieceFileName = "tokenizer.model";
    public const string TokenizerJsonFileName = "tokenizer.json";
    public const string TokenizerConfigFileName = "tokenizer_config.json";
    public const string ModelConfigFileName = "config.json";

    /// <summary>The tokenizer and generation files a model folder may hold; copied along whenever a model is written.</summary>
    public static IReadOnlyList<string> CompanionFiles { get; } = [SentencePieceFileName, TokenizerJsonFileName, TokenizerConfigFileName, "special_tokens_map.json", "generation_config.json"];

    /// <summary>
    /// <paramref name="path"/> is a model directory or a tokenizer file. In a directory, <c>tokenizer.model</c>
    /// (SentencePiece) is used when present, else <c>tokenizer.json</c> (byte-level BPE). A file ending in <c>.json</c>
    /// is read as <c>tokenizer.json</c>, any other as a SentencePiece model. <c>tokenizer_config.json</c> beside it
    /// supplies <c>add_bos_token</c>, <c>add_eos_token</c>, <c>bos_token</c>, <c>eos_token</c>,
    /// <c>clean_up_tokenization_spaces</c> and (for SentencePiece) <c>added_tokens_decoder</c>.
    /// </summary>
    public static ITextTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string file;
        if (Directory.Exists(path))
        {
            var model = Path.Combine(path, SentencePieceFileName);
            var json = Path.Combine(path, TokenizerJsonFileName);
            file = File.Exists(model) ? model : File.Exists(json) ? json
                : throw new LlamaNasException(DiagnosticCodes.TokenizerNotFound,
                    $"the directory holds neither {SentencePieceFileName} nor {TokenizerJsonFileName}.", new DiagnosticLocation(path));
        }
        else if (File.Exists(path))
        {
            file = path;
        }
        else
        {
            throw new LlamaNasException(DiagnosticCodes.TokenizerNotFound, "no tokenizer file or model directory at this path.", new DiagnosticLocation(path));
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var configPath = Path.Combine(directory, TokenizerConfigFileName);
        var config = File.Exists(configPath) ? TokenizerConfig.Load(configPath) : TokenizerConfig.Empty;
        return file.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? ByteLevelBpeTokenizer.Load(file, config, ReadModelConfigIds(Path.Combine(directory, ModelConfigFileName)))
            : SentencePieceBpeTokenizer.Load(file, config);
    }

    /// <summary>
    /// The tokenizer of model directory <paramref name="directory"/>, checked against the model's embedding
    /// (config.json's <c>vocab_size</c>): every verb that runs a model with a tokenizer loads it here.
    /// </summary>
    public static ITextTokenizer LoadForModel(string directory)
    {
        var tokenizer = Load(directory);
        EnsureFits(tokenizer, LlamaConfig.Load(Path.Combine(directory, ModelConfigFileName)).VocabSize, directory);
        return tokenizer;
    }

    /// <summary>
    /// LNAS0310 when <paramref name="tokenizer"/> can produce ids the model has no embedding row for (libtorch would
    /// fail mid-run with "index out of range").
    /// </summary>
    public static void EnsureFits(ITextTokenizer tokenizer, int modelVocabSize, string directory)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var needed = new[] { tokenizer.VocabSize, (tokenizer.BosId ?? -1) + 1, (tokenizer.EosId ?? -1) + 1 }.Max();
        if (needed > modelVocabSize)
        {
            throw new LlamaNasException(
                DiagnosticCodes.TokenizerLargerThanModel,
                $"the tokenizer has {needed} token ids but the model's embedding has {modelVocabSize} rows (config.json vocab_size), so ids from {modelVocabSize} on have no weights. Put the model's own tokenizer files beside it.",
                new DiagnosticLocation(directory));
        }
    }

    // bos_token_id / eos_token_id of config.json (eos may be a list; its first entry is the tokenizer's EOS).
    private static SpecialIds ReadModelConfigIds(string path)
    {
        if (!File.Exists(path))
        {
            return default;
        }

        using var file = JsonFile.Load(path, DiagnosticCodes.TokenizerConfigInvalid);
        var root = JsonValue.Root(file, DiagnosticCodes.TokenizerConfigInvalid);
        if (root.Kind != JsonValueKind.Object)
        {
            return default;
        }

        var eos = root.Optional("eos_token_id");
        return new SpecialIds(
            root.Optional("bos_token_id")?.GetTokenId(),
            eos is { Kind: JsonValueKind.Array } list ? list.Items().Select(i => (int?)i.GetTokenId()).FirstOrDefault() : eos?.GetTokenId());
    }
}
