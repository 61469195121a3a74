using System.Globalization;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Export;

/// <summary>
/// A sub-network as a GGUF file llama.cpp runs: architecture <c>llama</c> when every layer has the same MLP width
/// and heads, else <c>deci</c> with per-layer <c>feed_forward_length</c>, <c>attention.head_count</c> and
/// <c>attention.head_count_kv</c> arrays (llama.cpp reads those per layer for deci). Key and tensor names, type ids
/// and the q/k row order follow llama.cpp's converter (convert_hf_to_gguf.py, gguf-py constants).
/// </summary>
public static class GgufModel
{
    /// <summary>A llamanas key: the sub-network a file holds; its presence also marks the file as written by llamanas.</summary>
    public const string SubnetworkKey = "llamanas.subnetwork";

    /// <summary>A llamanas key: the matrices kept F16 in a Q8_0 file because their rows are not a multiple of 32.</summary>
    public const string FallbackKey = "llamanas.f16_fallback";

    // llama_ftype values of general.file_type.
    private static uint FileType(ExportDType dtype) => dtype switch
    {
        ExportDType.F16 => 1,
        ExportDType.Q8_0 => 7,
        ExportDType.Bf16 => 32,
        _ => 0,
    };

    internal static ExportResult Write(LlamaForCausalLM model, SubnetworkArchitecture arch, ITextTokenizer tokenizer, string tokenizerDirectory, string path, ExportOptions options)
    {
        var config = model.Config.WithLayers(arch.HiddenSize, arch.IntermediateSizes, arch.AttentionHeads, arch.KeyValueHeads);
        if (config.RopeScaling is { Type: not ("linear" or "llama3") } scaling)
        {
            throw new LlamaNasException(DiagnosticCodes.ExportUnsupportedModel, $"the model uses '{scaling.Type}' RoPE scaling, which has no GGUF form here; export safetensors instead.");
        }

        var uniform = arch.IntermediateSizes.Distinct().Count() == 1 && arch.AttentionHeads.Distinct().Count() == 1 && arch.KeyValueHeads.Distinct().Count() == 1;
        var architecture = uniform ? "llama" : "deci";
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.Of(architecture));
        writer.Add("general.name", GgufValue.Of(options.Name ?? "llamanas sub-network"));
        writer.Add("general.file_type", GgufValue.Of(FileType(options.DType)));
        if (options.DType == ExportDType.Q8_0)
        {
            writer.Add("general.quantization_version", GgufValue.Of(2u));
        }

        writer.Add(SubnetworkKey, GgufValue.Of(arch.ToString()));
        writer.Add($"{architecture}.context_length", GgufValue.Of((uint)config.MaxPositionEmbeddings));
        writer.Add($"{architecture}.embedding_length", GgufValue.Of((uint)config.HiddenSize));
        writer.Add($"{architecture}.block_count", GgufValue.Of((uint)config.NumHiddenLayers));
        writer.Add($"{architecture}.feed_forward_length", uniform ? GgufValue.Of((uint)arch.IntermediateSizes[0]) : GgufValue.UInt32s(arch.IntermediateSizes));
        writer.Add($"{architecture}.attention.head_count", uniform ? GgufValue.Of((uint)arch.AttentionHeads[0]) : GgufValue.UInt32s(arch.AttentionHeads));
        writer.Add($"{architecture}.attention.head_count_kv", uniform ? GgufValue.Of((uint)arch.KeyValueHeads[0]) : GgufValue.UInt32s(arch.KeyValueHeads));
        // llama.cpp derives the head size from embedding_length / head_count unless told; a sliced hidden width or
        // per-layer heads break that, so the head size is always given.
        writer.Add($"{architecture}.attention.key_length", GgufValue.Of((uint)config.HeadDim));
        writer.Add($"{architecture}.attention.value_length", GgufValue.Of((uint)config.HeadDim));
        writer.Add($"{architecture}.rope.dimension_count", GgufValue.Of((uint)config.HeadDim));
        writer.Add($"{architecture}.rope.freq_base", GgufValue.Of((float)config.RopeTheta));
        writer.Add($"{architecture}.attention.layer_norm_rms_epsilon", GgufValue.Of((float)config.RmsNormEps));
        writer.Add($"{architecture}.vocab_size", GgufValue.Of((uint)config.VocabSize));
        if (config.RopeScaling is { Type: "linear" } linear)
        {
            writer.Add($"{architecture}.rope.scaling.type", GgufValue.Of("linear"));
            writer.Add($"{architecture}.rope.scaling.factor", GgufValue.Of((float)linear.Factor));
        }

        AddTokenizer(writer, tokenizer, tokenizerDirectory, config);

        using var scope = NewDisposeScope();
        if (config.RopeScaling is { Type: "llama3" } llama3)
        {
            writer.AddTensor("rope_freqs.weight", tensor(Llama3FrequencyFactors(config.RopeTheta, config.HeadDim, llama3)), GgmlType.F32);
        }

        var fallback = new List<string>();
        foreach (var (name, slice) in model.SubnetworkSlices(arch))
        {
            var (ggufName, layer) = TensorName(name);
            var tensor = slice;
            if (name.EndsWith("q_proj.weight", StringComparison.Ordinal) || name.EndsWith("q_proj.bias", StringComparison.Ordinal))
            {
                tensor = Interleave(slice, arch.AttentionHeads[layer]);
            }
            else if (name.EndsWith("k_proj.weight", StringComparison.Ordinal) || name.EndsWith("k_proj.bias", StringComparison.Ordinal))
            {
                tensor = Interleave(slice, arch.KeyValueHeads[layer]);
            }

            var type = TypeOf(tensor, options.DType);
            if (type == GgmlType.Q8_0 && tensor.shape[^1] % GgmlTypes.Q8_0BlockSize != 0)
            {
                // What llama.cpp's converter and llama-quantize do with such rows: keep the matrix in F16.
                type = GgmlType.F16;
                fallback.Add(ggufName);
            }

            writer.AddTensor(ggufName, tensor, type);
        }

        if (fallback.Count > 0)
        {
            writer.Add(FallbackKey, GgufValue.Strings(fallback));
        }

        writer.Write(path);
        return new ExportResult(path, ExportFormat.Gguf, architecture, config.ParameterCount(), fallback);
    }

    /// <summary>
    /// Llama 3's RoPE scaling as llama.cpp applies it: one divisor per frequency pair (<c>rope_freqs</c>), 1 for short
    /// wavelengths, the factor for long ones and a smooth blend between, so that frequency / divisor equals the
    /// scaled inverse frequency Hugging Face (and llamanas) computes.
    /// </summary>
    internal static float[] Llama3FrequencyFactors(double theta, int headDim, RopeScaling scaling)
    {
        var low = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
        var high = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
        return [.. Enumerable.Range(0, headDim / 2).Select(i =>
        {
            var wavelength = 2 * Math.PI * Math.Pow(theta, 2.0 * i / headDim);
            if (wavelength < high)
            {
                return 1f;
            }

            if (wavelength > low)
            {
                return (float)scaling.Factor;
            }

            var smooth = ((scaling.OriginalMaxPositionEmbeddings / wavelength) - scaling.LowFreqFactor) / (scaling.HighFreqFactor - scaling.LowFreqFactor);
            return (float)(1 / (((1 - smooth) / scaling.Factor) + smooth));
        })];
    }

    /// <summary>Vectors (norms, biases) stay F32 as in llama.cpp's converter; matrices take the requested type.</summary>
    private static GgmlType TypeOf(Tensor t, ExportDType dtype) => t.dim() == 1 ? GgmlType.F32 : dtype switch
    {
        ExportDType.F16 => GgmlType.F16,
        ExportDType.Bf16 => GgmlType.BF16,
        ExportDType.Q8_0 => GgmlType.Q8_0,
        _ => GgmlType.F32,
    };

    /// <summary>
    /// HF checkpoints order each head's q/k rows for rotate_half (first half, second half); llama.cpp's RoPE pairs
    /// neighbouring rows, so each head's rows are interleaved: row 2i+j takes HF row j·D/2 + i, exactly the
    /// converter's permute (reshape [heads, 2, D/2, …], swap axes 1 and 2).
    /// </summary>
    public static Tensor Interleave(Tensor t, int heads)
    {
        long rows = t.shape[0];
        long[] inner = [.. t.shape.Skip(1)];
        return t.reshape([heads, 2, rows / heads / 2, .. inner]).transpose(1, 2).reshape(t.shape);
    }

    /// <summary>The GGUF name of an HF tensor, and its layer (-1 outside the blocks).</summary>
    public static (string Name, int Layer) TensorName(string hf)
    {
        switch (hf)
        {
            case "model.embed_tokens.weight": return ("token_embd.weight", -1);
            case "model.norm.weight": return ("output_norm.weight", -1);
            case "lm_head.weight": return ("output.weight", -1);
        }

        const string prefix = "model.layers.";
        var dot = hf.IndexOf('.', prefix.Length);
        var layer = int.Parse(hf.AsSpan(prefix.Length, dot - prefix.Length), CultureInfo.InvariantCulture);
        var rest = hf[(dot + 1)..];
        var suffix = rest[(rest.LastIndexOf('.') + 1)..];
        var part = rest[..rest.LastIndexOf('.')] switch
        {
            "input_layernorm" => "attn_norm",
            "post_attention_layernorm" => "ffn_norm",
            "self_attn.q_proj" => "attn_q",
            "self_attn.k_proj" => "attn_k",
            "self_attn.v_proj" => "attn_v",
            "self_attn.o_proj" => "attn_output",
            "mlp.gate_proj" => "ffn_gate",
            "mlp.up_proj" => "ffn_up",
            "mlp.down_proj" => "ffn_down",
            var other => throw new LlamaNasException(DiagnosticCodes.ExportUnsupportedModel, $"the tensor '{hf}' ({other}) has no GGUF name; only Llama tensors are exported."),
        };
        return ($"blk.{layer}.{part}.{suffix}", layer);
    }

    // llama_token_type values of tokenizer.ggml.token_type.
    private const int Normal = 1;
    private const int Unknown = 2;
    private const int Control = 3;
    private const int UserDefined = 4;
    private const int Unused = 5;

    private static void AddTokenizer(GgufWriter writer, ITextTokenizer tokenizer, string directory, LlamaConfig config)
    {
        if (tokenizer.VocabSize > config.VocabSize)
        {
            throw new LlamaNasException(DiagnosticCodes.ExportTokenizerUnsupported, $"the tokenizer has {tokenizer.VocabSize} tokens but the model only {config.VocabSize} embedding rows; GGUF needs one token per row.");
        }

        var tokens = new List<string>();
        var scores = new List<float>();
        var hasScores = true;
        var types = new List<int>();
        switch (tokenizer)
        {
            case SentencePieceBpeTokenizer sp:
                writer.Add("tokenizer.ggml.model", GgufValue.Of("llama"));
                for (var id = 0; id < sp.VocabSize; id++)
                {
                    if (id < sp.Model.Pieces.Count)
                    {
                        var piece = sp.Model.Pieces[id];
                        tokens.Add(piece.Piece);
                        scores.Add(piece.Score);
                        types.Add((int)piece.Type); // SentencePiece's piece types are llama.cpp's token types
                    }
                    else
                    {
                        tokens.Add(sp.TokenToString(id));
                        scores.Add(0);
                        types.Add(sp.IsSpecial(id) ? Control : UserDefined);
                    }
                }

                break;
            case ByteLevelBpeTokenizer bpe:
                writer.Add("tokenizer.ggml.model", GgufValue.Of("gpt2"));
                writer.Add("tokenizer.ggml.pre", GgufValue.Of(PreTokenizerName(Path.Combine(directory, TokenizerLoader.TokenizerJsonFileName))));
                var definition = bpe.Definition;
                var added = definition.AddedTokens.ToDictionary(t => t.Id);
                for (var id = 0; id < definition.Tokens.Length; id++)
                {
                    tokens.Add(definition.Tokens[id]);
                    types.Add(added.TryGetValue(id, out var token) ? (token.Special ? Control : UserDefined) : Normal);
                }

                hasScores = false; // BPE ranks its merges instead of scoring tokens
                writer.Add("tokenizer.ggml.merges", GgufValue.Strings(definition.Merges.OrderBy(m => m.Value.Rank)
                    .Select(m => definition.Tokens[(int)(m.Key >> 32)] + " " + definition.Tokens[(int)(uint)m.Key])));
                break;
            default:
                throw new LlamaNasException(DiagnosticCodes.ExportTokenizerUnsupported, $"the tokenizer ({tokenizer.GetType().Name}) has no GGUF form.");
        }

        // Embedding rows past the tokenizer (vocabulary padding) get unused placeholder tokens, as the converter writes.
        for (var id = tokens.Count; id < config.VocabSize; id++)
        {
            tokens.Add($"[PAD{id}]");
            scores.Add(0);
            types.Add(Unused);
        }

        writer.Add("tokenizer.ggml.tokens", GgufValue.Strings(tokens));
        if (hasScores)
        {
            writer.Add("tokenizer.ggml.scores", GgufValue.Float32s(scores));
        }

        writer.Add("tokenizer.ggml.token_type", GgufValue.Int32s(types));
        if (tokenizer.BosId is { } bos)
        {
            writer.Add("tokenizer.ggml.bos_token_id", GgufValue.Of((uint)bos));
        }

        if (tokenizer.EosId is { } eos)
        {
            writer.Add("tokenizer.ggml.eos_token_id", GgufValue.Of((uint)eos));
        }

        if (types.IndexOf(Unknown) is var unk and >= 0)
        {
            writer.Add("tokenizer.ggml.unknown_token_id", GgufValue.Of((uint)unk));
        }

        if (config.PadTokenId is { } pad)
        {
            writer.Add("tokenizer.ggml.padding_token_id", GgufValue.Of((uint)pad));
        }

        writer.Add("tokenizer.ggml.add_bos_token", GgufValue.Of(tokenizer.AddBos));
        writer.Add("tokenizer.ggml.add_eos_token", GgufValue.Of(tokenizer.AddEos));
    }

    /// <summary>
    /// llama.cpp's name for a tokenizer.json pre-tokenizer (it selects the split regexes): GPT-2's ByteLevel regex
    /// alone is "gpt-2", single digits then ByteLevel is "smollm", Llama 3's Split regex then ByteLevel is
    /// "llama-bpe". Anything else is refused rather than guessed: a wrong name silently changes tokenization.
    /// </summary>
    private static string PreTokenizerName(string tokenizerJson)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(tokenizerJson));
        var pre = document.RootElement.TryGetProperty("pre_tokenizer", out var p) ? p : default;
        var steps = pre.ValueKind == JsonValueKind.Object && Str(pre, "type") == "Sequence" && pre.TryGetProperty("pretokenizers", out var list)
            ? [.. list.EnumerateArray()]
            : pre.ValueKind == JsonValueKind.Object ? new List<JsonElement> { pre } : [];
        bool ByteLevel(JsonElement e, bool regex) => Str(e, "type") == "ByteLevel" && (!e.TryGetProperty("use_regex", out var r) || r.GetBoolean()) == regex
            && !(e.TryGetProperty("add_prefix_space", out var s) && s.GetBoolean());
        if (steps.Count == 1 && ByteLevel(steps[0], regex: true))
        {
            return "gpt-2";
        }

        if (steps.Count == 2 && Str(steps[0], "type") == "Digits" && steps[0].TryGetProperty("individual_digits", out var single) && single.GetBoolean() && ByteLevel(steps[1], regex: true))
        {
            return "smollm";
        }

        if (steps.Count == 2 && Str(steps[0], "type") == "Split" && steps[0].TryGetProperty("pattern", out var pattern) && Str(pattern, "Regex") == Llama3Pattern && ByteLevel(steps[1], regex: false))
        {
            return "llama-bpe";
        }

        throw new LlamaNasException(DiagnosticCodes.ExportTokenizerUnsupported,
            $"the pre-tokenizer of {Path.GetFileName(tokenizerJson)} is none that llama.cpp names are known for here (GPT-2, SmolLM, Llama 3); export safetensors instead.",
            new DiagnosticLocation(tokenizerJson, Item: "pre_tokenizer"));
    }

    private const string Llama3Pattern = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
