using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Export;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Quantization;
using LlamaNas.TestSupport;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Export;

/// <summary>INT8 weight-only quantization: the quantizer against a scalar reference, the in-memory quantized model, and the int8 safetensors export.</summary>
public sealed class Int8ExportTests(StoriesModel stories) : IClassFixture<StoriesModel>
{
    private const string Story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    private static SubnetworkArchitecture NonUniform => SafetensorsExportTests.NonUniform;

    [Fact]
    public void The_quantizer_matches_a_scalar_reference_of_the_scheme()
    {
        TorchTest.Init();
        using var generator = new TorchSharp.torch.Generator(7);
        using var w = randn([12, 40], generator: generator);
        using (no_grad())
        {
            w[3].zero_(); // an all-zero row
            w[5].mul_(1e-6); // a row whose scale is an fp16 subnormal
            w[7, 2] = tensor(40.0f); // an outlier
        }

        var values = w.data<float>().ToArray();
        var (q, scale) = Int8Weights.Quantize(w, "test");
        using (q)
        using (scale)
        {
            Assert.Equal(ScalarType.Int8, q.dtype);
            Assert.Equal(ScalarType.Float16, scale.dtype);
            Assert.Equal([12L, 1L], scale.shape);
            var qs = q.data<sbyte>().ToArray();
            using var scales32 = scale.to(ScalarType.Float32);
            var ss = scales32.data<float>().ToArray();
            for (var r = 0; r < 12; r++)
            {
                var row = values.AsSpan(r * 40, 40).ToArray();
                var expectedScale = Math.Max((float)(Half)(row.Max(Math.Abs) / 127f), (float)Half.Epsilon);
                Assert.Equal(expectedScale, ss[r]);
                for (var c = 0; c < 40; c++)
                {
                    var expected = Math.Clamp(Math.Round(row[c] / expectedScale, MidpointRounding.ToEven), -127, 127);
                    Assert.Equal(expected, qs[(r * 40) + c]);
                }
            }

            Assert.All(qs.Skip(3 * 40).Take(40), v => Assert.Equal(0, v));
            Assert.Equal(127, Math.Abs((int)qs[(7 * 40) + 2]));
        }
    }

    [Fact]
    public void A_weight_whose_scale_fp16_cannot_hold_is_refused()
    {
        TorchTest.Init();
        using var w = full(2, 4, 1e7f);
        var error = Assert.Throws<LlamaNasException>(() => Int8Weights.Quantize(w, "model.layers.0.mlp.up_proj.weight"));
        Assert.Equal(DiagnosticCodes.QuantizationUnsupported, error.Code);
    }

    [Fact]
    public void The_int8_export_reloads_with_the_in_memory_quantized_subnetworks_logits_and_its_analytic_size()
    {
        using var temp = new TempDir();
        var folder = temp.File("int8");
        var result = ModelExporter.Export(stories.Model, StoriesModel.Directory, folder, new ExportOptions { Architecture = NonUniform, DType = ExportDType.Int8 });

        // The analytic INT8 size of the search is the bytes the export wrote.
        var space = SearchSpace.Create(stories.Model.Config, SearchSpaceSpec.LlamaNas(stories.Model.Config));
        Assert.Equal(space.SizeBytes(NonUniform, SizeModel.Int8Linear()), result.TensorBytes);

        using var file = SafetensorsFile.Open(Path.Combine(folder, CheckpointFiles.SingleFile));
        var q = file.Tensors.Single(t => t.Name == "model.layers.1.mlp.down_proj.weight");
        Assert.Equal(SafetensorsDType.I8, q.DType);
        Assert.Equal([64L, 128L], q.Shape);
        var s = file.Tensors.Single(t => t.Name == "model.layers.1.mlp.down_proj.weight_scale");
        Assert.Equal(SafetensorsDType.F16, s.DType);
        Assert.Equal([64L, 1L], s.Shape);
        Assert.Equal(SafetensorsDType.F16, file.Tensors.Single(t => t.Name == "model.embed_tokens.weight").DType);
        Assert.Equal(28, file.Tensors.Count(t => t.DType == SafetensorsDType.I8)); // 4 layers × 7 projections

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!;
        Assert.Equal("compressed-tensors", (string?)config["quantization_config"]!["quant_method"]);
        Assert.Equal("channel", (string?)config["quantization_config"]!["config_groups"]!["group_0"]!["weights"]!["strategy"]);

        using var loaded = LlamaForCausalLM.Load(folder);
        stories.Model.ActivateSubnetwork(NonUniform);
        try
        {
            float quantizedVsLoaded, quantizedVsFloat;
            using (stories.Model.QuantizeActive())
            {
                quantizedVsLoaded = MaxAbsDiff(stories.Model, loaded);
            }

            quantizedVsFloat = MaxAbsDiff(stories.Model, loaded);
            Assert.True(quantizedVsLoaded <= 1e-5, $"int8 export vs in-memory int8: {quantizedVsLoaded}");
            Assert.True(quantizedVsFloat > 1e-3, $"the quantization is real: {quantizedVsFloat}"); // and the scope restored the float weights
        }
        finally
        {
            stories.Model.ActivateFull();
        }
    }

    [Fact]
    public void Quantizing_on_the_fly_equals_dequantizing_once_and_the_scope_restores_every_weight_exactly()
    {
        var before = stories.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
        try
        {
            stories.Model.ActivateSubnetwork(NonUniform);
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var ids = tensor(stories.Tokenizer.Encode(Story).Select(i => (long)i).ToArray()).unsqueeze(0);
            Tensor once, onTheFly;
            using (stories.Model.QuantizeActive(Int8Execution.Dequantized))
            {
                once = stories.Model.Forward(ids);
                Assert.Throws<InvalidOperationException>(() => stories.Model.ActivateFull());
            }

            using (stories.Model.QuantizeActive(Int8Execution.OnTheFly))
            {
                onTheFly = stories.Model.Forward(ids);
            }

            Assert.True((once - onTheFly).abs().max().item<float>() <= 1e-5);
            foreach (var (name, p) in stories.Model.named_parameters())
            {
                Assert.True(p.allclose(before[name], 0, 0), $"{name} was not restored");
            }

            Assert.False(stories.Model.IsQuantized);
        }
        finally
        {
            stories.Model.ActivateFull();
            foreach (var t in before.Values)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public void Quantized_forwards_and_int8_exports_leave_no_tensor_alive()
    {
        using var temp = new TempDir();
        var n = 0;
        TorchTest.AssertNoLeaks(() =>
        {
            n++;
            ModelExporter.Export(stories.Model, StoriesModel.Directory, temp.File($"int8-{n}"), new ExportOptions { Architecture = NonUniform, DType = ExportDType.Int8 });
            using var noGrad = no_grad();
            foreach (var mode in new[] { Int8Execution.Dequantized, Int8Execution.OnTheFly })
            {
                using (stories.Model.QuantizeActive(mode))
                using (var ids = tensor(new long[,] { { 1, 400, 20, 33 } }))
                using (var logits = stories.Model.Forward(ids))
                {
                }
            }
        });
    }

    [Fact]
    public void Int8_is_a_safetensors_type_only()
    {
        using var temp = new TempDir();
        var error = Assert.Throws<LlamaNasException>(() => ModelExporter.Export(stories.Model, StoriesModel.Directory, temp.File("m.gguf"), new ExportOptions { Format = ExportFormat.Gguf, DType = ExportDType.Int8 }));
        Assert.Equal(DiagnosticCodes.ExportInvalidOptions, error.Code);
        Assert.False(File.Exists(temp.File("m.gguf")));
    }

    [Fact]
    public void Quantizing_a_model_with_lora_adapters_attached_is_refused()
    {
        using var model = TorchTest.RandomModel(TorchTest.TinyConfig(), 3);
        model.AttachLora(new LoraOptions(), seed: 1);
        var error = Assert.Throws<LlamaNasException>(() => model.QuantizeActive());
        Assert.Equal(DiagnosticCodes.QuantizationUnsupported, error.Code);
    }

    [Theory]
    [InlineData("no-config")]
    [InlineData("missing-scale")]
    [InlineData("other-scheme")]
    public void An_int8_checkpoint_whose_scales_or_config_do_not_match_is_refused_with_its_code(string damage)
    {
        using var temp = new TempDir();
        var folder = temp.File("int8");
        ModelExporter.Export(stories.Model, StoriesModel.Directory, folder, new ExportOptions { Architecture = NonUniform, DType = ExportDType.Int8 });
        var configPath = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        switch (damage)
        {
            case "no-config":
                config.Remove("quantization_config");
                File.WriteAllText(configPath, config.ToJsonString());
                break;
            case "other-scheme":
                config["quantization_config"]!["config_groups"]!["group_0"]!["weights"]!["strategy"] = "group";
                File.WriteAllText(configPath, config.ToJsonString());
                break;
            default:
                var weights = Path.Combine(folder, CheckpointFiles.SingleFile);
                List<KeyValuePair<string, Tensor>> kept;
                using (var file = SafetensorsFile.Open(weights))
                {
                    kept = [.. file.Tensors.Where(t => t.Name != "model.layers.2.self_attn.k_proj.weight_scale").Select(t => new KeyValuePair<string, Tensor>(t.Name, file.Load(t.Name, t.DType == SafetensorsDType.I8 ? ScalarType.Int8 : ScalarType.Float16)))];
                }

                SafetensorsWriter.Write(weights, kept);
                kept.ForEach(t => t.Value.Dispose());
                break;
        }

        var error = Assert.Throws<LlamaNasException>(() => LlamaForCausalLM.Load(folder));
        Assert.Equal(DiagnosticCodes.QuantizedCheckpointInvalid, error.Code);
    }

    /// <summary>Largest logit difference on a real story between the active network of <paramref name="a"/> and <paramref name="b"/>.</summary>
    private float MaxAbsDiff(LlamaForCausalLM a, LlamaForCausalLM b)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(stories.Tokenizer.Encode(Story).Select(i => (long)i).ToArray()).unsqueeze(0);
        return (a.Forward(ids) - b.Forward(ids)).abs().max().item<float>();
    }
}
