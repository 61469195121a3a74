using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Evaluation;

public class PerplexityEvaluatorTests
{
    private static readonly string Dir = SharedData.Stories260K;

    public PerplexityEvaluatorTests() => TorchTest.Init();

    [Fact]
    public void A_short_document_scores_every_token_once_after_the_prefix_token()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        const string Doc = "Once upon a time, there was a little girl named Lily. She loved to play outside.";
        var r = new PerplexityEvaluator(model, tokenizer).Evaluate("doc", [Doc]);

        var ids = tokenizer.Encode(Doc, addSpecialTokens: false);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long[] input = [tokenizer.BosId!.Value, .. ids.Select(i => (long)i)];
        var logprobs = model.Forward(tensor(input, [1, input.Length]))[0].log_softmax(-1);
        var expected = ids.Select((t, j) => (double)logprobs[j][t].item<float>()).Sum();

        Assert.Equal(ids.Count, r.Tokens);
        Assert.InRange(Math.Abs(r.LogLikelihood - expected), 0, 1e-3);
        Assert.Equal(16, r.Words);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(Doc), r.Bytes);
        Assert.InRange(r.TokenPerplexity, 1, 20); // a fluent in-domain sentence for the story model
        Assert.Equal(r.BitsPerByte, Math.Log2(r.BytePerplexity), 9);
    }

    [Fact]
    public void Rolling_windows_score_each_token_exactly_once()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var docs = PerplexityEvaluator.ReadDocuments(SharedData.Path("data", "tinystories", "train-v1-head.txt")).Take(3).ToList();
        Assert.Equal(3, docs.Count);
        var windowed = new PerplexityEvaluator(model, tokenizer, maxLength: 16).Evaluate("w", docs);
        var whole = new PerplexityEvaluator(model, tokenizer).Evaluate("w", docs);
        Assert.Equal(whole.Tokens, windowed.Tokens);
        Assert.True(windowed.TokenPerplexity > whole.TokenPerplexity, "shorter windows see less context");
    }

    [Fact]
    public void Tokenized_text_scores_as_the_documents_do_and_a_token_limit_cuts_exactly()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var docs = PerplexityEvaluator.ReadDocuments(SharedData.Path("data", "tinystories", "train-v1-head.txt")).Take(3).ToList();
        var evaluator = new PerplexityEvaluator(model, tokenizer, maxLength: 64);
        var whole = evaluator.Tokenize("w", docs);
        Assert.Equal(evaluator.Evaluate("w", docs) with { Seconds = 0 }, evaluator.Evaluate(whole) with { Seconds = 0 });

        var first = tokenizer.Encode(docs[0], addSpecialTokens: false).Count;
        var cut = evaluator.Tokenize("w", docs, maxTokens: first + 10);
        Assert.Equal(first + 10, cut.Tokens);
        Assert.Equal([first, 10], cut.Documents.Select(d => d.Length));
        Assert.Equal(whole.Documents[1][..10], cut.Documents[1]);
        Assert.Equal(evaluator.Tokenize("w", docs, maxTokens: 5).Documents.Single(), whole.Documents[0][..5]);
    }

    [Fact]
    public void Windows_scored_together_equal_windows_scored_one_by_one()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var docs = PerplexityEvaluator.ReadDocuments(SharedData.Path("data", "tinystories", "train-v1-head.txt")).Take(2).ToList();
        var batched = new PerplexityEvaluator(model, tokenizer, maxLength: 16).Evaluate("w", docs);

        double expected = 0;
        using var noGrad = no_grad();
        foreach (var doc in docs)
        {
            var ids = tokenizer.Encode(doc, addSpecialTokens: false);
            for (var start = 0; start < ids.Count; start += 16)
            {
                using var scope = NewDisposeScope();
                var count = Math.Min(16, ids.Count - start);
                long[] input = start == 0 ? [tokenizer.BosId!.Value, .. ids.Take(count - 1).Select(i => (long)i)] : [.. ids.Skip(start - 1).Take(count).Select(i => (long)i)];
                var logprobs = model.Forward(tensor(input, [1, input.Length]))[0].log_softmax(-1);
                expected += ids.Skip(start).Take(count).Select((t, j) => (double)logprobs[j][t].item<float>()).Sum();
            }
        }

        Assert.InRange(Math.Abs(batched.LogLikelihood - expected), 0, 1e-3);
    }

    [Fact]
    public void Documents_split_on_separator_lines()
    {
        var path = Path.Combine(Path.GetTempPath(), $"llamanas-docs-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "One.\nTwo lines.\n<|endoftext|>\nSecond story.\n<|endoftext|>\n\n");
        try
        {
            Assert.Equal(["One.\nTwo lines.", "Second story."], PerplexityEvaluator.ReadDocuments(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
