using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Export;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Export;

public sealed class SafetensorsExportTests(StoriesModel stories) : IClassFixture<StoriesModel>
{
    /// <summary>A sub-network with different MLP widths and heads in every layer (and one layer fewer).</summary>
    internal static readonly SubnetworkArchitecture NonUniform = new(64, [172, 128, 96, 64], [8, 6, 8, 4], [4, 3, 4, 2]);

    private const string Story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    [Fact]
    public void The_full_model_round_trips_through_an_exported_folder_with_equal_logits()
    {
        using var temp = new TempDir();
        var folder = temp.File("full");
        var result = ModelExporter.Export(stories.Model, StoriesModel.Directory, folder, new ExportOptions());
        Assert.Equal(stories.Model.Config.ParameterCount(), result.Parameters);
        Assert.Equal(folder, result.Path);
        using var loaded = LlamaForCausalLM.Load(folder);
        Assert.True(MaxAbsDiff(stories.Model, null, loaded) <= 1e-5);
        foreach (var name in TokenizerLoader.CompanionFiles.Where(n => File.Exists(Path.Combine(StoriesModel.Directory, n))))
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(StoriesModel.Directory, name)), File.ReadAllBytes(Path.Combine(folder, name)));
        }

        Assert.True(File.Exists(Path.Combine(folder, ModelExporter.ManifestFile)));
        Assert.Equal([folder], Directory.EnumerateFileSystemEntries(temp.Path)); // no temporary folder left
    }

    [Fact]
    public void A_non_uniform_subnetwork_round_trips_with_the_sliced_models_logits_and_describes_its_blocks()
    {
        using var temp = new TempDir();
        var folder = temp.File("sub");
        var result = ModelExporter.Export(stories.Model, StoriesModel.Directory, folder, new ExportOptions { Architecture = NonUniform });
        using var loaded = LlamaForCausalLM.Load(folder);
        Assert.Equal(NonUniform, loaded.FullArchitecture);
        Assert.Equal(loaded.ParameterCount(), result.Parameters);
        Assert.True(MaxAbsDiff(stories.Model, NonUniform, loaded) <= 1e-5);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
        Assert.Equal("llama", (string?)config["model_type"]);
        Assert.Equal(4, (int)config["num_hidden_layers"]!);
        var blocks = config["block_configs"]!.AsArray();
        Assert.Equal(4, blocks.Count);
        for (var l = 0; l < 4; l++)
        {
            var attention = blocks[l]!["attention"]!;
            var ffn = blocks[l]!["ffn"]!;
            Assert.Equal(NonUniform.AttentionHeads[l], (int)attention["num_attention_heads"]!);
            Assert.Equal(NonUniform.KeyValueHeads[l], (int)attention["num_key_value_heads"]!);
            Assert.Equal(2, (int)attention["n_heads_in_group"]!);
            Assert.Equal(NonUniform.IntermediateSizes[l], (int)ffn["intermediate_size"]!);
            Assert.Equal(NonUniform.IntermediateSizes[l], (int)Math.Round(2 * (double)ffn["ffn_mult"]! * 64 / 3));
            Assert.False((bool)ffn["no_op"]!);
        }
    }

    [Fact]
    public void A_bf16_export_holds_the_subnetwork_rounded_to_bf16()
    {
        using var temp = new TempDir();
        var folder = temp.File("bf16");
        ModelExporter.Export(stories.Model, StoriesModel.Directory, folder, new ExportOptions { Architecture = NonUniform, DType = ExportDType.Bf16 });
        Assert.Contains("\"torch_dtype\": \"bfloat16\"", File.ReadAllText(Path.Combine(folder, "config.json")), StringComparison.Ordinal);
        using var loaded = LlamaForCausalLM.Load(folder);
        using var rounded = stories.Model.ExtractSubnetwork(NonUniform);
        using (no_grad())
        {
            foreach (var p in rounded.parameters())
            {
                using var bf16 = p.to(ScalarType.BFloat16);
                p.copy_(bf16);
            }
        }

        Assert.True(MaxAbsDiff(rounded, null, loaded) <= 1e-5);
        Assert.True(MaxAbsDiff(stories.Model, NonUniform, loaded) > 1e-4); // the rounding is real
    }

    [Fact]
    public void An_existing_folder_llamanas_did_not_write_is_refused_and_left_alone_while_an_own_export_is_replaced()
    {
        using var temp = new TempDir();
        var foreign = temp.Write("foreign/notes.txt", "mine");
        var error = Assert.Throws<LlamaNasException>(() => ModelExporter.Export(stories.Model, StoriesModel.Directory, temp.File("foreign"), new ExportOptions()));
        Assert.Equal(DiagnosticCodes.ExportTargetNotOurs, error.Code);
        Assert.Equal("mine", File.ReadAllText(foreign));
        Assert.Single(Directory.EnumerateFileSystemEntries(temp.Path));

        var own = temp.File("own");
        ModelExporter.Export(stories.Model, StoriesModel.Directory, own, new ExportOptions());
        ModelExporter.Export(stories.Model, StoriesModel.Directory, own, new ExportOptions { Architecture = NonUniform });
        using var loaded = LlamaForCausalLM.Load(own);
        Assert.Equal(NonUniform, loaded.FullArchitecture);
        Assert.Equal(2, Directory.EnumerateFileSystemEntries(temp.Path).Count());
    }

    [Fact]
    public void Q8_0_is_a_gguf_type_only()
    {
        using var temp = new TempDir();
        var error = Assert.Throws<LlamaNasException>(() => ModelExporter.Export(stories.Model, StoriesModel.Directory, temp.File("q8"), new ExportOptions { DType = ExportDType.Q8_0 }));
        Assert.Equal(DiagnosticCodes.ExportInvalidOptions, error.Code);
        Assert.False(Directory.Exists(temp.File("q8")));
    }

    [Fact]
    public void Exports_leave_no_tensor_alive()
    {
        using var temp = new TempDir();
        var n = 0;
        TorchTest.AssertNoLeaks(() =>
        {
            n++;
            ModelExporter.Export(stories.Model, StoriesModel.Directory, temp.File($"st{n}"), new ExportOptions { Architecture = NonUniform, DType = ExportDType.Bf16 });
            ModelExporter.Export(stories.Model, StoriesModel.Directory, temp.File($"m{n}.gguf"), new ExportOptions { Format = ExportFormat.Gguf, Architecture = NonUniform, DType = ExportDType.Q8_0 });
        });
    }

    /// <summary>Largest logit difference on a real story between <paramref name="reference"/> (running <paramref name="arch"/>, or whole) and <paramref name="other"/>.</summary>
    private double MaxAbsDiff(LlamaForCausalLM reference, SubnetworkArchitecture? arch, LlamaForCausalLM other)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(stories.Tokenizer.Encode(Story).Select(i => (long)i).ToArray()).unsqueeze(0);
        try
        {
            if (arch is not null)
            {
                reference.ActivateSubnetwork(arch);
            }

            return (reference.Forward(ids) - other.Forward(ids)).abs().max().item<float>();
        }
        finally
        {
            reference.ActivateFull();
        }
    }
}
