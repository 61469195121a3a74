using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Evaluation;

/// <summary>Perplexity normalised per token, per word and per byte (lm-eval's wikitext-style metrics).</summary>
public sealed record PerplexityResult(string Source, int Documents, long Tokens, long Words, long Bytes, double LogLikelihood, double Seconds)
{
    public double TokenPerplexity => Math.Exp(-LogLikelihood / Tokens);

    public double WordPerplexity => Math.Exp(-LogLikelihood / Words);

    public double BytePerplexity => Math.Exp(-LogLikelihood / Bytes);

    public double BitsPerByte => -LogLikelihood / Bytes / Math.Log(2);

    public PerplexityProtocol Protocol { get; init; } = PerplexityProtocol.LmEval;

    /// <summary>The llama.cpp protocol's chunk length (0 for lm-eval, whose windows are the max length).</summary>
    public int Context { get; init; }

    /// <summary>Σ (log p)² over the scored tokens, for llama.cpp's uncertainty.</summary>
    public double SumSquaredLogLikelihood { get; init; }

    /// <summary>
    /// llama.cpp's "PPL = x +/- e": e = PPL · √((mean(nll²) − mean(nll)²) / (n − 1)), the standard error of the mean
    /// token NLL carried through exp; null for lm-eval (which reports none) or when the variance is not positive.
    /// </summary>
    public double? TokenPerplexityStdErr
    {
        get
        {
            if (Protocol != PerplexityProtocol.LlamaCpp || Tokens < 2)
            {
                return null;
            }

            var mean = -LogLikelihood / Tokens;
            var variance = (SumSquaredLogLikelihood / Tokens) - (mean * mean);
            return variance > 0 ? TokenPerplexity * Math.Sqrt(variance / (Tokens - 1)) : null;
        }
    }
}

/// <summary>Documents as token ids, with the word and byte counts perplexity is normalised by.</summary>
public sealed record TokenizedText(string Source, IReadOnlyList<int[]> Documents, long Words, long Bytes)
{
    public long Tokens => Documents.Sum(d => (long)d.Length);
}

/// <summary>
/// Perplexity by lm-eval's rolling log-likelihood of whole documents (<c>loglikelihood_rolling</c>: disjoint windows of
/// max_length, the first conditioned on the prefix token, BOS else EOS, the last, partial one on as many preceding
/// tokens as fit, each token scored once) or by llama.cpp's <c>llama-perplexity</c> chunks.
/// </summary>
public sealed partial class PerplexityEvaluator(LlamaForCausalLM model, ITextTokenizer tokenizer, int maxLength = 0)
{
    private int MaxLength => maxLength > 0 ? maxLength : model.Config.MaxPositionEmbeddings;

    public PerplexityResult Evaluate(string source, IReadOnlyList<string> documents) => Evaluate(Tokenize(source, documents));

    /// <summary>
    /// Token ids and word and byte counts of <paramref name="documents"/>, computed once so that many networks (the
    /// sub-networks of a search) can be scored on them. With <paramref name="maxTokens"/> &gt; 0 only the first
    /// that many tokens are kept (whole documents, then the start of the next); the words and bytes of a cut
    /// document are those of the text its kept tokens decode to.
    /// </summary>
    public TokenizedText Tokenize(string source, IReadOnlyList<string> documents, long maxTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var kept = new List<int[]>();
        long tokens = 0, words = 0, bytes = 0;
        foreach (var doc in documents)
        {
            if (maxTokens > 0 && tokens >= maxTokens)
            {
                break;
            }

            int[] ids = [.. tokenizer.Encode(doc, addSpecialTokens: false)];
            var text = doc;
            if (maxTokens > 0 && tokens + ids.Length > maxTokens)
            {
                ids = ids[..(int)(maxTokens - tokens)];
                text = tokenizer.Decode(ids);
            }

            kept.Add(ids);
            tokens += ids.Length;
            words += Words().Split(text).Length;
            bytes += Encoding.UTF8.GetByteCount(text);
        }

        return new TokenizedText(source, kept, words, bytes);
    }

    /// <summary>
    /// Perplexity of text tokenized by <see cref="Tokenize"/>, on whatever network the model runs now, by lm-eval's
    /// rolling windows (<see cref="PerplexityWindows.Rolling"/>).
    /// </summary>
    public PerplexityResult Evaluate(TokenizedText text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sw = Stopwatch.StartNew();
        var (ll, _) = Score(RollingWindows(text));
        return new PerplexityResult(text.Source, text.Documents.Count, text.Tokens, text.Words, text.Bytes, ll, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// <see cref="Evaluate(TokenizedText)"/> for each of <paramref name="candidates"/> (sub-networks of the model), as
    /// if each were active in turn, with the blocks of their common prefixes run once (<see cref="LayerPrefixTree"/>);
    /// the results equal one-by-one evaluation. <see cref="PerplexityResult.Seconds"/> is the wall time shared out
    /// evenly. The model's active sub-network is restored afterwards.
    /// </summary>
    public IReadOnlyList<PerplexityResult> EvaluateMany(TokenizedText text, IReadOnlyList<SubnetworkArchitecture> candidates)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sw = Stopwatch.StartNew();
        var sums = ScoreShared(RollingWindows(text), candidates);
        var seconds = sw.Elapsed.TotalSeconds / Math.Max(1, candidates.Count);
        return [.. sums.Select(ll => new PerplexityResult(text.Source, text.Documents.Count, text.Tokens, text.Words, text.Bytes, ll.Sum, seconds))];
    }

    private List<TokenWindow> RollingWindows(TokenizedText text)
    {
        var prefix = tokenizer.BosId ?? tokenizer.EosId ?? throw new InvalidOperationException("the tokenizer has neither BOS nor EOS to use as the prefix token");
        return [.. text.Documents.SelectMany(ids => PerplexityWindows.Rolling(ids, prefix, MaxLength))];
    }

    /// <summary>
    /// Perplexity of a whole text by llama.cpp's <c>llama-perplexity</c> protocol (<see cref="PerplexityWindows.LlamaCppChunks"/>)
    /// with chunks of <paramref name="ctx"/> tokens. <see cref="PerplexityResult.Tokens"/> counts the scored tokens,
    /// <see cref="PerplexityResult.Documents"/> the chunks; words and bytes are not defined for half-scored chunks (0).
    /// </summary>
    public PerplexityResult EvaluateLlamaCpp(string source, string text, int ctx = PerplexityWindows.DefaultLlamaCppContext) =>
        EvaluateLlamaCpp(source, TokenizeLlamaCpp(text, source), ctx);

    /// <summary>
    /// The text as llama.cpp's perplexity tool tokenizes it: one trailing newline dropped (its <c>-f</c> reading does
    /// that), then tokenized once with the tokenizer's special tokens (BOS where the vocabulary adds one).
    /// </summary>
    public IReadOnlyList<int> TokenizeLlamaCpp(string text, string source = "perplexity text")
    {
        ArgumentNullException.ThrowIfNull(text);
        if (tokenizer.AddEos)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalPerplexityOptionsInvalid, "this tokenizer appends EOS to every text, which llama.cpp's perplexity refuses; use --perplexity-protocol lm-eval.", new DiagnosticLocation(source));
        }

        return tokenizer.Encode(text.EndsWith('\n') ? text[..^1] : text, addSpecialTokens: true);
    }

    /// <summary>llama.cpp's perplexity of tokens from <see cref="TokenizeLlamaCpp"/> (LNAS0641 under 2 · ctx of them).</summary>
    public PerplexityResult EvaluateLlamaCpp(string source, IReadOnlyList<int> tokens, int ctx)
    {
        var sw = Stopwatch.StartNew();
        var windows = LlamaCppChunks(source, tokens, ctx);
        return LlamaCppResult(source, windows, ctx, Score(windows), sw.Elapsed.TotalSeconds);
    }

    /// <summary><see cref="EvaluateLlamaCpp(string, IReadOnlyList{int}, int)"/> for each candidate, as <see cref="EvaluateMany"/> does it.</summary>
    public IReadOnlyList<PerplexityResult> EvaluateLlamaCppMany(string source, IReadOnlyList<int> tokens, int ctx, IReadOnlyList<SubnetworkArchitecture> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var sw = Stopwatch.StartNew();
        var windows = LlamaCppChunks(source, tokens, ctx);
        var sums = ScoreShared(windows, candidates);
        var seconds = sw.Elapsed.TotalSeconds / Math.Max(1, candidates.Count);
        return [.. sums.Select(sum => LlamaCppResult(source, windows, ctx, sum, seconds))];
    }

    private IReadOnlyList<TokenWindow> LlamaCppChunks(string source, IReadOnlyList<int> tokens, int ctx)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        PerplexityWindows.CheckLlamaCpp(tokens.Count, ctx, source);
        return PerplexityWindows.LlamaCppChunks(tokens, tokenizer.AddBos ? tokenizer.BosId : null, ctx);
    }

    private static PerplexityResult LlamaCppResult(string source, IReadOnlyList<TokenWindow> windows, int ctx, (double Sum, double SumSquares) scored, double seconds) =>
        new(source, windows.Count, windows.Sum(w => (long)w.Targets.Length), 0, 0, scored.Sum, seconds)
        {
            Protocol = PerplexityProtocol.LlamaCpp,
            Context = ctx,
            SumSquaredLogLikelihood = scored.SumSquares,
        };

    /// <summary>Perplexity of a text file by <paramref name="options"/>' protocol, named by its file name.</summary>
    public PerplexityResult EvaluateFile(string path, PerplexityOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var text = ReadText(path, options.Protocol);
        return options.Protocol == PerplexityProtocol.LlamaCpp
            ? EvaluateLlamaCpp(Path.GetFileName(path), string.Concat(text), options.Context)
            : Evaluate(Path.GetFileName(path), text);
    }

    /// <summary>Most logits (rows × length × vocabulary) one forward pass of <see cref="Score"/> computes.</summary>
    public const long MaxBatchLogits = 1L << 24;

    /// <summary>
    /// Sum of log p and of (log p)² over every scored target of <paramref name="windows"/>, on the active network.
    /// </summary>
    private (double Sum, double SumSquares) Score(IReadOnlyList<TokenWindow> windows)
    {
        var total = new Totals();
        using var noGrad = no_grad();
        foreach (var batch in Batches(windows))
        {
            using var scope = NewDisposeScope();
            total.Add(ScoreHidden(model.Hidden(batch.InputIds(Device)), batch));
        }

        return (total.Sum, total.SumSquares);
    }

    /// <summary>
    /// <see cref="Score"/> for every candidate, walking their <see cref="LayerPrefixTree"/> once per batch of windows:
    /// a block's output is computed once for all candidates that share the blocks up to it, and its attention half once
    /// for all whose block differs in the MLP width alone; each is kept only while its subtree is walked (at most two
    /// hidden states per depth alive). The operations on each candidate's path are those of its own forward pass, in
    /// the same order, so the sums are the same.
    /// </summary>
    private (double Sum, double SumSquares)[] ScoreShared(IReadOnlyList<TokenWindow> windows, IReadOnlyList<SubnetworkArchitecture> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var tree = LayerPrefixTree.Build(candidates);
        var totals = candidates.Select(_ => new Totals()).ToArray();
        var start = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        HeldTensorsPeak = 0;
        var previous = model.ActiveArchitecture;
        using var noGrad = no_grad();
        try
        {
            foreach (var batch in Batches(windows))
            {
                foreach (var root in tree.Roots)
                {
                    using var scope = NewDisposeScope();
                    model.ActivateSubnetwork(candidates[root.Representative]);
                    var (hidden, shared) = model.Model.Begin(batch.InputIds(Device), null, null);
                    Visit(root, hidden, 0, shared);
                }

                void Visit(LayerPrefixTree.Node node, Tensor hidden, int depth, BlockInputs shared)
                {
                    HeldTensorsPeak = Math.Max(HeldTensorsPeak, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount - start);
                    if (node.Ending.Count > 0)
                    {
                        using var scope = NewDisposeScope();
                        var logps = ScoreHidden(model.Model.End(hidden), batch);
                        foreach (var c in node.Ending)
                        {
                            totals[c].Add(logps);
                        }
                    }

                    foreach (var group in node.ChildrenByAttention)
                    {
                        using var groupScope = NewDisposeScope();
                        model.ActivateSubnetwork(candidates[group[0].Representative]);
                        var attended = model.Model.BlockAttention(depth, hidden, shared);
                        foreach (var child in group)
                        {
                            using var scope = NewDisposeScope();
                            model.ActivateSubnetwork(candidates[child.Representative]);
                            Visit(child, model.Model.BlockMlp(depth, attended), depth + 1, shared);
                        }
                    }
                }
            }
        }
        finally
        {
            model.ActivateSubnetwork(previous);
        }

        return [.. totals.Select(t => (t.Sum, t.SumSquares))];
    }

    /// <summary>
    /// The most tensors the last shared walk held at once on entering a node, beyond those alive before it: the
    /// inputs every block reads and the states of the current path (tests check that it grows with depth, not with the
    /// batch).
    /// </summary>
    internal long HeldTensorsPeak { get; private set; }

    private Device Device => model.Model.EmbedTokens.Weight.device;

    /// <summary>Running Σ log p and Σ (log p)², added in scoring order.</summary>
    private sealed class Totals
    {
        public double Sum { get; private set; }

        public double SumSquares { get; private set; }

        public void Add(float[] logps)
        {
            foreach (var logp in logps)
            {
                Sum += logp;
                SumSquares += (double)logp * logp;
            }
        }
    }

    /// <summary>
    /// Consecutive windows of equal input length (the full windows of a long document, every llama.cpp chunk) share
    /// a forward pass, as long as their logits stay within <see cref="MaxBatchLogits"/>.
    /// </summary>
    private IEnumerable<WindowBatch> Batches(IReadOnlyList<TokenWindow> windows)
    {
        for (var i = 0; i < windows.Count;)
        {
            var length = windows[i].Inputs.Length;
            var rows = (int)Math.Clamp(MaxBatchLogits / ((long)length * model.Config.VocabSize), 1, 64);
            var end = i + 1;
            while (end < windows.Count && end - i < rows && windows[end].Inputs.Length == length)
            {
                end++;
            }

            yield return WindowBatch.Of([.. windows.Skip(i).Take(end - i)]);
            i = end;
        }
    }

    /// <summary>log p of every target of a batch, from its final hidden states [rows, length, hidden], in window then target order.</summary>
    private float[] ScoreHidden(Tensor hidden, WindowBatch batch)
    {
        using var scope = NewDisposeScope();
        var flat = hidden.view(batch.Rows * batch.Length, -1);
        var logprobs = model.Logits(flat.index_select(0, tensor(batch.Positions, device: Device))).log_softmax(-1);
        return logprobs.gather(1, tensor(batch.Targets, device: Device).unsqueeze(1)).to(float32).cpu().data<float>().ToArray();
    }

    /// <summary>Windows of one input length as one forward pass: the input ids, and the flat positions that predict a target.</summary>
    private sealed record WindowBatch(long[] Ids, int Rows, int Length, long[] Positions, long[] Targets)
    {
        public static WindowBatch Of(IReadOnlyList<TokenWindow> batch)
        {
            int rows = batch.Count, length = batch[0].Inputs.Length;
            var ids = new long[rows * length];
            var positions = new List<long>();
            var targets = new List<long>();
            for (var r = 0; r < rows; r++)
            {
                var w = batch[r];
                for (var t = 0; t < length; t++)
                {
                    ids[(r * length) + t] = w.Inputs[t];
                }

                // Only the positions that predict a target are projected onto the vocabulary.
                for (var k = 0; k < w.Targets.Length; k++)
                {
                    positions.Add((r * length) + length - w.Targets.Length + k);
                    targets.Add(w.Targets[k]);
                }
            }

            return new WindowBatch(ids, rows, length, [.. positions], [.. targets]);
        }

        public Tensor InputIds(Device device) => tensor(Ids, [Rows, Length], device: device);
    }

    /// <summary>
    /// A perplexity text as <paramref name="protocol"/> reads it: lm-eval's documents (<see cref="ReadDocuments"/>), or
    /// for llama.cpp the whole file unchanged, as one text.
    /// </summary>
    public static IReadOnlyList<string> ReadText(string path, PerplexityProtocol protocol) =>
        protocol == PerplexityProtocol.LlamaCpp ? [File.ReadAllText(path)] : ReadDocuments(path);

    /// <summary>Documents of a text file: split on lines equal to <paramref name="separator"/>, else the whole file.</summary>
    public static IReadOnlyList<string> ReadDocuments(string path, string separator = "<|endoftext|>")
    {
        var docs = new List<string>();
        var current = new StringBuilder();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Trim() == separator)
            {
                Flush();
                continue;
            }

            current.Append(line).Append('\n');
        }

        Flush();
        return docs;

        void Flush()
        {
            var text = current.ToString().Trim();
            if (text.Length > 0)
            {
                docs.Add(text);
            }

            current.Clear();
        }
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Words();
}
