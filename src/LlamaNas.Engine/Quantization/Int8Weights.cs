using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LlamaNas.Core.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Quantization;

/// <summary>
/// Weight-only INT8 of the decoder blocks' linear weights: symmetric, one scale per output channel (row), scales
/// stored as fp16. scale = fp16(max |row| / 127), q = clamp(round(w / scale), -127, 127) (round half to even, as
/// torch.round); w' = q · scale, computed in fp32 and then cast to the compute dtype. Embeddings, norms and the LM head
/// are not quantized and are stored as fp16. This is exactly what an INT8 export writes (docs/EXPORT.md, the layout
/// compressed-tensors calls <c>naive-quantized</c>: <c>weight</c> int8 [out, in], <c>weight_scale</c> [out, 1]).
/// </summary>
public static partial class Int8Weights
{
    /// <summary>The largest quantized magnitude (symmetric: -127…127, -128 unused).</summary>
    public const int QuantMax = 127;

    /// <summary>The scale tensor's suffix beside a weight's name (compressed-tensors' naming).</summary>
    public const string ScaleSuffix = "_scale";

    /// <summary>The smallest positive fp16 value: the scale of an all-zero row (its q is 0 whatever the scale).</summary>
    private const double MinScale = 5.960464477539063e-8;

    /// <summary>The largest finite fp16 value: a row whose scale would exceed it cannot be stored.</summary>
    private const double MaxScale = 65504;

    /// <summary>Whether the tensor <paramref name="name"/> is quantized: a decoder block's attention or MLP projection weight.</summary>
    public static bool IsQuantized(string name) => QuantizedName().IsMatch(name);

    /// <summary>q (int8, <paramref name="weight"/>'s shape [out, in]) and scale (fp16 [out, 1]) of a weight of any float dtype.</summary>
    public static (Tensor Weight, Tensor Scale) Quantize(Tensor weight, string name)
    {
        ArgumentNullException.ThrowIfNull(weight);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        // Scalars made and disposed here, not left to the GC's finalizer thread (see RmsNorm).
        using var max = ((double)QuantMax).ToScalar();
        using var negMax = ((double)-QuantMax).ToScalar();
        using var minScale = MinScale.ToScalar();
        var w = weight.to(float32);
        var absmax = w.abs().amax([1], keepdim: true);
        var scale = absmax.div(max).to(float16);
        if (scale.isinf().any().item<bool>())
        {
            throw new LlamaNasException(DiagnosticCodes.QuantizationUnsupported, $"'{name}' holds a weight of magnitude above {QuantMax * MaxScale:G3}, whose per-channel scale an fp16 scale cannot hold; this model cannot be quantized to int8.", new DiagnosticLocation(name));
        }

        scale = scale.clamp_min(minScale);
        var q = w.div(scale.to(float32)).round().clamp(negMax, max).to(int8);
        return (q.MoveToOuterDisposeScope(), scale.MoveToOuterDisposeScope());
    }

    /// <summary>q · scale in fp32, cast to <paramref name="dtype"/>; q [out, in] (or any leading block of it) with scale [out, 1].</summary>
    public static Tensor Dequantize(Tensor q, Tensor scale, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(scale);
        using var scope = NewDisposeScope();
        var w = q.to(float32).mul_(scale.to(float32));
        return (dtype == float32 ? w : w.to(dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// config.json's <c>quantization_config</c> for this scheme, in compressed-tensors' vocabulary (one config group
    /// targeting Linear layers, weights int8 symmetric per channel, no activation quantization, lm_head ignored).
    /// </summary>
    public static JsonObject QuantizationConfig() => new()
    {
        ["quant_method"] = "compressed-tensors",
        ["format"] = Format,
        ["quantization_status"] = "compressed",
        ["config_groups"] = new JsonObject
        {
            ["group_0"] = new JsonObject
            {
                ["targets"] = new JsonArray("Linear"),
                ["weights"] = new JsonObject
                {
                    ["num_bits"] = 8,
                    ["type"] = "int",
                    ["symmetric"] = true,
                    ["strategy"] = "channel",
                    ["group_size"] = null,
                    ["dynamic"] = false,
                    ["observer"] = "minmax",
                },
                ["input_activations"] = null,
                ["output_activations"] = null,
            },
        },
        ["ignore"] = new JsonArray("lm_head"),
        ["kv_cache_scheme"] = null,
    };

    /// <summary>compressed-tensors' name for int weights stored as int8 tensors beside their scales.</summary>
    public const string Format = "naive-quantized";

    /// <summary>
    /// Whether <paramref name="config"/> (config.json's <c>quantization_config</c>) describes this scheme; null when
    /// it does, else what differs (loading another scheme would compute the wrong weights).
    /// </summary>
    public static string? Unsupported(JsonNode? config)
    {
        if (config is not JsonObject c)
        {
            return "quantization_config is not an object";
        }

        if ((string?)c["quant_method"] != "compressed-tensors")
        {
            return $"quant_method is '{c["quant_method"]}', not compressed-tensors";
        }

        if ((string?)c["format"] is not (Format or "int-quantized"))
        {
            return $"format is '{c["format"]}'; llamanas reads {Format} (int8 tensors beside their scales)";
        }

        var groups = c["config_groups"] as JsonObject;
        foreach (var (name, group) in groups ?? [])
        {
            var w = group?["weights"];
            if (w is null || (int?)w["num_bits"] != 8 || (string?)w["type"] != "int" || (bool?)w["symmetric"] != true || (string?)w["strategy"] != "channel")
            {
                return $"config group {name} is not 8-bit symmetric per-channel int weights";
            }

            if (group!["input_activations"] is not null)
            {
                return $"config group {name} quantizes activations; llamanas runs weight-only int8";
            }
        }

        return groups is null || groups.Count == 0 ? "quantization_config has no config_groups" : null;
    }

    [GeneratedRegex(@"^model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$", RegexOptions.CultureInvariant)]
    private static partial Regex QuantizedName();
}
