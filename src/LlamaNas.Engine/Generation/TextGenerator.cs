using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Generation;

/// <summary>Decoding settings. Temperature 0 means greedy (deterministic); otherwise sampling seeded by <see cref="Seed"/>.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 64;

    public double Temperature { get; init; }

    public int TopK { get; init; }

    public double TopP { get; init; } = 1.0;

    public ulong Seed { get; init; }

    public bool StopAtEos { get; init; } = true;
}

/// <summary>Autoregressive generation with a KV cache, for a batch of prompts (left-padded).</summary>
public static class TextGenerator
{
    /// <summary>Returns the new tokens of each prompt (without the prompt; an EOS that stopped a row is included).</summary>
    public static IReadOnlyList<int[]> Generate(LlamaForCausalLM model, IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, IReadOnlyCollection<int> eosIds)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        if (prompts.Count == 0 || prompts.Any(p => p.Count == 0))
        {
            throw new ArgumentException("every prompt needs at least one token (e.g. BOS)", nameof(prompts));
        }

        var device = model.Model.EmbedTokens.Weight.device;
        var batch = prompts.Count;
        var longest = prompts.Max(p => p.Count);
        var outputs = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var finished = new bool[batch];

        using var noGrad = no_grad();
        using var cache = model.NewCache(longest + options.MaxNewTokens);
        using var generator = options.Temperature > 0 ? new Generator(options.Seed, device) : null;
        Tensor? mask = null;
        Tensor? logits = null; // last-position logits, owned here (outside any dispose scope)
        try
        {
            using (var prefill = NewDisposeScope())
            {
                var ids = new long[batch * longest];
                var maskValues = new long[batch * longest];
                for (var b = 0; b < batch; b++)
                {
                    var pad = longest - prompts[b].Count;
                    for (var i = 0; i < prompts[b].Count; i++)
                    {
                        ids[(b * longest) + pad + i] = prompts[b][i];
                        maskValues[(b * longest) + pad + i] = 1;
                    }
                }

                if (prompts.Any(p => p.Count != longest))
                {
                    mask = tensor(maskValues, [batch, longest], device: device).DetachFromDisposeScope();
                }

                logits = model.Forward(tensor(ids, [batch, longest], device: device), mask, cache, lastPositionOnly: true).MoveToOuterDisposeScope();
            }

            for (var step = 0; step < options.MaxNewTokens; step++)
            {
                using var scope = NewDisposeScope();
                var next = Pick(logits!.select(1, 0), options, generator).data<long>().ToArray();
                logits.Dispose();
                logits = null;
                for (var b = 0; b < batch; b++)
                {
                    if (finished[b])
                    {
                        continue;
                    }

                    outputs[b].Add((int)next[b]);
                    finished[b] = options.StopAtEos && eosIds.Contains((int)next[b]);
                }

                if (finished.All(f => f) || step == options.MaxNewTokens - 1)
                {
                    break;
                }

                if (mask is not null)
                {
                    var grown = cat([mask, ones(batch, 1, int64, device)], 1).DetachFromDisposeScope();
                    mask.Dispose();
                    mask = grown;
                }

                logits = model.Forward(tensor(next, [batch, 1], device: device), mask, cache, lastPositionOnly: true).MoveToOuterDisposeScope();
            }
        }
        finally
        {
            logits?.Dispose();
            mask?.Dispose();
        }

        return [.. outputs.Select(o => o.ToArray())];
    }

    /// <summary>Encodes <paramref name="prompt"/> (BOS per the tokenizer), generates, and decodes prompt plus continuation.</summary>
    public static string GenerateText(LlamaForCausalLM model, ITextTokenizer tokenizer, string prompt, GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var ids = tokenizer.Encode(prompt);
        if (ids.Count == 0)
        {
            throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, "the prompt encodes to no tokens and the tokenizer adds no BOS; give a non-empty prompt.");
        }

        IReadOnlyCollection<int> eos = model.Config.EosTokenIds.Count > 0 ? model.Config.EosTokenIds : tokenizer.EosId is { } e ? [e] : [];
        var generated = Generate(model, [ids], options, eos)[0];
        return tokenizer.Decode(ids.Concat(generated));
    }

    /// <summary>Next token per row from last-position logits [B, V]: argmax, or seeded top-k/top-p sampling.</summary>
    private static Tensor Pick(Tensor logits, GenerationOptions options, Generator? generator)
    {
        if (options.Temperature <= 0 || generator is null)
        {
            return logits.argmax(-1);
        }

        using var temperature = options.Temperature.ToScalar(); // disposed here, not on the GC's finalizer thread (see RmsNorm)
        using var minusInfinity = double.NegativeInfinity.ToScalar();
        using var topP = options.TopP.ToScalar();
        var scaled = logits.div(temperature);
        if (options.TopK > 0 && options.TopK < scaled.shape[^1])
        {
            var kth = scaled.topk(options.TopK, -1).values.narrow(-1, options.TopK - 1, 1);
            scaled = scaled.masked_fill(scaled < kth, minusInfinity);
        }

        if (options.TopP < 1.0)
        {
            var (sorted, order) = scaled.sort(-1, descending: true);
            var cumulative = sorted.softmax(-1).cumsum(-1);
            // Drop a token once the mass before it already reaches top_p; the first token always stays.
            var drop = cumulative.sub(sorted.softmax(-1)).ge(topP);
            scaled = scaled.scatter(-1, order, sorted.masked_fill(drop, minusInfinity));
        }

        return multinomial(scaled.softmax(-1), 1, false, generator).squeeze(-1);
    }
}
