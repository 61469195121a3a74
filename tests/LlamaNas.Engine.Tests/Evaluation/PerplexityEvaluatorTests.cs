using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Search;
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

    /// <summary>The first <paramref name="chars"/> characters of the TinyStories validation text, cut at a paragraph end.</summary>
    private static string ValidationHead(int chars)
    {
        var text = File.ReadAllText(SharedData.Path("data", "tinystories", "valid-head-a.txt"));
        return text[..text.LastIndexOf("\n\n", chars, StringComparison.Ordinal)];
    }

    /// <summary>
    /// lm-eval's rolling log-likelihood written out in stream coordinates (stream = prefix token + document): full
    /// windows read stream[w·max, (w+1)·max) and score tokens w·max … (w+1)·max − 1; a partial last window reads the
    /// max stream entries that end just before its final token. One single-row forward per window, full logits.
    /// </summary>
    private static double ReferenceRolling(LlamaForCausalLM model, int prefix, IReadOnlyList<int> ids, int max)
    {
        long[] stream = [prefix, .. ids.Select(i => (long)i)];
        var n = ids.Count;
        var full = n / max;
        var spans = Enumerable.Range(0, full).Select(w => (InputStart: w * max, First: w * max, Count: max)).ToList();
        if (n % max != 0)
        {
            spans.Add(n < max ? (0, 0, n) : (n - max, full * max, n % max));
        }

        double ll = 0;
        using var noGrad = no_grad();
        foreach (var (inputStart, first, count) in spans)
        {
            using var scope = NewDisposeScope();
            var length = Math.Min(max, n);
            var logprobs = model.Forward(tensor(stream[inputStart..(inputStart + length)], [1, length]))[0].log_softmax(-1).to(float64);
            for (var j = first; j < first + count; j++)
            {
                // Token j sits at stream index j + 1 and is predicted from the position before it.
                ll += logprobs[j - inputStart][ids[j]].item<double>();
            }
        }

        return ll;
    }

    [Theory]
    [InlineData(512)] // one full window and a partial one that reads the 512 tokens before its last target
    [InlineData(100)] // seven full windows and a partial one
    [InlineData(2000)] // the whole text in one window
    public void Rolling_perplexity_of_a_real_text_equals_a_window_by_window_forward(int max)
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var text = ValidationHead(1500);
        var ids = tokenizer.Encode(text, addSpecialTokens: false);
        Assert.InRange(ids.Count, 513, 1023); // longer than one window, not a multiple of it
        Assert.NotEqual(0, ids.Count % 100);

        var r = new PerplexityEvaluator(model, tokenizer, max).Evaluate("valid", [text]);
        var expected = Math.Exp(-ReferenceRolling(model, tokenizer.BosId!.Value, ids, max) / ids.Count);
        Assert.Equal(ids.Count, r.Tokens);
        Assert.InRange(Math.Abs((r.TokenPerplexity / expected) - 1), 0, 1e-5);
        Assert.Null(r.TokenPerplexityStdErr);
    }

    [Fact]
    public void The_last_partial_window_reads_the_full_max_length_of_context()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var text = ValidationHead(1500);
        var ids = tokenizer.Encode(text, addSpecialTokens: false);

        // Conditioning the tail on one token only (the bug this replaced) scores it worse than the full context does.
        var r = new PerplexityEvaluator(model, tokenizer, 512).Evaluate("valid", [text]);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long[] tail = [.. ids.Skip(511).Select(i => (long)i)];
        var logprobs = model.Forward(tensor(tail, [1, tail.Length]))[0].log_softmax(-1);
        var oneTokenTail = Enumerable.Range(0, tail.Length - 1).Sum(j => (double)logprobs[j][tail[j + 1]].item<float>());
        var head = ReferenceRolling(model, tokenizer.BosId!.Value, ids.Take(512).ToList(), 512);
        Assert.True(r.LogLikelihood > head + oneTokenTail + 1, $"{r.LogLikelihood} vs {head + oneTokenTail}");
    }

    /// <summary>
    /// llama.cpp's perplexity written out: chunks of ctx tokens of the BOS-prefixed text, first token set to BOS, one
    /// forward per chunk over all ctx tokens, predictions at ctx/2 … ctx − 2 scored; its PPL and "+/-" formula.
    /// </summary>
    private static (double Ppl, double StdErr) ReferenceLlamaCpp(LlamaForCausalLM model, int bos, IReadOnlyList<int> tokens, int ctx)
    {
        double nll = 0, nll2 = 0;
        var count = 0;
        using var noGrad = no_grad();
        for (var c = 0; c < tokens.Count / ctx; c++)
        {
            using var scope = NewDisposeScope();
            var chunk = tokens.Skip(c * ctx).Take(ctx).Select(t => (long)t).ToArray();
            chunk[0] = bos;
            var logprobs = model.Forward(tensor(chunk, [1, ctx]))[0].log_softmax(-1).to(float64);
            for (var p = ctx / 2; p < ctx - 1; p++)
            {
                var v = -logprobs[p][chunk[p + 1]].item<double>();
                nll += v;
                nll2 += v * v;
                count++;
            }
        }

        var mean = nll / count;
        var ppl = Math.Exp(mean);
        return (ppl, ppl * Math.Sqrt(((nll2 / count) - (mean * mean)) / (count - 1)));
    }

    [Theory]
    [InlineData(128)]
    [InlineData(97)] // odd: ctx/2 rounds down, 48 predictions a chunk
    public void Llama_cpp_perplexity_of_a_real_text_equals_a_chunk_by_chunk_forward(int ctx)
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var text = ValidationHead(3000);
        var tokens = tokenizer.Encode(text, addSpecialTokens: true);
        Assert.Equal(tokenizer.BosId, tokens[0]);
        Assert.NotEqual(0, tokens.Count % ctx); // a remainder that must be dropped

        var r = new PerplexityEvaluator(model, tokenizer).EvaluateLlamaCpp("valid", text + "\n", ctx);
        var (ppl, stderr) = ReferenceLlamaCpp(model, tokenizer.BosId!.Value, tokens, ctx);
        Assert.Equal(tokens.Count / ctx, r.Documents);
        Assert.Equal((tokens.Count / ctx) * (ctx - 1 - (ctx / 2)), r.Tokens);
        Assert.InRange(Math.Abs((r.TokenPerplexity / ppl) - 1), 0, 1e-5);
        Assert.InRange(Math.Abs((r.TokenPerplexityStdErr!.Value / stderr) - 1), 0, 1e-4);
        Assert.Equal(PerplexityProtocol.LlamaCpp, r.Protocol);
        Assert.Equal(ctx, r.Context);
    }

    [Fact]
    public void Llama_cpp_perplexity_refuses_a_text_shorter_than_two_chunks()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var e = Assert.Throws<LlamaNasException>(() => new PerplexityEvaluator(model, tokenizer).EvaluateLlamaCpp("short.txt", ValidationHead(1500)));
        Assert.Equal(DiagnosticCodes.EvalPerplexityTextTooShort, e.Code);
        Assert.Contains("1024", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Both_protocols_leave_no_tensor_alive()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var evaluator = new PerplexityEvaluator(model, tokenizer, 100);
        var text = ValidationHead(1500);
        TorchTest.AssertNoLeaks(() =>
        {
            evaluator.Evaluate("valid", [text]);
            evaluator.EvaluateLlamaCpp("valid", text, 64);
        });
    }

    /// <summary>Sub-networks that share some leading blocks and not others: other depths, widths, heads, a hidden width, a duplicate.</summary>
    private static SubnetworkArchitecture[] Candidates(LlamaForCausalLM model)
    {
        var full = model.FullArchitecture;
        SubnetworkArchitecture Arch(int hidden, int[] mlp, int[]? heads = null) =>
            new(hidden, mlp, heads ?? [.. mlp.Select(_ => 8)], [.. (heads ?? [.. mlp.Select(_ => 8)]).Select(h => h / 2)]);
        return
        [
            full,
            Arch(64, [172, 172, 86]),
            Arch(64, [172, 172, 86, 43]),
            Arch(64, [172, 172, 86]),
            Arch(64, [43, 172, 86, 172, 172]),
            Arch(64, [172, 172, 86, 43], [8, 8, 8, 4]),
            Arch(48, [172, 172, 86]),
        ];
    }

    [Fact]
    public void Candidates_scored_together_with_shared_prefixes_equal_each_scored_alone()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var evaluator = new PerplexityEvaluator(model, tokenizer, 100);
        var text = evaluator.Tokenize("valid", [ValidationHead(1500)]);
        var tokens = evaluator.TokenizeLlamaCpp(ValidationHead(3000));
        var candidates = Candidates(model);

        var together = evaluator.EvaluateMany(text, candidates);
        var llamaTogether = evaluator.EvaluateLlamaCppMany("valid", tokens, 128, candidates);
        Assert.Equal(model.FullArchitecture, model.ActiveArchitecture);
        for (var c = 0; c < candidates.Length; c++)
        {
            model.ActivateSubnetwork(candidates[c]);
            var alone = evaluator.Evaluate(text);
            var llamaAlone = evaluator.EvaluateLlamaCpp("valid", tokens, 128);
            model.ActivateFull();
            Assert.Equal(alone with { Seconds = 0 }, together[c] with { Seconds = 0 });
            Assert.Equal(llamaAlone with { Seconds = 0 }, llamaTogether[c] with { Seconds = 0 });
        }

        Assert.Equal(together[1].LogLikelihood, together[3].LogLikelihood);
        Assert.NotEqual(together[1].LogLikelihood, together[2].LogLikelihood);
        Assert.NotEqual(together[2].LogLikelihood, together[5].LogLikelihood);
    }

    [Fact]
    public void Shared_prefix_scoring_leaves_no_tensor_alive_and_restores_the_active_sub_network()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var evaluator = new PerplexityEvaluator(model, tokenizer, 100);
        var text = evaluator.Tokenize("valid", [ValidationHead(1500)]);
        var candidates = Candidates(model);
        model.ActivateSubnetwork(candidates[4]);
        TorchTest.AssertNoLeaks(() => evaluator.EvaluateMany(text, candidates));
        Assert.Equal(candidates[4], model.ActiveArchitecture);
    }

    [Fact]
    public void Shared_prefix_scoring_holds_states_by_depth_not_by_batch_size()
    {
        using var model = LlamaForCausalLM.Load(Dir);
        var tokenizer = TokenizerLoader.Load(Dir);
        var evaluator = new PerplexityEvaluator(model, tokenizer, 100);
        var text = evaluator.Tokenize("valid", [ValidationHead(600)]);
        var random = new Random(4);
        int[] widths = [43, 86, 129, 172];
        SubnetworkArchitecture Deep(int depth) =>
            new(64, [.. Enumerable.Range(0, depth).Select(_ => widths[random.Next(widths.Length)])], [.. Enumerable.Repeat(8, depth)], [.. Enumerable.Repeat(4, depth)]);
        SubnetworkArchitecture[] few = [Deep(5), Deep(3)];
        SubnetworkArchitecture[] many = [.. few, .. Enumerable.Range(0, 60).Select(i => Deep(3 + (i % 3)))];

        evaluator.EvaluateMany(text, [Deep(1), Deep(1)]);
        var shallow = evaluator.HeldTensorsPeak;
        evaluator.EvaluateMany(text, few);
        var held = evaluator.HeldTensorsPeak;
        evaluator.EvaluateMany(text, many);
        // The walk of 62 sub-networks holds no more than that of 2 with the same depth, and each block of depth adds
        // at most two states (its output and its attention half) to what every block reads (ids, embeddings, RoPE).
        Assert.Equal(held, evaluator.HeldTensorsPeak);
        Assert.True(held - shallow <= 2 * 4, $"{held} tensors held at depth 5, {shallow} at depth 1");
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
