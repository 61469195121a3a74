using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Generation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tests.Checkpoints;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

using LlamaNas.Core.Randomness;

namespace LlamaNas.Engine.Tests.Modeling;

/// <summary>Elastic sub-networks: activation by views, extraction by copies, and the invariants between them.</summary>
public class ElasticTests
{
    private static readonly long[][] Prompts = [[1, 5, 9, 33, 4, 70, 12, 8], [1, 40, 41, 42]];

    public ElasticTests() => TorchTest.Init();

    /// <summary>4 layers, hidden 32, 4 heads in 2 KV groups of 2 (head dim 8), MLP 48; every bias when <paramref name="biased"/>.</summary>
    private static LlamaConfig Config(bool tied = false, bool biased = true) =>
        TorchTest.TinyConfig(layers: 4, tied: tied) with { AttentionBias = biased, MlpBias = biased };

    private static SearchSpace Space(LlamaConfig config) => SearchSpace.Create(config, new SearchSpaceSpec
    {
        Depths = [1, 2, 3, 4],
        IntermediateSizes = [8, 24, 48],
        AttentionHeads = [2, 4],
        HiddenSizes = [16, 24, 32],
    });

    /// <summary>The smallest and the full sub-network of <paramref name="space"/>, then <paramref name="count"/> distinct seeded random ones.</summary>
    private static List<SubnetworkArchitecture> Architectures(SearchSpace space, int count, ulong seed)
    {
        var smallest = new int[space.GeneCount];
        var largest = Enumerable.Range(0, space.GeneCount).Select(space.UpperBound).ToArray();
        var seen = new HashSet<IReadOnlyList<int>>(GenesComparer.Instance) { smallest, largest };
        return [space.Decode(smallest), space.Decode(largest), .. SearchSampling.DistinctRandom(space, new Xoshiro256StarStar(seed), count, seen).Select(space.Decode)];
    }

    /// <summary>The prompts as one left-padded batch, with its attention mask.</summary>
    private static (Tensor Ids, Tensor Mask) Batch()
    {
        var longest = Prompts.Max(p => p.Length);
        var ids = zeros(Prompts.Length, longest, int64);
        var mask = zeros(Prompts.Length, longest, int64);
        for (var b = 0; b < Prompts.Length; b++)
        {
            var pad = longest - Prompts[b].Length;
            ids[b].narrow(0, pad, Prompts[b].Length).copy_(tensor(Prompts[b]));
            mask[b].narrow(0, pad, Prompts[b].Length).fill_(1);
        }

        return (ids, mask);
    }

    private static Tensor Ids(int prompt = 0) => tensor(Prompts[prompt]).unsqueeze(0);

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Sliced_logits_equal_the_extracted_models_and_parameter_counts_agree(bool tied, bool biased)
    {
        var config = Config(tied, biased);
        var space = Space(config);
        using var model = TorchTest.RandomModel(config, seed: 21);
        var architectures = Architectures(space, 12, seed: 21);
        Assert.Contains(architectures, a => a.AttentionHeads.Distinct().Count() > 1); // per-layer heads get exercised
        Assert.Contains(architectures, a => a.HiddenSize < config.HiddenSize && a.Depth < config.NumHiddenLayers);
        using var noGrad = no_grad();
        foreach (var arch in architectures)
        {
            using var scope = NewDisposeScope();
            var (ids, mask) = Batch();
            model.ActivateSubnetwork(arch);
            Assert.Equal(arch, model.ActiveArchitecture);
            var sliced = model.Forward(ids, mask);
            using var extracted = model.ExtractSubnetwork(arch);
            var copied = extracted.Forward(ids, mask);
            Assert.Equal(new long[] { Prompts.Length, ids.shape[1], config.VocabSize }, sliced.shape);
            Assert.True(MaxAbsDiff(sliced, copied) <= 1e-5, $"{arch}: sliced and extracted logits differ by {MaxAbsDiff(sliced, copied)}");

            Assert.Equal(space.ParameterCount(arch), extracted.ParameterCount());
            Assert.Equal(extracted.ParameterCount(), extracted.Config.ParameterCount());
            Assert.Equal(arch, extracted.FullArchitecture);
            Assert.All(extracted.parameters(), p => Assert.True(p.is_contiguous()));
        }
    }

    [Fact]
    public void A_sliced_model_differs_from_the_full_one_where_it_drops_weights()
    {
        var config = Config();
        using var model = TorchTest.RandomModel(config, seed: 22);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var full = model.Forward(Ids());
        SubnetworkArchitecture[] narrower =
        [
            model.FullArchitecture with { HiddenSize = 24 },
            model.FullArchitecture with { IntermediateSizes = [48, 48, 24, 48] },
            model.FullArchitecture with { AttentionHeads = [4, 2, 4, 4], KeyValueHeads = [2, 1, 2, 2] },
            model.FullArchitecture with { IntermediateSizes = [48, 48, 48], AttentionHeads = [4, 4, 4], KeyValueHeads = [2, 2, 2] },
        ];
        foreach (var arch in narrower)
        {
            model.ActivateSubnetwork(arch);
            Assert.True(MaxAbsDiff(full, model.Forward(Ids())) > 1e-3, $"{arch} runs like the full model");
        }
    }

    [Fact]
    public void Cached_decoding_of_a_sliced_model_equals_its_uncached_forward_and_stores_only_active_kv_heads()
    {
        var config = Config();
        using var model = TorchTest.RandomModel(config, seed: 23);
        using var noGrad = no_grad();
        foreach (var arch in Architectures(Space(config), 6, seed: 23))
        {
            using var scope = NewDisposeScope();
            model.ActivateSubnetwork(arch);
            var ids = Ids();
            var whole = model.Forward(ids);
            using var cache = model.NewCache(2); // small on purpose: exercises growth
            var prefix = model.Forward(ids.narrow(1, 0, 3), cache: cache);
            Assert.True(MaxAbsDiff(whole.narrow(1, 0, 3), prefix) <= 1e-5, $"{arch}: prefix");
            for (var t = 3; t < ids.shape[1]; t++)
            {
                var step = model.Forward(ids.narrow(1, t, 1), cache: cache);
                Assert.True(MaxAbsDiff(whole.narrow(1, t, 1), step) <= 1e-5, $"{arch}: position {t}");
            }

            // 8 positions fill a capacity of 8: keys and values of the kept layers, each with its kept KV heads only.
            Assert.Equal(arch, cache.Architecture);
            Assert.Equal(arch.KeyValueHeads.Sum(g => 2L * g * ids.shape[1] * config.HeadDim * sizeof(float)), cache.Bytes);
        }
    }

    [Fact]
    public void Gradients_of_a_sub_network_reach_exactly_the_slices_it_keeps()
    {
        var config = Config();
        using var model = TorchTest.RandomModel(config, seed: 30);
        model.ActivateSubnetwork(new SubnetworkArchitecture(24, [16, 48], [2, 4], [1, 2]));
        using (var scope = NewDisposeScope())
        {
            model.Forward(Ids()).pow(2).mean().backward();
        }

        var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad, StringComparer.Ordinal);
        double AbsSum(string name, int dim, long start, long length)
        {
            using var scope = NewDisposeScope();
            return grads[name]!.narrow(dim, start, length).abs().sum().item<float>();
        }

        Assert.True(AbsSum("model.layers.0.mlp.gate_proj.weight", 0, 0, 16) > 0);
        Assert.Equal(0, AbsSum("model.layers.0.mlp.gate_proj.weight", 0, 16, 32));
        Assert.Equal(0, AbsSum("model.layers.0.mlp.gate_proj.weight", 1, 24, 8));
        Assert.Equal(0, AbsSum("model.layers.0.mlp.down_proj.weight", 1, 16, 32));
        Assert.True(AbsSum("model.layers.0.self_attn.q_proj.weight", 0, 0, 16) > 0);
        Assert.Equal(0, AbsSum("model.layers.0.self_attn.q_proj.weight", 0, 16, 16));
        Assert.Equal(0, AbsSum("model.layers.0.self_attn.k_proj.weight", 0, 8, 8));
        Assert.Equal(0, AbsSum("model.layers.0.self_attn.o_proj.weight", 1, 16, 16));
        Assert.True(AbsSum("model.layers.1.self_attn.q_proj.weight", 0, 16, 16) > 0);
        Assert.Equal(0, AbsSum("model.embed_tokens.weight", 1, 24, 8));
        Assert.Equal(0, AbsSum("model.norm.weight", 0, 24, 8));
        Assert.Equal(0, AbsSum("lm_head.weight", 1, 24, 8));
        Assert.True(AbsSum("lm_head.weight", 1, 0, 24) > 0);
        Assert.Null(grads["model.layers.2.mlp.up_proj.weight"]);
        Assert.Null(grads["model.layers.3.self_attn.v_proj.weight"]);
        foreach (var g in grads.Values)
        {
            g?.Dispose();
        }
    }

    [Fact]
    public void Switching_back_to_full_restores_the_exact_original_logits()
    {
        var config = Config();
        using var model = TorchTest.RandomModel(config, seed: 24);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var original = model.Forward(Ids());
        foreach (var arch in Architectures(Space(config), 8, seed: 24))
        {
            model.ActivateSubnetwork(arch);
            model.Forward(Ids());
        }

        model.ActivateFull();
        Assert.Same(model.FullArchitecture, model.ActiveArchitecture);
        Assert.Equal(config.NumHiddenLayers, model.Model.ActiveDepth);
        Assert.All(model.Model.Layers, l => Assert.Equal(l.Mlp.IntermediateSize, l.Mlp.ActiveIntermediateSize));
        Assert.True(Identical(original, model.Forward(Ids())));

        // An equal architecture built by hand is the full model too.
        model.ActivateSubnetwork(Architectures(Space(config), 1, seed: 1)[0]);
        model.ActivateSubnetwork(new SubnetworkArchitecture(32, [48, 48, 48, 48], [4, 4, 4, 4], [2, 2, 2, 2]));
        Assert.Same(model.FullArchitecture, model.ActiveArchitecture);
        Assert.True(Identical(original, model.Forward(Ids())));
    }

    [Fact]
    public void Switching_sub_networks_allocates_no_weight_memory_and_no_tensors()
    {
        var config = Config();
        using var model = TorchTest.RandomModel(config, seed: 25);
        var architectures = Architectures(Space(config), 10, seed: 25);
        var before = WeightStorage(model);

        var live = TorchTest.LiveTensors;
        for (var i = 0; i < 500; i++)
        {
            model.ActivateSubnetwork(architectures[i % architectures.Count]);
        }

        Assert.Equal(live, TorchTest.LiveTensors);
        TorchTest.AssertNoLeaks(() =>
        {
            using var noGrad = no_grad();
            foreach (var arch in architectures)
            {
                using var scope = NewDisposeScope();
                model.ActivateSubnetwork(arch);
                model.Forward(Ids());
                using var cache = model.NewCache(4);
                model.Forward(Ids(), cache: cache);
                model.Forward(Ids().narrow(1, 0, 1), cache: cache);
            }

            model.ActivateFull();
        });
        Assert.Equal(before, WeightStorage(model));
    }

    [Fact]
    public void Extraction_leaves_no_tensors_behind_and_shares_no_storage()
    {
        var config = Config();
        using var model = TorchTest.RandomModel(config, seed: 26);
        var arch = Architectures(Space(config), 1, seed: 26)[^1];
        TorchTest.AssertNoLeaks(() =>
        {
            using var extracted = model.ExtractSubnetwork(arch);
        });

        using var copy = model.ExtractSubnetwork(model.FullArchitecture);
        var source = WeightStorage(model);
        Assert.All(WeightStorage(copy), w => Assert.DoesNotContain(source, s => s.DataPointer == w.DataPointer));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Assert.True(Identical(model.Forward(Ids()), copy.Forward(Ids())));
    }

    [Fact]
    public void An_extracted_model_with_per_layer_heads_saves_and_loads_as_a_checkpoint()
    {
        var config = Config();
        using var model = TorchTest.RandomModel(config, seed: 27);
        var arch = new SubnetworkArchitecture(24, [8, 48, 24], [4, 2, 4], [2, 1, 2]);
        using var extracted = model.ExtractSubnetwork(arch);
        Assert.Equal([4, 2, 4], extracted.Config.AttentionHeadsPerLayer);
        Assert.Equal([2, 1, 2], extracted.Config.KeyValueHeadsPerLayer);

        using var dir = new TempDirectory();
        var json = extracted.Config.ToJson();
        Assert.IsType<JsonArray>(json["num_attention_heads"]);
        File.WriteAllText(dir.File(CheckpointFiles.Config), json.ToJsonString());
        SafetensorsWriter.Write(dir.File(CheckpointFiles.SingleFile), extracted.named_parameters().Select(p => KeyValuePair.Create(p.name, (Tensor)p.parameter)));
        using var loaded = LlamaForCausalLM.Load(dir.Path);
        Assert.Equal(arch, loaded.FullArchitecture);

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        model.ActivateSubnetwork(arch);
        Assert.True(Identical(loaded.Forward(Ids()), extracted.Forward(Ids())));
        Assert.True(MaxAbsDiff(loaded.Forward(Ids()), model.Forward(Ids())) <= 1e-5);
    }

    public static TheoryData<string, string> InvalidArchitectures => new()
    {
        { "32 [48,48] [4] [2,2]", DiagnosticCodes.SubnetworkLayerListsInvalid },
        { "32 [48,48] [4,4] [2]", DiagnosticCodes.SubnetworkLayerListsInvalid },
        { "32 [] [] []", DiagnosticCodes.SubnetworkDepthInvalid },
        { "32 [48,48,48,48,48] [4,4,4,4,4] [2,2,2,2,2]", DiagnosticCodes.SubnetworkDepthInvalid },
        { "0 [48] [4] [2]", DiagnosticCodes.SubnetworkHiddenSizeInvalid },
        { "33 [48] [4] [2]", DiagnosticCodes.SubnetworkHiddenSizeInvalid },
        { "32 [48,0] [4,4] [2,2]", DiagnosticCodes.SubnetworkIntermediateSizeInvalid },
        { "32 [49] [4] [2]", DiagnosticCodes.SubnetworkIntermediateSizeInvalid },
        { "32 [48] [0] [0]", DiagnosticCodes.SubnetworkHeadsInvalid },
        { "32 [48] [3] [1]", DiagnosticCodes.SubnetworkHeadsInvalid },
        { "32 [48] [6] [3]", DiagnosticCodes.SubnetworkHeadsInvalid },
        { "32 [48] [2] [2]", DiagnosticCodes.SubnetworkKeyValueHeadsMismatch },
        { "32 [48,48] [4,4] [2,1]", DiagnosticCodes.SubnetworkKeyValueHeadsMismatch },
    };

    [Theory]
    [MemberData(nameof(InvalidArchitectures))]
    public void Architectures_that_do_not_fit_the_model_are_coded_errors_and_change_nothing(string text, string code)
    {
        var parts = text.Split(' ');
        int[] List(int i) => [.. parts[i].Trim('[', ']').Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)];
        var arch = new SubnetworkArchitecture(int.Parse(parts[0]), List(1), List(2), List(3));
        using var model = TorchTest.RandomModel(Config(), seed: 28);
        var valid = new SubnetworkArchitecture(16, [24, 8], [2, 4], [1, 2]);
        model.ActivateSubnetwork(valid);

        Assert.Equal(code, Assert.Throws<LlamaNasException>(() => model.ActivateSubnetwork(arch)).Code);
        Assert.Equal(code, Assert.Throws<LlamaNasException>(() => model.ExtractSubnetwork(arch)).Code);
        Assert.Equal(valid, model.ActiveArchitecture);
        Assert.Equal(2, model.Model.ActiveDepth);
        Assert.Equal(16, model.Model.ActiveHiddenSize);
    }

    [Fact]
    public void A_cache_filled_by_one_sub_network_refuses_another()
    {
        var config = Config();
        using var model = TorchTest.RandomModel(config, seed: 29);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var small = new SubnetworkArchitecture(24, [8, 8], [2, 2], [1, 1]);
        model.ActivateSubnetwork(small);
        using var cache = model.NewCache(16);
        model.Forward(Ids(), cache: cache);
        model.ActivateFull();
        var e = Assert.Throws<LlamaNasException>(() => model.Forward(Ids(1), cache: cache));
        Assert.Equal(DiagnosticCodes.KvCacheArchitectureMismatch, e.Code);
        Assert.Equal(Prompts[0].Length, cache.Length);

        model.ActivateSubnetwork(small with { IntermediateSizes = [8, 8] }); // equal by value: the same sub-network
        model.Forward(Ids(1).narrow(1, 0, 1), cache: cache);
        Assert.Equal(Prompts[0].Length + 1, cache.Length);
    }

    [Fact]
    public void Stories260K_full_architecture_gives_the_plain_logits_and_a_depth_4_sub_network_runs()
    {
        var dir = SharedData.Stories260K;
        using var plain = LlamaForCausalLM.Load(dir);
        using var elastic = LlamaForCausalLM.Load(dir);
        var tokenizer = TokenizerLoader.Load(dir);
        var prompt = tokenizer.Encode("Once upon a time, there was a little girl");
        Assert.Equal(1, prompt[0]); // BOS
        var full = new SubnetworkArchitecture(64, [172, 172, 172, 172, 172], [8, 8, 8, 8, 8], [4, 4, 4, 4, 4]);
        var depth4 = new SubnetworkArchitecture(64, [172, 172, 172, 172], [8, 8, 8, 8], [4, 4, 4, 4]);
        Assert.Equal(full, elastic.FullArchitecture);

        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        {
            var ids = tensor(prompt.Select(i => (long)i).ToArray()).unsqueeze(0);
            var expected = plain.Forward(ids);
            elastic.ActivateSubnetwork(depth4);
            elastic.ActivateSubnetwork(full);
            Assert.True(Identical(expected, elastic.Forward(ids)));

            elastic.ActivateSubnetwork(depth4);
            var sliced = elastic.Forward(ids);
            Assert.Equal(expected.shape, sliced.shape);
            Assert.True(sliced.isfinite().all().item<bool>());
            Assert.True(MaxAbsDiff(expected, sliced) > 1e-3);
            using var extracted = elastic.ExtractSubnetwork(depth4);
            Assert.Equal(4, extracted.Config.NumHiddenLayers);
            Assert.True(MaxAbsDiff(sliced, extracted.Forward(ids)) <= 1e-5);
        }

        var tokens = TextGenerator.Generate(elastic, [prompt], new GenerationOptions { MaxNewTokens = 16, StopAtEos = false }, [2])[0];
        Assert.Equal(16, tokens.Length);
        Assert.All(tokens, t => Assert.InRange(t, 0, 511));
    }

    private static List<(string Name, IntPtr DataPointer, ulong Bytes, string Shape)> WeightStorage(LlamaForCausalLM model)
    {
        using var scope = NewDisposeScope();
        return [.. model.named_parameters().Select(p =>
        {
            using var storage = p.parameter.storage<float>();
            return (p.name, storage.data_ptr(), storage.nbytes(), string.Join('x', p.parameter.shape));
        })];
    }

    private static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && MaxAbsDiff(a, b) == 0;

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().max();
        return d.item<float>();
    }
}
