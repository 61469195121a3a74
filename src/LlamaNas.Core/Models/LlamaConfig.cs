using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Core.Models;

/// <summary>RoPE frequency scaling as Hugging Face's <c>rope_scaling</c> describes it.</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// The architecture of a Llama-family model, read from a Hugging Face <c>config.json</c>. Our own exports of
/// sub-networks may record <c>intermediate_size</c>, <c>num_attention_heads</c> and <c>num_key_value_heads</c> as
/// per-layer lists. MLP widths are always held per layer; head counts are held as one number (HF's form) and, only
/// when layers differ, as per-layer lists beside it.
/// </summary>
public sealed record LlamaConfig
{
    public required int HiddenSize { get; init; }

    public required int NumHiddenLayers { get; init; }

    /// <summary>Query heads of every layer, or of the widest layer when <see cref="AttentionHeadsPerLayer"/> is set.</summary>
    public required int NumAttentionHeads { get; init; }

    /// <summary>KV heads of every layer, or of the widest layer when <see cref="KeyValueHeadsPerLayer"/> is set.</summary>
    public required int NumKeyValueHeads { get; init; }

    /// <summary>Query heads of each layer (length <see cref="NumHiddenLayers"/>) when layers differ; null when all have <see cref="NumAttentionHeads"/>.</summary>
    public IReadOnlyList<int>? AttentionHeadsPerLayer { get; init; }

    /// <summary>KV heads of each layer (length <see cref="NumHiddenLayers"/>) when layers differ; null when all have <see cref="NumKeyValueHeads"/>.</summary>
    public IReadOnlyList<int>? KeyValueHeadsPerLayer { get; init; }

    public required int HeadDim { get; init; }

    /// <summary>MLP width of each layer (length <see cref="NumHiddenLayers"/>).</summary>
    public required IReadOnlyList<int> IntermediateSizes { get; init; }

    public required int VocabSize { get; init; }

    public double RmsNormEps { get; init; } = 1e-6;

    public double RopeTheta { get; init; } = 10000;

    public RopeScaling? RopeScaling { get; init; }

    public bool TieWordEmbeddings { get; init; }

    public int MaxPositionEmbeddings { get; init; } = 2048;

    public int? BosTokenId { get; init; }

    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public int? PadTokenId { get; init; }

    public bool AttentionBias { get; init; }

    public bool MlpBias { get; init; }

    public string TorchDtype { get; init; } = "float32";

    /// <summary>Widest MLP layer (the super-network's width when sizes differ per layer).</summary>
    public int MaxIntermediateSize => IntermediateSizes.Max();

    /// <summary>Query heads of layer <paramref name="layer"/>.</summary>
    public int AttentionHeadsOf(int layer) => AttentionHeadsPerLayer?[layer] ?? NumAttentionHeads;

    /// <summary>KV heads of layer <paramref name="layer"/>.</summary>
    public int KeyValueHeadsOf(int layer) => KeyValueHeadsPerLayer?[layer] ?? NumKeyValueHeads;

    /// <summary>
    /// A copy with <paramref name="hiddenSize"/> and one layer per entry of the lists (MLP width, query heads, KV
    /// heads). Head counts take HF's single-number form when every layer agrees, per-layer lists otherwise.
    /// </summary>
    public LlamaConfig WithLayers(int hiddenSize, IReadOnlyList<int> intermediateSizes, IReadOnlyList<int> attentionHeads, IReadOnlyList<int> keyValueHeads)
    {
        ArgumentNullException.ThrowIfNull(intermediateSizes);
        ArgumentNullException.ThrowIfNull(attentionHeads);
        ArgumentNullException.ThrowIfNull(keyValueHeads);
        if (intermediateSizes.Count == 0 || attentionHeads.Count != intermediateSizes.Count || keyValueHeads.Count != intermediateSizes.Count)
        {
            throw new ArgumentException($"give one MLP width, head count and KV head count per layer, for at least one layer (got {intermediateSizes.Count}, {attentionHeads.Count} and {keyValueHeads.Count})");
        }

        return this with
        {
            HiddenSize = hiddenSize,
            NumHiddenLayers = intermediateSizes.Count,
            IntermediateSizes = [.. intermediateSizes],
            NumAttentionHeads = attentionHeads.Max(),
            NumKeyValueHeads = keyValueHeads.Max(),
            AttentionHeadsPerLayer = IsUniform(attentionHeads) ? null : [.. attentionHeads],
            KeyValueHeadsPerLayer = IsUniform(keyValueHeads) ? null : [.. keyValueHeads],
        };
    }

    private static bool IsUniform(IReadOnlyList<int> values) => values.Distinct().Count() == 1;

    /// <summary>One number when all values agree (HF's form), else a JSON list.</summary>
    private static JsonNode IntOrListNode(IReadOnlyList<int> values) =>
        IsUniform(values) ? values[0] : new JsonArray([.. values.Select(i => (JsonNode)i)]);

    /// <summary>The tensors a checkpoint of this architecture holds, with their shapes (HF names).</summary>
    public IReadOnlyDictionary<string, long[]> ExpectedTensors()
    {
        long h = HiddenSize;
        var t = new Dictionary<string, long[]>(StringComparer.Ordinal) { ["model.embed_tokens.weight"] = [VocabSize, h], ["model.norm.weight"] = [h] };
        if (!TieWordEmbeddings)
        {
            t["lm_head.weight"] = [VocabSize, h];
        }

        for (var i = 0; i < NumHiddenLayers; i++)
        {
            var p = $"model.layers.{i}.";
            long m = IntermediateSizes[i], q = (long)AttentionHeadsOf(i) * HeadDim, kv = (long)KeyValueHeadsOf(i) * HeadDim;
            t[p + "input_layernorm.weight"] = [h];
            t[p + "post_attention_layernorm.weight"] = [h];
            t[p + "self_attn.q_proj.weight"] = [q, h];
            t[p + "self_attn.k_proj.weight"] = [kv, h];
            t[p + "self_attn.v_proj.weight"] = [kv, h];
            t[p + "self_attn.o_proj.weight"] = [h, q];
            if (AttentionBias)
            {
                t[p + "self_attn.q_proj.bias"] = [q];
                t[p + "self_attn.k_proj.bias"] = [kv];
                t[p + "self_attn.v_proj.bias"] = [kv];
                t[p + "self_attn.o_proj.bias"] = [h];
            }

            t[p + "mlp.gate_proj.weight"] = [m, h];
            t[p + "mlp.up_proj.weight"] = [m, h];
            t[p + "mlp.down_proj.weight"] = [h, m];
            if (MlpBias)
            {
                t[p + "mlp.gate_proj.bias"] = [m];
                t[p + "mlp.up_proj.bias"] = [m];
                t[p + "mlp.down_proj.bias"] = [h];
            }
        }

        return t;
    }

    /// <summary>Parameter count of the full architecture.</summary>
    public long ParameterCount() => ExpectedTensors().Values.Sum(s => s.Aggregate(1L, (a, d) => a * d));

    /// <summary>A bound far above any real model, so a corrupt layer count fails here rather than in allocation.</summary>
    public const int MaxLayers = 4096;

    public static LlamaConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new LlamaNasException(DiagnosticCodes.ConfigNotFound, "config.json not found: a Hugging Face model directory needs one.", new DiagnosticLocation(path));
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(JsonText.WithoutBom(JsonText.ReadChecked(path)), documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new LlamaNasException(DiagnosticCodes.ConfigInvalidJson, $"config.json is not valid JSON: {e.Message}", new DiagnosticLocation(path, (int)(e.LineNumber ?? 0) + 1, (int)(e.BytePositionInLine ?? 0) + 1), e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LlamaNasException(DiagnosticCodes.ConfigNotFound, $"config.json cannot be read ({e.Message}); check its permissions.", new DiagnosticLocation(path), e);
        }

        if (root is not JsonObject obj)
        {
            throw new LlamaNasException(DiagnosticCodes.ConfigInvalidJson, "config.json must hold a JSON object.", new DiagnosticLocation(path));
        }

        return FromJson(obj, path);
    }

    public static LlamaConfig FromJson(JsonObject obj, string path)
    {
        var reader = new ConfigReader(obj, path);
        var modelType = reader.OptionalString("model_type");
        if (modelType is not null && modelType is not ("llama" or "mistral" or "deci"))
        {
            throw new LlamaNasException(DiagnosticCodes.ConfigUnsupportedArchitecture, $"model_type '{modelType}' is not a Llama-family architecture (expected 'llama').", reader.Where("model_type"));
        }

        var hidden = reader.PositiveInt("hidden_size");
        var layers = reader.PositiveInt("num_hidden_layers");
        if (layers > MaxLayers)
        {
            throw reader.Invalid("num_hidden_layers", $"is {layers}; more than {MaxLayers} layers is not a real model");
        }

        var heads = reader.IntOrPerLayerList("num_attention_heads", layers);
        var kvHeads = reader.Has("num_key_value_heads") ? reader.IntOrPerLayerList("num_key_value_heads", layers) : heads;
        var headDim = reader.OptionalInt("head_dim")
            ?? (reader.IsList("num_attention_heads")
                ? throw new LlamaNasException(DiagnosticCodes.ConfigMissingField, "config.json lists num_attention_heads per layer, so it must give head_dim.", reader.Where("head_dim"))
                : hidden % heads[0] == 0
                    ? hidden / heads[0]
                    : throw reader.Invalid("num_attention_heads", $"({heads[0]}) must divide hidden_size ({hidden}) when config.json gives no head_dim"));
        for (var l = 0; l < layers; l++)
        {
            if (heads[l] % kvHeads[l] != 0)
            {
                var which = IsUniform(heads) && IsUniform(kvHeads) ? string.Empty : $"layer {l}: ";
                throw new LlamaNasException(DiagnosticCodes.ConfigInvalidValue, $"{which}num_attention_heads ({heads[l]}) must be a positive multiple of num_key_value_heads ({kvHeads[l]}).", reader.Where("num_key_value_heads"));
            }
        }

        if (headDim <= 0 || headDim % 2 != 0)
        {
            throw new LlamaNasException(DiagnosticCodes.ConfigInvalidValue, $"head_dim ({headDim}) must be a positive even number.", reader.Where("head_dim"));
        }

        var act = reader.OptionalString("hidden_act") ?? "silu";
        if (act != "silu")
        {
            throw new LlamaNasException(DiagnosticCodes.ConfigUnsupportedArchitecture, $"hidden_act '{act}' is not supported (Llama uses 'silu').", reader.Where("hidden_act"));
        }

        var intermediate = reader.IntOrPerLayerList("intermediate_size", layers);
        var vocab = reader.PositiveInt("vocab_size");
        return new LlamaConfig
        {
            HiddenSize = hidden,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads[0],
            NumKeyValueHeads = kvHeads[0],
            HeadDim = headDim,
            IntermediateSizes = intermediate,
            VocabSize = vocab,
            RmsNormEps = reader.OptionalDouble("rms_norm_eps", min: 0, minIncluded: true) ?? 1e-6,
            RopeTheta = reader.OptionalDouble("rope_theta", min: 0, minIncluded: false) ?? 10000,
            RopeScaling = reader.RopeScaling(),
            TieWordEmbeddings = reader.OptionalBool("tie_word_embeddings") ?? false,
            MaxPositionEmbeddings = reader.Has("max_position_embeddings") ? reader.PositiveInt("max_position_embeddings") : 2048,
            BosTokenId = reader.TokenId("bos_token_id", vocab),
            EosTokenIds = [.. reader.IntOrList("eos_token_id").Select(id => id >= 0 && id < vocab ? id : throw reader.Invalid("eos_token_id", $"holds {id}, outside the vocabulary (0 to {vocab - 1})"))],
            PadTokenId = reader.OptionalInt("pad_token_id"),
            AttentionBias = reader.OptionalBool("attention_bias") ?? false,
            MlpBias = reader.OptionalBool("mlp_bias") ?? false,
            TorchDtype = reader.OptionalString("torch_dtype") ?? "float32",
        }.WithLayers(hidden, intermediate, heads, kvHeads);
    }

    /// <summary>
    /// Writes the HF config.json form; <c>intermediate_size</c>, <c>num_attention_heads</c> and
    /// <c>num_key_value_heads</c> become per-layer lists only when layers differ.
    /// </summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntOrListNode(IntermediateSizes),
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = AttentionHeadsPerLayer is { } heads ? IntOrListNode(heads) : NumAttentionHeads,
            ["num_key_value_heads"] = KeyValueHeadsPerLayer is { } kvHeads ? IntOrListNode(kvHeads) : NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["vocab_size"] = VocabSize,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["attention_bias"] = AttentionBias,
            ["mlp_bias"] = MlpBias,
            ["torch_dtype"] = TorchDtype,
        };
        if (BosTokenId is { } bos)
        {
            o["bos_token_id"] = bos;
        }

        if (EosTokenIds.Count > 0)
        {
            o["eos_token_id"] = EosTokenIds.Count == 1 ? EosTokenIds[0] : new JsonArray([.. EosTokenIds.Select(i => (JsonNode)i)]);
        }

        if (PadTokenId is { } pad)
        {
            o["pad_token_id"] = pad;
        }

        if (RopeScaling is { } rs)
        {
            o["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = rs.Type,
                ["factor"] = rs.Factor,
                ["low_freq_factor"] = rs.LowFreqFactor,
                ["high_freq_factor"] = rs.HighFreqFactor,
                ["original_max_position_embeddings"] = rs.OriginalMaxPositionEmbeddings,
            };
        }

        return o;
    }

    private sealed class ConfigReader(JsonObject obj, string path, string prefix = "")
    {
        public DiagnosticLocation Where(string field) => new(path, Item: prefix + field);

        public bool Has(string field) => obj[field] is not null;

        public bool IsList(string field) => obj[field] is JsonArray;

        public int PositiveInt(string field)
        {
            var v = OptionalInt(field) ?? throw new LlamaNasException(DiagnosticCodes.ConfigMissingField, $"config.json lacks the required field '{field}'.", Where(field));
            return v > 0 ? v : throw Invalid(field, "must be a positive integer");
        }

        public int? OptionalInt(string field) => obj[field] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<int>(out var i) => i,
            JsonValue v when v.TryGetValue<double>(out var d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue => (int)d,
            _ => throw Invalid(field, "must be an integer"),
        };

        public double? OptionalDouble(string field) => obj[field] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<double>(out var d) && double.IsFinite(d) => d,
            _ => throw Invalid(field, "must be a number"),
        };

        /// <summary>A number above <paramref name="min"/> (or equal to it when <paramref name="minIncluded"/>).</summary>
        public double? OptionalDouble(string field, double min, bool minIncluded) => OptionalDouble(field) switch
        {
            null => null,
            var d when d > min || (minIncluded && d == min) => d,
            var d => throw Invalid(field, string.Create(CultureInfo.InvariantCulture, $"is {d}; it must be {(minIncluded ? "≥" : ">")} {min}")),
        };

        /// <summary>An optional token id that must index the embedding (0 to <paramref name="vocab"/> - 1).</summary>
        public int? TokenId(string field, int vocab) => OptionalInt(field) switch
        {
            null => null,
            var id when id >= 0 && id < vocab => id,
            var id => throw Invalid(field, $"is {id}, outside the vocabulary (0 to {vocab - 1})"),
        };

        public bool? OptionalBool(string field) => obj[field] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<bool>(out var b) => b,
            _ => throw Invalid(field, "must be true or false"),
        };

        public string? OptionalString(string field) => obj[field] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => throw Invalid(field, "must be a string"),
        };

        public IReadOnlyList<int> IntOrList(string field) => obj[field] switch
        {
            null => [],
            JsonArray a => [.. a.Select((n, i) => n is JsonValue v && v.TryGetValue<int>(out var x) ? x : throw Invalid($"{field}[{i}]", "must be an integer"))],
            _ => [OptionalInt(field)!.Value],
        };

        public IReadOnlyList<int> IntOrPerLayerList(string field, int layers)
        {
            if (obj[field] is JsonArray)
            {
                var list = IntOrList(field);
                if (list.Count != layers)
                {
                    throw Invalid(field, $"lists {list.Count} values but num_hidden_layers is {layers}");
                }

                return list.All(x => x > 0) ? list : throw Invalid(field, "values must be positive");
            }

            var size = PositiveInt(field);
            return [.. Enumerable.Repeat(size, layers)];
        }

        public RopeScaling? RopeScaling()
        {
            if (obj["rope_scaling"] is not JsonObject rs)
            {
                return obj["rope_scaling"] is null ? null : throw Invalid("rope_scaling", "must be an object or null");
            }

            var inner = new ConfigReader(rs, path, "rope_scaling.");
            var type = inner.OptionalString("rope_type") ?? inner.OptionalString("type") ?? "default";
            var factor = inner.OptionalDouble("factor", min: 0, minIncluded: false) ?? 1;
            if (type != "llama3")
            {
                return type switch
                {
                    "default" => null,
                    "linear" => new RopeScaling("linear", factor),
                    _ => throw Invalid("rope_scaling", $"type '{type}' is not supported (supported: linear, llama3)"),
                };
            }

            var low = inner.OptionalDouble("low_freq_factor", min: 0, minIncluded: false) ?? 1;
            var high = inner.OptionalDouble("high_freq_factor", min: low, minIncluded: true) ?? 4;
            var original = inner.Has("original_max_position_embeddings") ? inner.PositiveInt("original_max_position_embeddings") : 8192;
            return new RopeScaling("llama3", factor, low, high, original);
        }

        public LlamaNasException Invalid(string field, string what) =>
            new(DiagnosticCodes.ConfigInvalidValue, $"config.json field '{prefix}{field}' {what}.", Where(field));
    }

    /// <summary>Human-readable sizes, e.g. 1.2M.</summary>
    public static string FormatCount(long n) => n switch
    {
        >= 1_000_000_000 => (n / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "B",
        >= 1_000_000 => (n / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (n / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "K",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}
