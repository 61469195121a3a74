using LlamaNas.Core.Evaluation;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Evaluation;

public class LoglikelihoodScorerTests : IClassFixture<StoriesModel>
{
    private readonly StoriesModel _s;

    public LoglikelihoodScorerTests(StoriesModel stories) => _s = stories;

    private static readonly LoglikelihoodRequest[] Requests =
    [
        new("Once upon a time, there was a little", " girl"),
        new("Once upon a time, there was a little", " dog"),
        new("Once upon a time, there was a little", " girl named Lily."),
        new("Tom went to the park. He saw", " a big tree and a red ball"),
        new("Tom went to the park. He saw ", "a bird"),
        new("", "Once upon a time"),
        new("The cat sat on the mat and looked at the sky. It was blue and", " the sun was shining"),
        new("Lily", " and her mom went to the store to buy some milk and bread"),
    ];

    [Fact]
    public void Per_request_scores_do_not_depend_on_batch_size_or_order()
    {
        var reference = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, new ScorerOptions { MaxBatchSize = 1 }).Score(Requests);
        var order = Enumerable.Range(0, Requests.Length).OrderBy(i => (i * 7919) % 13).ToArray();
        foreach (var options in new[] { new ScorerOptions(), new ScorerOptions { MaxBatchTokens = 40 }, new ScorerOptions { MaxBatchSize = 3 } })
        {
            var shuffled = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, options).Score([.. order.Select(i => Requests[i])]);
            for (var k = 0; k < order.Length; k++)
            {
                Assert.InRange(Math.Abs(shuffled[k].LogLikelihood - reference[order[k]].LogLikelihood), 0, 1e-4);
                Assert.Equal(reference[order[k]].IsGreedy, shuffled[k].IsGreedy);
            }
        }
    }

    [Fact]
    public void Scores_equal_a_direct_log_softmax_over_the_whole_sequence()
    {
        var scorer = new LoglikelihoodScorer(_s.Model, _s.Tokenizer);
        var results = scorer.Score(Requests);
        using var noGrad = no_grad();
        for (var i = 0; i < Requests.Length; i++)
        {
            using var scope = NewDisposeScope();
            var (ctx, cont) = scorer.Encode(Requests[i]);
            int[] full = [.. ctx, .. cont];
            var logits = _s.Model.Forward(tensor(full.Select(t => (long)t).ToArray(), [1, full.Length]))[0].log_softmax(-1);
            double expected = 0;
            var greedy = true;
            for (var j = 0; j < cont.Length; j++)
            {
                var row = logits[ctx.Length + j - 1];
                expected += row[cont[j]].item<float>();
                greedy &= row.argmax().item<long>() == cont[j];
            }

            Assert.InRange(Math.Abs(results[i].LogLikelihood - expected), 0, 1e-4);
            Assert.Equal(greedy, results[i].IsGreedy);
            Assert.Equal(cont.Length, results[i].ContinuationTokens);
        }
    }

    [Fact]
    public void Trailing_context_whitespace_moves_into_the_continuation_as_lm_eval_does()
    {
        var scorer = new LoglikelihoodScorer(_s.Model, _s.Tokenizer);
        var (ctx, cont) = scorer.Encode(new("He saw", " a bird"));
        var (ctx2, cont2) = scorer.Encode(new("He saw ", "a bird"));
        Assert.Equal(ctx, ctx2);
        Assert.Equal(cont, cont2);
        Assert.Equal(_s.Tokenizer.Encode("He saw", addSpecialTokens: false), ctx);
        Assert.Equal(_s.Tokenizer.Encode("He saw a bird", addSpecialTokens: false).Skip(ctx.Length), cont);
    }

    [Fact]
    public void Empty_context_is_conditioned_on_the_prefix_token_and_bos_is_optional()
    {
        var plain = new LoglikelihoodScorer(_s.Model, _s.Tokenizer);
        Assert.Equal([_s.Tokenizer.BosId!.Value], plain.Encode(new(string.Empty, "Once")).Context);
        Assert.DoesNotContain(_s.Tokenizer.BosId!.Value, plain.Encode(new("Once", " upon")).Context);
        var withBos = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, new ScorerOptions { AddBos = true });
        Assert.Equal(_s.Tokenizer.BosId, withBos.Encode(new("Once", " upon")).Context[0]);
    }

    [Fact]
    public void Long_inputs_keep_the_last_max_length_tokens()
    {
        var longContext = string.Join(' ', Enumerable.Repeat("Tom and Lily played with the big red ball in the park.", 12));
        var truncated = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, new ScorerOptions { MaxLength = 32 }).Score([new(longContext, " They were happy.")])[0];
        var full = new LoglikelihoodScorer(_s.Model, _s.Tokenizer).Score([new(longContext, " They were happy.")])[0];
        Assert.True(double.IsFinite(truncated.LogLikelihood));
        Assert.NotEqual(full.LogLikelihood, truncated.LogLikelihood);
    }

    [Fact]
    public void Prepared_requests_score_like_fresh_ones_on_every_sub_network_and_belong_to_their_scorer()
    {
        var scorer = new LoglikelihoodScorer(_s.Model, _s.Tokenizer);
        var prepared = scorer.Prepare(Requests);
        Assert.Equal(Requests.Length, prepared.Count);
        Assert.InRange(prepared.Inputs, 1, Requests.Length);
        var small = _s.Model.FullArchitecture with { IntermediateSizes = [86, 172, 43], AttentionHeads = [8, 4, 8], KeyValueHeads = [4, 2, 4] };
        foreach (var arch in new[] { _s.Model.FullArchitecture, small })
        {
            _s.Model.ActivateSubnetwork(arch);
            try
            {
                Assert.Equal(scorer.Score(Requests), scorer.Score(prepared));
            }
            finally
            {
                _s.Model.ActivateFull();
            }
        }

        Assert.Throws<ArgumentException>(() => new LoglikelihoodScorer(_s.Model, _s.Tokenizer).Score(prepared));
    }

    [Fact]
    public void Scoring_leaves_no_live_tensors()
    {
        var scorer = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, new ScorerOptions { MaxBatchTokens = 64 });
        TorchTest.AssertNoLeaks(() => scorer.Score(Requests));
        var sharing = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, new ScorerOptions { PrefixSharingMinTokens = 1, MaxBatchTokens = 16 });
        TorchTest.AssertNoLeaks(() => sharing.Score(Requests));
    }

    /// <summary>A long shared preamble (as TruthfulQA's) with several answers of different lengths.</summary>
    private static readonly LoglikelihoodRequest[] Choices =
    [
        .. new[] { " Lily.", " a big red ball that she loved very much.", " her mom.", " the dog, the cat and the bird.", " Tom" }
            .Select(answer => new LoglikelihoodRequest(string.Concat(Enumerable.Repeat("Once upon a time, there was a little girl who liked to play in the park with her friends. ", 6)) + "Q: Who did she play with? A:", answer)),
        .. Requests,
    ];

    [Fact]
    public void Choices_of_one_long_context_run_it_once_and_score_as_if_run_separately()
    {
        var separate = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, new ScorerOptions { PrefixSharingMinTokens = 0 });
        var shared = new LoglikelihoodScorer(_s.Model, _s.Tokenizer);
        var always = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, new ScorerOptions { PrefixSharingMinTokens = 1 });
        var onePerPass = new LoglikelihoodScorer(_s.Model, _s.Tokenizer, new ScorerOptions { PrefixSharingMinTokens = 1, MaxBatchTokens = 1 });
        var prepared = new[] { shared.Prepare(Choices), always.Prepare(Choices), onePerPass.Prepare(Choices) };
        Assert.Equal(0, separate.Prepare(Choices).SharedContexts);
        Assert.Equal(1, prepared[0].SharedContexts);
        Assert.Equal(3, prepared[1].SharedContexts); // the preamble, "…there was a little", "Tom went to the park. He saw"

        var small = _s.Model.FullArchitecture with { HiddenSize = 48, IntermediateSizes = [86, 172, 43], AttentionHeads = [8, 4, 8], KeyValueHeads = [4, 2, 4] };
        foreach (var arch in new[] { _s.Model.FullArchitecture, small })
        {
            _s.Model.ActivateSubnetwork(arch);
            try
            {
                var expected = separate.Score(Choices);
                foreach (var actual in new[] { shared.Score(prepared[0]), always.Score(prepared[1]), onePerPass.Score(prepared[2]) })
                {
                    for (var i = 0; i < Choices.Length; i++)
                    {
                        Assert.InRange(Math.Abs(actual[i].LogLikelihood - expected[i].LogLikelihood), 0, 1e-4);
                        Assert.Equal(expected[i].IsGreedy, actual[i].IsGreedy);
                        Assert.Equal(expected[i].ContinuationTokens, actual[i].ContinuationTokens);
                    }
                }
            }
            finally
            {
                _s.Model.ActivateFull();
            }
        }
    }

    [Fact]
    public void The_story_model_prefers_the_story_continuation()
    {
        var r = new LoglikelihoodScorer(_s.Model, _s.Tokenizer).Score(Requests);
        Assert.True(r[0].LogLikelihood > r[1].LogLikelihood, "' girl' should beat ' dog' after 'there was a little'");
        Assert.True(r[2].IsGreedy, "' girl named Lily.' is the model's own greedy continuation");
    }
}
