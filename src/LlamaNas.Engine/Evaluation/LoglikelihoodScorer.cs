using System.Globalization;
using LlamaNas.Core.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Evaluation;

/// <summary>Batching and tokenization settings of the scorer.</summary>
public sealed record ScorerOptions
{
    /// <summary>Upper bound on batch rows × padded length per forward pass.</summary>
    public int MaxBatchTokens { get; init; } = 8192;

    public int MaxBatchSize { get; init; } = 64;

    /// <summary>Longest input fed to the model (lm-eval's max_length); 0 = the model's max_position_embeddings.</summary>
    public int MaxLength { get; init; }

    /// <summary>Prepend BOS to every context (lm-eval's <c>add_bos_token=True</c>); off by default as in lm-eval for causal models.</summary>
    public bool AddBos { get; init; }

    /// <summary>
    /// Requests with one context and different continuations (the choices of an item) run the context once and
    /// the continuations on its KV cache when that saves at least this many input tokens (context length × (choices
    /// − 1)); 0 turns sharing off.
    /// </summary>
    public int PrefixSharingMinTokens { get; init; } = 256;
}

/// <summary>Summed log-probability of a request's continuation tokens, and whether greedy decoding would produce them.</summary>
public sealed record LoglikelihoodResult(double LogLikelihood, bool IsGreedy, int ContinuationTokens);

/// <summary>
/// One model input shared by the requests whose (truncated) inputs are identical. <see cref="ContextLength"/>: the
/// length of the untruncated context every target of the row continues, or 0 when the input was truncated or the
/// targets continue different contexts.
/// </summary>
internal sealed record ScoringRow(int[] Input, List<(int Request, int[] Continuation)> Targets)
{
    public int ContextLength { get; set; }
}

/// <summary>Rows that continue one context: the context runs once, the rows' remainders on its KV cache.</summary>
internal sealed record PrefixGroup(int[] Prefix, IReadOnlyList<ScoringRow> Rows);

/// <summary>Requests tokenized and grouped into model inputs by <see cref="LoglikelihoodScorer.Prepare"/>.</summary>
public sealed class PreparedRequests
{
    internal PreparedRequests(LoglikelihoodScorer owner, int count, IReadOnlyList<ScoringRow> rows, IReadOnlyList<PrefixGroup> groups) =>
        (Owner, Count, Rows, Groups) = (owner, count, rows, groups);

    /// <summary>Number of requests.</summary>
    public int Count { get; }

    /// <summary>Number of distinct model inputs (requests with identical inputs share one).</summary>
    public int Inputs => Rows.Count + Groups.Sum(g => g.Rows.Count);

    /// <summary>Number of contexts that run once for several continuations (<see cref="ScorerOptions.PrefixSharingMinTokens"/>).</summary>
    public int SharedContexts => Groups.Count;

    internal LoglikelihoodScorer Owner { get; }

    /// <summary>Rows scored in length-sorted padded batches.</summary>
    internal IReadOnlyList<ScoringRow> Rows { get; }

    internal IReadOnlyList<PrefixGroup> Groups { get; }
}

/// <summary>Anything that scores log-likelihood requests (the model scorer; fakes in tests).</summary>
public interface ILoglikelihoodScorer
{
    IReadOnlyList<LoglikelihoodResult> Score(IReadOnlyList<LoglikelihoodRequest> requests, IProgress<int>? progress = null);
}

/// <summary>
/// Scores (context, continuation) requests exactly as lm-evaluation-harness does for a causal model:
/// trailing whitespace of the context moves into the continuation; continuation tokens are
/// <c>tok(context + continuation)[len(tok(context)):]</c>; an empty context is replaced by the prefix token;
/// inputs keep the last max_length + 1 tokens. Requests with identical inputs (e.g. single-token answers of one
/// question) share one row; rows are sorted by length and right-padded, which needs no attention mask under
/// causal attention, so a request's result does not depend on its batch. Choices that continue one long context
/// (TruthfulQA's preamble, few-shot prompts) run the context once and every continuation on a copy of its KV cache.
/// Only continuation positions are projected onto the vocabulary.
/// </summary>
public sealed class LoglikelihoodScorer(LlamaForCausalLM model, ITextTokenizer tokenizer, ScorerOptions? options = null) : ILoglikelihoodScorer
{
    private readonly ScorerOptions _options = options ?? new ScorerOptions();

    private int MaxLength => _options.MaxLength > 0 ? _options.MaxLength : model.Config.MaxPositionEmbeddings;

    /// <summary>(context tokens, continuation tokens) for one request, before truncation.</summary>
    public (int[] Context, int[] Continuation) Encode(LoglikelihoodRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var context = request.Context;
        var continuation = request.Continuation;
        var trimmed = context.TrimEnd();
        if (trimmed.Length < context.Length)
        {
            continuation = context[trimmed.Length..] + continuation;
            context = trimmed;
        }

        if (context.Length == 0)
        {
            var prefix = tokenizer.BosId ?? tokenizer.EosId ?? throw new InvalidOperationException("the tokenizer has neither BOS nor EOS to use as the prefix token");
            return ([prefix], [.. tokenizer.Encode(continuation, addSpecialTokens: false)]);
        }

        var whole = tokenizer.Encode(context + continuation, addSpecialTokens: false);
        var contextTokens = tokenizer.Encode(context, addSpecialTokens: false);
        int[] prefixTokens = _options.AddBos && tokenizer.BosId is { } bos ? [bos] : [];
        return ([.. prefixTokens, .. contextTokens], [.. whole.Skip(contextTokens.Count)]);
    }

    public IReadOnlyList<LoglikelihoodResult> Score(IReadOnlyList<LoglikelihoodRequest> requests, IProgress<int>? progress = null) =>
        Score(Prepare(requests), progress);

    /// <summary>
    /// Tokenizes and groups <paramref name="requests"/> into model inputs once, so that many networks (the
    /// sub-networks of a search) can score them without tokenizing again. The result belongs to this scorer.
    /// </summary>
    public PreparedRequests Prepare(IReadOnlyList<LoglikelihoodRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var rows = BuildRows(requests);
        var groups = ShareContexts(rows);
        var grouped = groups.SelectMany(g => g.Rows).ToHashSet();
        return new PreparedRequests(this, requests.Count, [.. rows.Where(r => !grouped.Contains(r))], groups);
    }

    /// <summary>Scores requests prepared by <see cref="Prepare"/> on whatever network the model runs now.</summary>
    public IReadOnlyList<LoglikelihoodResult> Score(PreparedRequests prepared, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        if (!ReferenceEquals(prepared.Owner, this))
        {
            throw new ArgumentException("these requests were prepared by another scorer (its tokenizer or options may differ)", nameof(prepared));
        }

        var results = new LoglikelihoodResult[prepared.Count];
        var done = 0;
        using var noGrad = no_grad();
        foreach (var batch in Batches(prepared.Rows))
        {
            ScoreBatch(batch, results);
            done += batch.Sum(r => r.Targets.Count);
            progress?.Report(done);
        }

        foreach (var group in prepared.Groups)
        {
            ScoreGroup(group, results);
            done += group.Rows.Sum(r => r.Targets.Count);
            progress?.Report(done);
        }

        return results;
    }

    private List<ScoringRow> BuildRows(IReadOnlyList<LoglikelihoodRequest> requests)
    {
        var byInput = new Dictionary<string, ScoringRow>(StringComparer.Ordinal);
        var rows = new List<ScoringRow>();
        for (var i = 0; i < requests.Count; i++)
        {
            var (ctx, cont) = Encode(requests[i]);
            int[] full = [.. ctx, .. cont];
            var keep = Math.Min(full.Length, MaxLength + 1);
            var input = full[(full.Length - keep)..^1];
            var scored = Math.Min(cont.Length, input.Length);
            var key = string.Join(',', input.Select(t => t.ToString(CultureInfo.InvariantCulture)));
            var contextLength = keep == full.Length ? ctx.Length : 0;
            if (!byInput.TryGetValue(key, out var row))
            {
                row = new ScoringRow(input, []) { ContextLength = contextLength };
                byInput[key] = row;
                rows.Add(row);
            }
            else if (row.ContextLength != contextLength)
            {
                row.ContextLength = 0;
            }

            row.Targets.Add((i, cont[(cont.Length - scored)..]));
        }

        // Longest first (lm-eval's order), ties by first request so the schedule is deterministic.
        return [.. rows.OrderByDescending(r => r.Input.Length).ThenBy(r => r.Targets[0].Request)];
    }

    /// <summary>Rows continuing one untruncated context, where running it once saves enough tokens.</summary>
    private List<PrefixGroup> ShareContexts(List<ScoringRow> rows)
    {
        if (_options.PrefixSharingMinTokens <= 0)
        {
            return [];
        }

        return [.. rows
            .Where(r => r.ContextLength > 0)
            .GroupBy(r => string.Join(',', r.Input.Take(r.ContextLength).Select(t => t.ToString(CultureInfo.InvariantCulture))), StringComparer.Ordinal)
            .Where(g => g.Count() >= 2 && (long)g.First().ContextLength * (g.Count() - 1) >= _options.PrefixSharingMinTokens)
            .Select(g => new PrefixGroup(g.First().Input[..g.First().ContextLength], [.. g]))];
    }

    private IEnumerable<List<ScoringRow>> Batches(IReadOnlyList<ScoringRow> rows)
    {
        var batch = new List<ScoringRow>();
        foreach (var row in rows)
        {
            var width = batch.Count == 0 ? row.Input.Length : batch[0].Input.Length;
            if (batch.Count > 0 && ((batch.Count + 1) * width > _options.MaxBatchTokens || batch.Count >= _options.MaxBatchSize))
            {
                yield return batch;
                batch = [];
            }

            batch.Add(row);
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    private void ScoreBatch(List<ScoringRow> batch, LoglikelihoodResult[] results)
    {
        using var scope = NewDisposeScope();
        var width = batch[0].Input.Length;
        var ids = new long[batch.Count * width];
        var positions = new List<long>();
        var targets = new List<long>();
        for (var b = 0; b < batch.Count; b++)
        {
            var input = batch[b].Input;
            for (var t = 0; t < input.Length; t++)
            {
                ids[(b * width) + t] = input[t];
            }

            foreach (var (_, cont) in batch[b].Targets)
            {
                for (var j = 0; j < cont.Length; j++)
                {
                    positions.Add((b * width) + input.Length - cont.Length + j);
                    targets.Add(cont[j]);
                }
            }
        }

        var device = model.Model.EmbedTokens.Weight.device;
        var hidden = model.Hidden(tensor(ids, [batch.Count, width], device: device));
        Collect(hidden.view(-1, hidden.shape[^1]), positions, targets, batch, results);
    }

    /// <summary>
    /// Runs the shared context once (batch 1, into a KV cache), then every row's remainder as one right-padded
    /// batch on copies of that cache. A continuation's first token is predicted at the context's last position.
    /// </summary>
    private void ScoreGroup(PrefixGroup group, LoglikelihoodResult[] results)
    {
        using var scope = NewDisposeScope();
        var device = model.Model.EmbedTokens.Weight.device;
        var prefix = group.Prefix.Length;
        using var cache = model.NewCache(prefix);
        var context = model.Hidden(tensor(group.Prefix.Select(t => (long)t).ToArray(), [1, prefix], device: device), cache: cache);
        context = context.view(-1, context.shape[^1]);

        // Each copy of the cache holds the whole context, so rows per pass obey the same token budget as plain batches.
        var longest = group.Rows.Max(r => r.Input.Length);
        var perPass = Math.Clamp(_options.MaxBatchTokens / longest, 1, _options.MaxBatchSize);
        foreach (var chunk in group.Rows.Chunk(perPass))
        {
            using var chunkScope = NewDisposeScope();
            var width = chunk.Max(r => r.Input.Length) - prefix;
            var states = context;
            if (width > 0)
            {
                var ids = new long[chunk.Length * width];
                for (var b = 0; b < chunk.Length; b++)
                {
                    var input = chunk[b].Input;
                    for (var t = prefix; t < input.Length; t++)
                    {
                        ids[(b * width) + t - prefix] = input[t];
                    }
                }

                using var rows = cache.Repeat(chunk.Length, width);
                var suffix = model.Hidden(tensor(ids, [chunk.Length, width], device: device), cache: rows);
                states = cat([context, suffix.view(-1, suffix.shape[^1])], 0);
            }

            // Position p of row b is the context's p while p < prefix, else row b's remainder at p - prefix.
            var positions = new List<long>();
            var targets = new List<long>();
            for (var b = 0; b < chunk.Length; b++)
            {
                var input = chunk[b].Input;
                foreach (var (_, cont) in chunk[b].Targets)
                {
                    for (var j = 0; j < cont.Length; j++)
                    {
                        var p = input.Length - cont.Length + j;
                        positions.Add(p < prefix ? p : prefix + ((long)b * width) + p - prefix);
                        targets.Add(cont[j]);
                    }
                }
            }

            Collect(states, positions, targets, chunk, results);
        }
    }

    /// <summary>Projects the picked hidden states and sums each target's token log-probabilities (rows' targets in order).</summary>
    private void Collect(Tensor states, List<long> positions, List<long> targets, IReadOnlyList<ScoringRow> rows, LoglikelihoodResult[] results)
    {
        var device = states.device;
        var picked = states.index_select(0, tensor(positions.ToArray(), device: device));
        var logprobs = model.Logits(picked).log_softmax(-1);
        var targetTensor = tensor(targets.ToArray(), device: device);
        var tokenLl = logprobs.gather(1, targetTensor.unsqueeze(1)).squeeze(1).to(float64).cpu().data<double>().ToArray();
        var greedy = logprobs.argmax(1).eq(targetTensor).cpu().data<bool>().ToArray();

        var k = 0;
        foreach (var row in rows)
        {
            foreach (var (request, cont) in row.Targets)
            {
                double sum = 0;
                var allGreedy = true;
                for (var j = 0; j < cont.Length; j++, k++)
                {
                    sum += tokenLl[k];
                    allGreedy &= greedy[k];
                }

                results[request] = new LoglikelihoodResult(sum, allGreedy, cont.Length);
            }
        }
    }
}
