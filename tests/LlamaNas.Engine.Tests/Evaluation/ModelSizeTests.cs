using LlamaNas.Core.Randomness;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Modeling;
using LlamaNas.TestSupport;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Evaluation;

/// <summary>The size objective: analytic bytes of a sub-network equal the weight bytes its export really holds.</summary>
public sealed class ModelSizeTests : IDisposable
{
    private readonly TempDir _dir = new();

    public ModelSizeTests() => TorchTest.Init();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Analytic_size_equals_the_exported_safetensors_weight_bytes(ScalarType dtype)
    {
        var config = TorchTest.TinyConfig(layers: 4, tied: false) with { AttentionBias = true };
        var space = SearchSpace.Create(config, new SearchSpaceSpec { Depths = [2, 3, 4], IntermediateSizes = [16, 48], AttentionHeads = [2, 4], HiddenSizes = [16, 32] });
        using var model = LlamaForCausalLM.CreateRandom(config, dtype);
        var sizeModel = dtype == ScalarType.Float32 ? SizeModel.Fp32 : SizeModel.Fp16;
        foreach (var genes in SearchSampling.DistinctRandom(space, new Xoshiro256StarStar(4), 6, new HashSet<IReadOnlyList<int>>(GenesComparer.Instance)))
        {
            var arch = space.Decode(genes);
            using var sub = model.ExtractSubnetwork(arch);
            var path = Path.Combine(_dir.Path, "sub.safetensors");
            SafetensorsWriter.Write(path, sub.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)));
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(space.SizeBytes(arch, sizeModel), file.Tensors.Sum(t => t.ByteCount));
            Assert.Equal(space.ParameterCount(arch), file.Tensors.Sum(t => t.ElementCount));
        }
    }

    [Fact]
    public void The_real_stories260K_checkpoint_size_is_what_the_analytic_model_says()
    {
        using var checkpoint = LlamaCheckpoint.Open(SharedData.Stories260K);
        var space = SearchSpace.Create(checkpoint.Config, new SearchSpaceSpec { Depths = [checkpoint.Config.NumHiddenLayers] });
        Assert.Equal(space.SizeBytes(space.Decode(new int[space.GeneCount]), SizeModel.Fp32), checkpoint.Tensors.Values.Sum(t => t.ByteCount));
    }
}
