using System.Text;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Export;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Export;

public sealed class GgufExportTests(StoriesModel stories) : IClassFixture<StoriesModel>
{
    [Theory]
    [InlineData(ExportDType.Fp32)]
    [InlineData(ExportDType.F16)]
    [InlineData(ExportDType.Bf16)]
    [InlineData(ExportDType.Q8_0)]
    public void The_full_model_is_written_and_read_back_key_by_key_and_tensor_by_tensor(ExportDType dtype)
    {
        using var temp = new TempDir();
        var path = temp.File("stories.gguf");
        var result = ModelExporter.Export(stories.Model, StoriesModel.Directory, path, new ExportOptions { Format = ExportFormat.Gguf, DType = dtype, Name = "stories260K" });
        var file = GgufFile.Open(path);

        Assert.Equal(3u, file.Version);
        Assert.Equal(32, file.Alignment);
        Assert.Equal(0, file.DataOffset % 32);
        Assert.Equal("llama", result.Architecture);
        var expected = new Dictionary<string, object>
        {
            ["general.architecture"] = "llama",
            ["general.name"] = "stories260K",
            ["general.file_type"] = dtype switch { ExportDType.F16 => 1u, ExportDType.Bf16 => 32u, ExportDType.Q8_0 => 7u, _ => 0u },
            ["general.alignment"] = 32u,
            ["llamanas.subnetwork"] = stories.Model.FullArchitecture.ToString(),
            ["llama.context_length"] = 512u,
            ["llama.embedding_length"] = 64u,
            ["llama.block_count"] = 5u,
            ["llama.feed_forward_length"] = 172u,
            ["llama.attention.head_count"] = 8u,
            ["llama.attention.head_count_kv"] = 4u,
            ["llama.attention.key_length"] = 8u,
            ["llama.attention.value_length"] = 8u,
            ["llama.rope.dimension_count"] = 8u,
            ["llama.rope.freq_base"] = 10000f,
            ["llama.attention.layer_norm_rms_epsilon"] = 1e-5f,
            ["llama.vocab_size"] = 512u,
            ["tokenizer.ggml.model"] = "llama",
            ["tokenizer.ggml.bos_token_id"] = 1u,
            ["tokenizer.ggml.eos_token_id"] = 2u,
            ["tokenizer.ggml.unknown_token_id"] = 0u,
            ["tokenizer.ggml.add_bos_token"] = true,
            ["tokenizer.ggml.add_eos_token"] = false,
        };
        if (dtype == ExportDType.Q8_0)
        {
            expected["general.quantization_version"] = 2u;
        }

        var arrays = new[] { "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type" }.Concat(dtype == ExportDType.Q8_0 ? ["llamanas.f16_fallback"] : []);
        Assert.Equal(expected.Keys.Concat(arrays).Order(StringComparer.Ordinal), file.Metadata.Select(m => m.Key).Order(StringComparer.Ordinal));
        foreach (var (key, value) in expected)
        {
            Assert.Equal(value, file[key].Value);
        }

        var tokens = file["tokenizer.ggml.tokens"].AsArray;
        Assert.Equal(GgufValueType.Str, tokens.ElementType);
        Assert.Equal(Enumerable.Range(0, 512).Select(stories.Tokenizer.TokenToString), tokens.Items.Cast<string>());
        var types = file["tokenizer.ggml.token_type"].AsArray.Items.Cast<int>().ToList();
        Assert.Equal([2, 3, 3], types.Take(3)); // <unk>, <s>, </s>
        Assert.Equal(Enumerable.Repeat(6, 256), types.Skip(3).Take(256)); // byte pieces <0x00> … <0xFF>
        Assert.Equal(GgufValueType.F32, file["tokenizer.ggml.scores"].AsArray.ElementType);

        // Tied embeddings: no output.weight; every HF tensor under its llama.cpp name.
        var slices = stories.Model.SubnetworkSlices(stories.Model.FullArchitecture).ToList();
        try
        {
            Assert.Equal(slices.Select(s => GgufModel.TensorName(s.Name).Name).Order(StringComparer.Ordinal), file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
            Assert.DoesNotContain(file.Tensors, t => t.Name == "output.weight");
            var fallback = new List<string>();
            foreach (var (name, slice) in slices)
            {
                var info = file.Tensor(GgufModel.TensorName(name).Name);
                Assert.Equal(slice.shape, info.Shape);
                Assert.Equal(0ul, info.Offset % 32);
                var type = slice.dim() == 1 ? GgmlType.F32 : dtype switch
                {
                    ExportDType.F16 => GgmlType.F16,
                    ExportDType.Bf16 => GgmlType.BF16,
                    ExportDType.Q8_0 => slice.shape[^1] % 32 == 0 ? GgmlType.Q8_0 : GgmlType.F16,
                    _ => GgmlType.F32,
                };
                Assert.Equal(type, info.Type);
                if (dtype == ExportDType.Q8_0 && type == GgmlType.F16)
                {
                    fallback.Add(info.Name);
                }

                CheckData(file, info, ExpectedRows(name, slice));
            }

            Assert.Equal(dtype == ExportDType.Q8_0 ? 5 : 0, fallback.Count); // the five ffn_down matrices: rows of 172
            Assert.Equal(fallback, result.F16Fallback);
            if (dtype == ExportDType.Q8_0)
            {
                Assert.Equal(fallback, file["llamanas.f16_fallback"].AsArray.Items.Cast<string>());
            }
        }
        finally
        {
            slices.ForEach(s => s.Slice.Dispose());
        }
    }

    [Fact]
    public void A_non_uniform_subnetwork_is_deci_with_per_layer_sizes()
    {
        using var temp = new TempDir();
        var path = temp.File("deci.gguf");
        var arch = SafetensorsExportTests.NonUniform;
        Assert.Equal("deci", ModelExporter.Export(stories.Model, StoriesModel.Directory, path, new ExportOptions { Format = ExportFormat.Gguf, Architecture = arch }).Architecture);
        var file = GgufFile.Open(path);
        Assert.Equal("deci", file["general.architecture"].AsString);
        Assert.Equal(4u, file["deci.block_count"].Value);
        Assert.Equal([172u, 128u, 96u, 64u], Uints(file["deci.feed_forward_length"]));
        Assert.Equal([8u, 6u, 8u, 4u], Uints(file["deci.attention.head_count"]));
        Assert.Equal([4u, 3u, 4u, 2u], Uints(file["deci.attention.head_count_kv"]));
        Assert.Equal(8u, file["deci.attention.key_length"].Value);
        Assert.Equal(new long[] { 48, 64 }, file.Tensor("blk.1.attn_q.weight").Shape);
        Assert.Equal(new long[] { 24, 64 }, file.Tensor("blk.1.attn_k.weight").Shape);
        Assert.Equal(new long[] { 64, 64 }, file.Tensor("blk.3.ffn_down.weight").Shape);
        Assert.DoesNotContain(file.Tensors, t => t.Name.StartsWith("blk.4.", StringComparison.Ordinal));

        // The q/k rows of each head interleaved for llama.cpp's RoPE, written out element by element here.
        using var q = stories.Model.SubnetworkSlices(arch).Single(s => s.Name == "model.layers.1.self_attn.q_proj.weight").Slice;
        var hf = q.contiguous().data<float>().ToArray();
        var gguf = file.ReadFloats(file.Tensor("blk.1.attn_q.weight"));
        const int d = 8, width = 64;
        for (var head = 0; head < 6; head++)
        {
            for (var i = 0; i < d / 2; i++)
            {
                for (var j = 0; j < 2; j++)
                {
                    var to = (head * d) + (2 * i) + j;
                    var from = (head * d) + (j * d / 2) + i;
                    Assert.Equal(hf.AsSpan(from * width, width).ToArray(), gguf.AsSpan(to * width, width).ToArray());
                }
            }
        }
    }

    [Fact]
    public void Q8_0_blocks_hold_an_fp16_scale_and_rounded_int8_values()
    {
        var values = new float[32];
        values[0] = 127;
        values[1] = 2.5f;
        values[2] = -2.5f;
        values[3] = -127;
        values[4] = 0.49f;
        var bytes = new byte[Q8_0.BlockBytes];
        Q8_0.Quantize(values, bytes);
        Assert.Equal((Half)1, BitConverter.ToHalf(bytes, 0));
        Assert.Equal(new sbyte[] { 127, 3, -3, -127, 0 }, bytes.Skip(2).Take(5).Select(b => (sbyte)b));
        var zeros = new byte[Q8_0.BlockBytes];
        Q8_0.Quantize(new float[32], zeros);
        Assert.All(zeros, b => Assert.Equal(0, b));
        var back = new float[32];
        Q8_0.Dequantize(bytes, back);
        Assert.Equal([127f, 3f, -3f, -127f, 0f], back.Take(5));
    }

    [Fact]
    public void The_writer_refuses_q8_0_rows_that_are_not_a_multiple_of_32()
    {
        using var t = zeros(4, 172);
        var error = Assert.Throws<LlamaNasException>(() => new GgufWriter().AddTensor("blk.0.ffn_down.weight", t, GgmlType.Q8_0));
        Assert.Equal(DiagnosticCodes.GgufRowNotDivisible, error.Code);
    }

    [Fact]
    public void A_byte_level_bpe_tokenizer_is_written_as_gpt2_with_merges_and_its_pre_tokenizer()
    {
        var source = SharedData.Path("models", "smollm2-135m");
        var tokenizer = TokenizerLoader.Load(source);
        var config = TorchTest.TinyConfig(layers: 1, vocab: tokenizer.VocabSize);
        using var model = TorchTest.RandomModel(config, seed: 5);
        using var temp = new TempDir();
        var path = temp.File("smol.gguf");
        ModelExporter.Export(model, source, path, new ExportOptions { Format = ExportFormat.Gguf });
        var file = GgufFile.Open(path);
        Assert.Equal("gpt2", file["tokenizer.ggml.model"].AsString);
        Assert.Equal("smollm", file["tokenizer.ggml.pre"].AsString);
        Assert.False(file.Has("tokenizer.ggml.scores"));
        Assert.Equal(Enumerable.Range(0, tokenizer.VocabSize).Select(tokenizer.TokenToString), file["tokenizer.ggml.tokens"].AsArray.Items.Cast<string>());
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(source, "tokenizer.json")));
        var merges = json.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Equal(merges, file["tokenizer.ggml.merges"].AsArray.Items.Cast<string>());
        var types = file["tokenizer.ggml.token_type"].AsArray.Items.Cast<int>().ToList();
        foreach (var added in json.RootElement.GetProperty("added_tokens").EnumerateArray())
        {
            Assert.Equal(added.GetProperty("special").GetBoolean() ? 3 : 4, types[added.GetProperty("id").GetInt32()]);
        }

        Assert.Equal(1, types[tokenizer.Encode("hello", addSpecialTokens: false)[0]]);
        Assert.Equal(tokenizer.BosId is { } bos ? (object)(uint)bos : null, file.Has("tokenizer.ggml.bos_token_id") ? file["tokenizer.ggml.bos_token_id"].Value : null);
        Assert.Equal((uint)tokenizer.EosId!.Value, file["tokenizer.ggml.eos_token_id"].Value);
    }

    [Fact]
    public void An_existing_file_that_is_not_our_gguf_is_refused_and_our_own_is_replaced()
    {
        using var temp = new TempDir();
        var foreign = temp.Write("model.gguf", "not a gguf");
        var error = Assert.Throws<LlamaNasException>(() => ModelExporter.Export(stories.Model, StoriesModel.Directory, foreign, new ExportOptions { Format = ExportFormat.Gguf }));
        Assert.Equal(DiagnosticCodes.ExportTargetNotOurs, error.Code);
        Assert.Equal("not a gguf", File.ReadAllText(foreign));

        var own = temp.File("own.gguf");
        ModelExporter.Export(stories.Model, StoriesModel.Directory, own, new ExportOptions { Format = ExportFormat.Gguf });
        ModelExporter.Export(stories.Model, StoriesModel.Directory, own, new ExportOptions { Format = ExportFormat.Gguf, Architecture = SafetensorsExportTests.NonUniform });
        Assert.Equal("deci", GgufFile.Open(own)["general.architecture"].AsString);
        Assert.Equal(2, Directory.EnumerateFiles(temp.Path).Count()); // no temporary file left
    }

    /// <summary>The rows llama.cpp expects for an HF tensor: q and k interleaved per head, everything else as it is.</summary>
    private static float[] ExpectedRows(string name, Tensor slice)
    {
        using var scope = NewDisposeScope();
        var layer = GgufModel.TensorName(name).Layer;
        var t = name.Contains("q_proj", StringComparison.Ordinal) ? GgufModel.Interleave(slice, 8)
            : name.Contains("k_proj", StringComparison.Ordinal) ? GgufModel.Interleave(slice, 4) : slice;
        Assert.True(layer >= -1);
        return t.contiguous().data<float>().ToArray();
    }

    /// <summary>Stored values equal the source within what the type keeps: exact for F32, the type's rounding for F16/BF16, half a quantization step for Q8_0.</summary>
    private static void CheckData(GgufFile file, GgufTensorInfo info, float[] expected)
    {
        var stored = file.ReadFloats(info);
        Assert.Equal(expected.Length, stored.Length);
        using var source = tensor(expected);
        float[] rounded = info.Type switch
        {
            GgmlType.F16 => source.to(ScalarType.Float16).to(ScalarType.Float32).data<float>().ToArray(),
            GgmlType.BF16 => source.to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray(),
            _ => expected,
        };
        if (info.Type != GgmlType.Q8_0)
        {
            Assert.Equal(rounded, stored);
            return;
        }

        for (var b = 0; b < expected.Length / 32; b++)
        {
            var amax = expected.AsSpan(b * 32, 32).ToArray().Max(MathF.Abs);
            for (var j = b * 32; j < (b + 1) * 32; j++)
            {
                // Half a step of d = amax / 127, plus the fp16 rounding of d itself over 127 steps.
                Assert.True(MathF.Abs(stored[j] - expected[j]) <= (amax / 127 * 0.5f) + (amax * 1e-3f), $"{info.Name}[{j}]: {stored[j]} for {expected[j]}");
            }
        }
    }

    private static uint[] Uints(GgufValue value) => [.. value.AsArray.Items.Cast<uint>()];
}
