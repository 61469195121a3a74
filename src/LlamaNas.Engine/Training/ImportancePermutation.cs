using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Training.Data;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Training;

/// <summary>
/// Importance of the super-network's parts, measured on calibration batches with the full network. Higher is more
/// important. <see cref="Neurons"/>[l][j]: mean |silu(gate)·up| of neuron j times the norm of its down_proj column
/// (the size of what it adds to the residual stream). <see cref="KeyValueGroups"/>[l][g]: mean norm of KV group g's
/// contribution to the attention output (its query heads through their o_proj columns). <see cref="Blocks"/>[l]:
/// mean cosine distance between block l's input and output (how much the block changes the residual stream).
/// </summary>
public sealed record ImportanceScores(IReadOnlyList<double[]> Neurons, IReadOnlyList<double[]> KeyValueGroups, IReadOnlyList<double> Blocks, long Tokens);

/// <summary>
/// Importance-based permutation (the second paper's variant): sub-networks keep the first k neurons and KV groups, so
/// sorting them by importance makes "the first k" the most important k. Both reorderings are exact symmetries of
/// the full network: an MLP is a sum over its neurons, and attention a sum over its heads, so reordering gate/up
/// rows with down columns, or whole KV groups (q rows of their heads, k/v rows, o_proj columns) together, changes
/// no output of the full network. Blocks are only scored, never reordered: a block reads the residual stream that
/// the blocks before it wrote, so moving one changes what every later block sees and hence the function.
/// </summary>
public static class ImportancePermutation
{
    /// <summary>Scores the parts of <paramref name="model"/> on <paramref name="batches"/> (run through the full network, no gradients).</summary>
    public static ImportanceScores Score(LlamaForCausalLM model, IEnumerable<TokenBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        var previous = model.ActiveArchitecture;
        model.ActivateFull();
        try
        {
            var observer = new ScoreObserver(model);
            var device = model.Model.EmbedTokens.Weight.device;
            foreach (var batch in batches)
            {
                using var scope = NewDisposeScope();
                model.Observe(tensor(batch.Tokens, [batch.Rows, batch.Length], device: device), observer);
            }

            return observer.Result();
        }
        finally
        {
            model.ActivateSubnetwork(previous);
        }
    }

    /// <summary>
    /// Permutes every layer's MLP neurons and KV groups into descending importance (ties keep their order).
    /// Returns the orders applied: new position i holds old neuron (group) order[l][i].
    /// </summary>
    public static (IReadOnlyList<long[]> Neurons, IReadOnlyList<long[]> KeyValueGroups) Apply(LlamaForCausalLM model, ImportanceScores scores)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scores);
        var layers = model.Model.Layers;
        if (scores.Neurons.Count != layers.Count || scores.KeyValueGroups.Count != layers.Count)
        {
            throw new ArgumentException($"scores for {scores.Neurons.Count} layers do not fit a model of {layers.Count}", nameof(scores));
        }

        var neurons = new List<long[]>();
        var groups = new List<long[]>();
        for (var l = 0; l < layers.Count; l++)
        {
            neurons.Add(Descending(scores.Neurons[l]));
            groups.Add(Descending(scores.KeyValueGroups[l]));
            layers[l].Mlp.PermuteNeurons(neurons[l]);
            layers[l].SelfAttention.PermuteGroups(groups[l]);
        }

        return (neurons, groups);
    }

    /// <summary>Scores, then applies the permutation; returns the scores (indexed by the parts' original positions).</summary>
    public static ImportanceScores Permute(LlamaForCausalLM model, IEnumerable<TokenBatch> batches)
    {
        var scores = Score(model, batches);
        Apply(model, scores);
        return scores;
    }

    private static long[] Descending(double[] scores) => [.. Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).Select(i => (long)i)];

    /// <summary>Accumulates per-token sums on the host in double; <see cref="Result"/> turns them into means.</summary>
    private sealed class ScoreObserver : IActivationObserver
    {
        private readonly double[][] _neuronSums, _groupSums, _downNorms;
        private readonly double[] _blockSums;
        private long _tokens;

        public ScoreObserver(LlamaForCausalLM model)
        {
            var layers = model.Model.Layers;
            _neuronSums = [.. layers.Select(l => new double[l.Mlp.IntermediateSize])];
            _groupSums = [.. layers.Select(l => new double[l.SelfAttention.KeyValueHeads])];
            _blockSums = new double[layers.Count];
            using var scope = NewDisposeScope();
            _downNorms = [.. layers.Select(l => Host(Square(l.Mlp.DownWeight.to(float64)).sum(0L).sqrt()))];
        }

        public void OnAttention(int layer, Tensor headOutputs, LlamaAttention attention)
        {
            using var scope = NewDisposeScope();
            long groups = attention.KeyValueHeads, width = attention.Heads / attention.KeyValueHeads * attention.HeadDim;
            var heads = headOutputs.to(float32).reshape(-1, groups, width);                       // [N, G, group width]
            var weight = attention.OutputWeight.to(float32).reshape(-1, groups, width);            // [hidden, G, group width]
            var contributions = einsum("ngk,dgk->ngd", heads, weight);                            // what each group adds
            Add(_groupSums[layer], Square(contributions).sum(-1).sqrt().sum(0L));
        }

        public void OnMlp(int layer, Tensor activations, LlamaMlp mlp)
        {
            using var scope = NewDisposeScope();
            Add(_neuronSums[layer], activations.to(float32).abs().reshape(-1, activations.shape[^1]).sum(0L));
        }

        public void OnBlock(int layer, Tensor input, Tensor output)
        {
            using var scope = NewDisposeScope();
            var similarity = nn.functional.cosine_similarity(input.to(float32), output.to(float32), dim: -1);
            _blockSums[layer] += (1 - similarity).to(float64).sum().item<double>();
            if (layer == 0)
            {
                _tokens += similarity.numel();
            }
        }

        public ImportanceScores Result()
        {
            var n = Math.Max(1, _tokens);
            return new ImportanceScores(
                [.. _neuronSums.Select((sums, l) => sums.Select((s, j) => s / n * _downNorms[l][j]).ToArray())],
                [.. _groupSums.Select(sums => sums.Select(s => s / n).ToArray())],
                [.. _blockSums.Select(s => s / n)],
                _tokens);
        }

        private static void Add(double[] sums, Tensor values)
        {
            var host = Host(values);
            for (var i = 0; i < sums.Length; i++)
            {
                sums[i] += host[i];
            }
        }

        /// <summary>t² by pow with a held 2: TorchSharp's square() makes a Scalar per call and leaves it to the GC's finalizer (see RmsNorm).</summary>
        private static Tensor Square(Tensor t) => t.pow(Modeling.Scalars.Two);

        private static double[] Host(Tensor t)
        {
            using var cpu = t.to(float64).cpu();
            return cpu.data<double>().ToArray();
        }
    }
}
