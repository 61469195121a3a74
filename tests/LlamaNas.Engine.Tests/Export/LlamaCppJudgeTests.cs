using System.Globalization;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Export;
using LlamaNas.Engine.Generation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Export;

/// <summary>
/// llama.cpp is the judge: exported stories260K GGUFs load in llama.cpp, and its greedy text from BOS equals
/// llamanas's own (<see cref="TextGenerator"/>) for the same weights, with next-token probabilities that agree.
/// </summary>
public sealed class LlamaCppJudgeTests(StoriesModel stories, ITestOutputHelper output) : IClassFixture<StoriesModel>
{
    private const int NewTokens = 60;
    private const int ProbabilitySteps = 8;

    /// <summary>shared/README.md: stories260K's greedy story from BOS, 60 tokens.</summary>
    private const string ReferenceStory = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high";

    public static TheoryData<string, string> Subnetworks => new()
    {
        { "full", "llama" },
        { "depth4", "llama" },
        { "nonuniform", "deci" },
        { "hidden48", "llama" },
    };

    [Theory]
    [MemberData(nameof(Subnetworks))]
    public void An_f32_export_generates_exactly_llamanas_greedy_text_in_llama_cpp(string which, string architecture)
    {
        var arch = Architecture(which);
        using var temp = new TempDir();
        var path = temp.File(which + ".gguf");
        Assert.Equal(architecture, ModelExporter.Export(stories.Model, StoriesModel.Directory, path, new ExportOptions { Format = ExportFormat.Gguf, Architecture = arch }).Architecture);

        var judged = LlamaCpp.Greedy(path, NewTokens, ProbabilitySteps);
        var (ours, probabilities) = Ours(stories.Model, arch, judged.Tokens);
        Assert.Equal(stories.Tokenizer.BosId, judged.Bos);
        Assert.Equal(ours, judged.Tokens);
        Assert.Equal(stories.Tokenizer.Decode(ours), judged.Text.TrimStart(' '));
        if (which == "full")
        {
            Assert.Equal(ReferenceStory, judged.Text.TrimStart(' '));
        }

        var gap = MaxGap(probabilities, judged.Probabilities);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{which} ({architecture}, F32): {judged.Tokens.Length} tokens equal; largest next-token probability gap over {ProbabilitySteps} steps {gap:E2}"));
        Assert.True(gap <= 1e-5, $"llama.cpp's next-token probabilities differ from llamanas's by up to {gap}");
    }

    [Theory]
    [InlineData(ExportDType.Q8_0)]
    [InlineData(ExportDType.F16)]
    [InlineData(ExportDType.Bf16)]
    public void A_q8_0_or_half_precision_export_agrees_with_llamanas_fp32_greedy_text(ExportDType dtype)
    {
        using var temp = new TempDir();
        var path = temp.File("stories.gguf");
        var result = ModelExporter.Export(stories.Model, StoriesModel.Directory, path, new ExportOptions { Format = ExportFormat.Gguf, DType = dtype });
        Assert.Equal(dtype == ExportDType.Q8_0 ? 5 : 0, result.F16Fallback.Count);

        var judged = LlamaCpp.Greedy(path, NewTokens, ProbabilitySteps);
        var (ours, probabilities) = Ours(stories.Model, stories.Model.FullArchitecture, judged.Tokens);
        var prefix = ours.Zip(judged.Tokens).TakeWhile(p => p.First == p.Second).Count();
        var gap = MaxGap(probabilities, judged.Probabilities);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ModelExporter.Name(dtype)}: first token {(ours[0] == judged.Tokens[0] ? "agrees" : "differs")}, common prefix {prefix} of {ours.Length} tokens; largest next-token probability gap {gap:E2}"));
        Assert.Equal(ours[0], judged.Tokens[0]);
        Assert.True(prefix >= 30, $"llama.cpp's {dtype} greedy text leaves llamanas's fp32 text after {prefix} tokens: '{judged.Text}'");
        Assert.True(gap <= 0.05, $"{dtype} next-token probabilities differ from fp32 by up to {gap}");
    }

    public static TheoryData<string, string> RandomModels => new()
    {
        { "llama3-rope", "llama" },
        { "llama3-rope-subnetwork", "deci" },
        { "linear-rope", "llama" },
    };

    /// <summary>
    /// What stories260K lacks, on random weights with its tokenizer: untied embeddings (output.weight), attention
    /// and MLP biases, Llama 3 RoPE scaling (a rope_freqs tensor) or linear scaling, a per-layer sub-network of that.
    /// </summary>
    [Theory]
    [MemberData(nameof(RandomModels))]
    public void Untied_biased_rope_scaled_models_compute_in_llama_cpp_what_they_compute_in_llamanas(string which, string architecture)
    {
        var config = TorchTest.TinyConfig(layers: 3, vocab: stories.Model.Config.VocabSize, tied: false) with
        {
            AttentionBias = true,
            MlpBias = true,
            MaxPositionEmbeddings = 256,
            RopeScaling = which.StartsWith("linear", StringComparison.Ordinal) ? new RopeScaling("linear", 2) : new RopeScaling("llama3", 8, 1, 4, 16),
        };
        using var model = TorchTest.RandomModel(config, seed: 7);
        var arch = which.EndsWith("subnetwork", StringComparison.Ordinal) ? new SubnetworkArchitecture(32, [48, 16, 32], [4, 2, 4], [2, 1, 2]) : model.FullArchitecture;
        using var temp = new TempDir();
        var path = temp.File(which + ".gguf");
        Assert.Equal(architecture, ModelExporter.Export(model, StoriesModel.Directory, path, new ExportOptions { Format = ExportFormat.Gguf, Architecture = arch }).Architecture);
        var file = GgufFile.Open(path);
        Assert.Contains(file.Tensors, t => t.Name == "output.weight");
        Assert.Contains(file.Tensors, t => t.Name == "blk.0.attn_q.bias");
        Assert.Equal(which.StartsWith("llama3", StringComparison.Ordinal), file.Tensors.Any(t => t.Name == "rope_freqs.weight"));

        var judged = LlamaCpp.Greedy(path, 20, ProbabilitySteps);
        var (ours, probabilities) = Ours(model, arch, judged.Tokens);
        // Random weights give flat distributions, so log-probabilities are compared; the same weights without
        // the RoPE scaling are the control that shows the comparison would notice a wrong RoPE.
        var gap = MaxLogGap(probabilities, judged.Probabilities);
        using var unscaled = TorchTest.RandomModel(config with { RopeScaling = null }, seed: 7);
        var control = MaxLogGap(Ours(unscaled, arch, judged.Tokens).Probabilities, judged.Probabilities);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{which} ({architecture}, F32, random weights): largest log-probability gap {gap:E2}; without RoPE scaling {control:E2}"));
        Assert.True(gap <= 1e-4, $"llama.cpp's next-token log-probabilities differ from llamanas's by up to {gap}");
        Assert.True(control >= 1e-2, $"dropping the RoPE scaling changes the log-probabilities by only {control}");
        Assert.Equal(ours.Take(20), judged.Tokens);
    }

    /// <summary>Text that exercises the tokenizers: spaces, digits, punctuation, newlines, accents and emoji (byte fallback).</summary>
    private const string TokenizerText = "Once upon a time, Lily (age 3) said: \"Héllo!\"\n\nShe  had 12345 red balls… 🎈 and ÜBER-fun.";

    [Fact]
    public void Llama_cpp_tokenizes_text_as_llamanas_does_from_the_sentencepiece_metadata()
    {
        using var temp = new TempDir();
        var path = temp.File("stories.gguf");
        ModelExporter.Export(stories.Model, StoriesModel.Directory, path, new ExportOptions { Format = ExportFormat.Gguf });
        var judged = LlamaCpp.Greedy(path, 1, 0, TokenizerText);
        Assert.Equal(stories.Tokenizer.Encode(TokenizerText, addSpecialTokens: false), judged.Encoded);
    }

    [Fact]
    public void Llama_cpp_tokenizes_text_as_llamanas_does_from_the_byte_level_bpe_metadata_and_runs_the_model()
    {
        var source = SharedData.Path("models", "smollm2-135m");
        var tokenizer = TokenizerLoader.Load(source);
        var config = TorchTest.TinyConfig(layers: 2, vocab: tokenizer.VocabSize, tied: true) with { BosTokenId = tokenizer.BosId, EosTokenIds = [tokenizer.EosId!.Value] };
        using var model = TorchTest.RandomModel(config, seed: 11);
        using var temp = new TempDir();
        var path = temp.File("smol.gguf");
        ModelExporter.Export(model, source, path, new ExportOptions { Format = ExportFormat.Gguf });
        var judged = LlamaCpp.Greedy(path, 2, 1, TokenizerText);
        Assert.Equal(tokenizer.Encode(TokenizerText, addSpecialTokens: false), judged.Encoded);
        Assert.Equal(tokenizer.BosId, judged.Bos);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ours = model.Forward(tensor(new long[] { judged.Bos }).unsqueeze(0)).squeeze(0).softmax(-1)[0].data<float>().ToArray();
        var gap = MaxLogGap([ours], judged.Probabilities);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SmolLM2 tokenizer, random weights: {judged.Encoded.Length} tokens equal; largest log-probability gap {gap:E2}"));
        Assert.True(gap <= 1e-4, $"llama.cpp's next-token log-probabilities differ from llamanas's by up to {gap}");
    }

    private SubnetworkArchitecture Architecture(string which) => which switch
    {
        "full" => stories.Model.FullArchitecture,
        "depth4" => new SubnetworkArchitecture(64, [172, 172, 172, 172], [8, 8, 8, 8], [4, 4, 4, 4]),
        "hidden48" => stories.Model.FullArchitecture with { HiddenSize = 48 }, // head size 8 ≠ hidden / heads
        _ => SafetensorsExportTests.NonUniform,
    };

    /// <summary>
    /// llamanas's greedy tokens for <paramref name="arch"/> from BOS, and its next-token probabilities at the first
    /// steps along <paramref name="path"/> (llama.cpp's tokens, so both score the same prefixes).
    /// </summary>
    private (int[] Tokens, float[][] Probabilities) Ours(LlamaForCausalLM source, SubnetworkArchitecture arch, int[] path)
    {
        using var model = source.ExtractSubnetwork(arch);
        var bos = stories.Tokenizer.BosId!.Value;
        var tokens = TextGenerator.Generate(model, [[bos]], new GenerationOptions { MaxNewTokens = NewTokens }, [stories.Tokenizer.EosId!.Value])[0];
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long[] ids = [bos, .. path.Take(ProbabilitySteps - 1).Select(t => (long)t)];
        var probabilities = model.Forward(tensor(ids).unsqueeze(0)).squeeze(0).softmax(-1);
        return (tokens, [.. Enumerable.Range(0, ids.Length).Select(i => probabilities[i].data<float>().ToArray())]);
    }

    private static double MaxLogGap(float[][] ours, float[][] theirs) =>
        ours.Zip(theirs).Max(step => step.First.Zip(step.Second).Max(p => Math.Abs(Math.Log(p.First) - Math.Log(p.Second))));

    private static double MaxGap(float[][] ours, float[][] theirs)
    {
        Assert.Equal(ours.Length, theirs.Length);
        return ours.Zip(theirs).Max(step =>
        {
            Assert.Equal(step.First.Length, step.Second.Length);
            return step.First.Zip(step.Second).Max(p => Math.Abs(p.First - p.Second));
        });
    }
}
