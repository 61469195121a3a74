using LlamaNas.Core.Search;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training;
using LlamaNas.Engine.Training.Data;
using LlamaNas.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Training;

/// <summary>Importance scores from calibration data, and the permutation that puts the most important parts first.</summary>
public class ImportancePermutationTests
{
    private static readonly string ModelDir = SharedData.Stories260K;

    public ImportancePermutationTests() => TorchTest.Init();

    /// <summary>Tiny GQA model (8 heads in 4 KV groups) with random norms and biases everywhere, so a mismatched permutation shows.</summary>
    private static LlamaForCausalLM BiasedModel() => TorchTest.RandomModel(
        TorchTest.TinyConfig(layers: 3, tied: false) with { NumAttentionHeads = 8, NumKeyValueHeads = 4, HeadDim = 4, AttentionBias = true, MlpBias = true },
        seed: 4);

    private static TokenBatch RandomBatch(int rows, int length, int vocab, int seed)
    {
        var tokens = Enumerable.Range(0, rows * length).Select(i => (long)((((i + seed) * 7919) + (seed * 31)) % vocab)).ToArray();
        return new TokenBatch(rows, length, tokens, [.. tokens.Select(_ => true)]);
    }

    private static Tensor Logits(LlamaForCausalLM model, TokenBatch batch)
    {
        using var noGrad = no_grad();
        using var ids = tensor(batch.Tokens, [batch.Rows, batch.Length]);
        return model.Forward(ids);
    }

    private static double MaxDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().max();
        return d.item<float>();
    }

    [Fact]
    public void Permuting_neurons_and_kv_groups_leaves_the_full_network_unchanged_and_sorts_the_scores()
    {
        using var model = BiasedModel();
        var calibration = new[] { RandomBatch(2, 12, 97, 1), RandomBatch(3, 9, 97, 2) };
        var probe = RandomBatch(2, 10, 97, 3);
        var narrow = new SubnetworkArchitecture(32, [24, 24, 24], [4, 4, 4], [2, 2, 2]);
        using var before = Logits(model, probe);
        model.ActivateSubnetwork(narrow);
        using var narrowBefore = Logits(model, probe);
        model.ActivateFull();

        var scores = ImportancePermutation.Score(model, calibration);
        Assert.Equal(2 * 12 + 3 * 9, scores.Tokens);
        var (neurons, groups) = ImportancePermutation.Apply(model, scores);
        Assert.Contains(neurons, o => !o.SequenceEqual(Enumerable.Range(0, 48).Select(i => (long)i)));
        Assert.Contains(groups, o => !o.SequenceEqual([0L, 1L, 2L, 3L]));

        using var after = Logits(model, probe);
        Assert.True(MaxDiff(before, after) <= 1e-5, $"full logits moved by {MaxDiff(before, after)}");
        model.ActivateSubnetwork(narrow);
        using var narrowAfter = Logits(model, probe);
        Assert.True(MaxDiff(narrowBefore, narrowAfter) > 1e-3); // the sub-network now keeps other neurons and heads
        model.ActivateFull();

        // Scoring the permuted model finds the same scores, now in descending order: each part moved with its weights.
        var again = ImportancePermutation.Score(model, calibration);
        for (var l = 0; l < 3; l++)
        {
            Assert.Equal(scores.Neurons[l].OrderDescending(), again.Neurons[l], new Tolerance(1e-4));
            Assert.Equal(scores.KeyValueGroups[l].OrderDescending(), again.KeyValueGroups[l], new Tolerance(1e-4));
            Assert.Equal(scores.Blocks[l], again.Blocks[l], 1e-5);
            Assert.InRange(scores.Blocks[l], 0, 2);
        }
    }

    [Fact]
    public void After_permutation_a_half_width_mlp_of_stories260K_loses_less_on_held_out_text()
    {
        var tokenizer = TokenizerLoader.Load(ModelDir);
        var train = Blocks(tokenizer, SharedData.Path("data", "tinystories", "train-v1-head.txt"), 40);
        var valid = Blocks(tokenizer, SharedData.Path("data", "tinystories", "valid-head-a.txt"), 1);
        var calibration = new BatchSampler(train, 8, seed: 1);
        var held = new BatchSampler(valid, 24, seed: 2).Next();
        var halfMlp = new SubnetworkArchitecture(64, [86, 86, 86, 86, 86], [8, 8, 8, 8, 8], [4, 4, 4, 4, 4]);
        var halfHeads = new SubnetworkArchitecture(64, [172, 172, 172, 172, 172], [4, 4, 4, 4, 4], [2, 2, 2, 2, 2]);

        using var model = LlamaForCausalLM.Load(ModelDir);
        var full = HeldOutLoss(model, model.FullArchitecture, held);
        var mlpBefore = HeldOutLoss(model, halfMlp, held);
        var headsBefore = HeldOutLoss(model, halfHeads, held);
        var scores = ImportancePermutation.Permute(model, Enumerable.Range(0, 4).Select(_ => calibration.Next()));
        var mlpAfter = HeldOutLoss(model, halfMlp, held);
        var headsAfter = HeldOutLoss(model, halfHeads, held);

        Assert.Equal(full, HeldOutLoss(model, model.FullArchitecture, held), 1e-5);
        Assert.True(mlpAfter < mlpBefore - 0.1, $"MLP 50%: {mlpBefore:F4} before, {mlpAfter:F4} after permutation (full {full:F4})");
        Assert.True(headsAfter < headsBefore - 0.05, $"KV groups 50%: {headsBefore:F4} before, {headsAfter:F4} after permutation (full {full:F4})");
        Assert.Equal(5, scores.Blocks.Count);
        Assert.All(scores.Blocks, b => Assert.InRange(b, 1e-3, 2));
    }

    [Fact]
    public void Scoring_leaves_no_live_tensors()
    {
        using var model = BiasedModel();
        var calibration = new[] { RandomBatch(2, 8, 97, 5) };
        TorchTest.AssertNoLeaks(() => ImportancePermutation.Score(model, calibration));
        TorchTest.AssertNoLeaks(() => ImportancePermutation.Apply(model, ImportancePermutation.Score(model, calibration)));
    }

    private static TokenBlocks Blocks(ITextTokenizer tokenizer, string path, int documents)
    {
        var docs = TextCorpus.Load(path).Take(documents).Select(d => d.Length > 20_000 ? d[..20_000] : d);
        return TokenBlocks.Pack(docs.Select(d => TextCorpus.Tokenize(d, tokenizer)), 128);
    }

    private static double HeldOutLoss(LlamaForCausalLM model, SubnetworkArchitecture arch, TokenBatch batch)
    {
        model.ActivateSubnetwork(arch);
        using var noGrad = no_grad();
        using var loss = Trainer.Loss(model, batch);
        model.ActivateFull();
        return loss.item<float>();
    }

    private sealed class Tolerance(double relative) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= relative * Math.Max(1e-12, Math.Max(Math.Abs(x), Math.Abs(y)));

        public int GetHashCode(double obj) => 0;
    }
}
