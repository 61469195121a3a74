using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Core.Evaluation;

/// <summary>
/// One forward pass of a perplexity protocol: the model reads <see cref="Inputs"/>, and its predictions at the last
/// <c>Targets.Length</c> positions are scored against <see cref="Targets"/> (position <c>Inputs.Length - Targets.Length + i</c>
/// predicts <c>Targets[i]</c>).
/// </summary>
public sealed record TokenWindow(int[] Inputs, int[] Targets);

/// <summary>How perplexity is measured: lm-eval's rolling log-likelihood or llama.cpp's <c>llama-perplexity</c> chunks.</summary>
public enum PerplexityProtocol
{
    LmEval,
    LlamaCpp,
}

/// <summary>Window plans of the two perplexity protocols, as pure token arithmetic (docs/EVALUATION.md).</summary>
public static class PerplexityWindows
{
    /// <summary>llama.cpp's default <c>--ctx-size</c> for <c>llama-perplexity</c>.</summary>
    public const int DefaultLlamaCppContext = 512;

    /// <summary>The option value of a protocol, as <c>--perplexity-protocol</c> and the project properties spell it.</summary>
    public static string Name(PerplexityProtocol protocol) => protocol switch
    {
        PerplexityProtocol.LmEval => "lm-eval",
        PerplexityProtocol.LlamaCpp => "llama.cpp",
        _ => throw new ArgumentOutOfRangeException(nameof(protocol)),
    };

    /// <summary>Parses <c>lm-eval</c> or <c>llama.cpp</c>; anything else is LNAS0640 located at <paramref name="where"/>.</summary>
    public static PerplexityProtocol ParseProtocol(string text, string where = "--perplexity-protocol") => text switch
    {
        "lm-eval" => PerplexityProtocol.LmEval,
        "llama.cpp" => PerplexityProtocol.LlamaCpp,
        _ => throw new LlamaNasException(DiagnosticCodes.EvalPerplexityOptionsInvalid, $"unknown perplexity protocol '{text}': use lm-eval or llama.cpp.", new DiagnosticLocation(where)),
    };

    /// <summary>
    /// lm-eval's <c>get_rolling_token_windows(tokens, prefix, max_length, context_len=1)</c> followed by
    /// <c>make_disjoint_window</c>: the first window reads the prefix token and the first max_length − 1 tokens and
    /// predicts max_length tokens; every later full window reads the max_length tokens before its first target's
    /// successor and predicts max_length new ones. The last, partial window still reads max_length tokens (the ones
    /// just before its final target), so it is conditioned on as much context as fits, and predicts only the
    /// tokens not yet scored. Every token is scored exactly once.
    /// </summary>
    public static IReadOnlyList<TokenWindow> Rolling(IReadOnlyList<int> tokens, int prefixToken, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        var windows = new List<TokenWindow>();
        if (tokens.Count == 0)
        {
            return windows;
        }

        var first = Math.Min(maxLength, tokens.Count);
        windows.Add(new TokenWindow([prefixToken, .. Slice(tokens, 0, first - 1)], Slice(tokens, 0, first)));
        for (var predicted = first; predicted < tokens.Count;)
        {
            var count = Math.Min(maxLength, tokens.Count - predicted);
            var end = predicted + count;
            windows.Add(new TokenWindow(Slice(tokens, end - 1 - maxLength, maxLength), Slice(tokens, predicted, count)));
            predicted = end;
        }

        return windows;
    }

    /// <summary>
    /// llama.cpp's <c>perplexity()</c> (examples/perplexity): <paramref name="tokens"/> is the whole text tokenized once
    /// (with BOS when the vocabulary adds one); it is cut into ⌊n / ctx⌋ chunks of ctx tokens, the remainder dropped;
    /// with <paramref name="bos"/> the first token of every chunk is replaced by it; of each chunk only the predictions
    /// at positions ctx/2 … ctx − 2 are scored (tokens ctx/2 + 1 … ctx − 1 of the chunk, ctx − 1 − ctx/2 of them).
    /// The chunk's last token is never an input whose prediction counts, so the window drops it.
    /// </summary>
    public static IReadOnlyList<TokenWindow> LlamaCppChunks(IReadOnlyList<int> tokens, int? bos, int ctx)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        CheckLlamaCpp(tokens.Count, ctx);
        var first = ctx / 2;
        var windows = new List<TokenWindow>();
        for (var start = 0; start + ctx <= tokens.Count; start += ctx)
        {
            var inputs = Slice(tokens, start, ctx - 1);
            if (bos is { } b)
            {
                inputs[0] = b;
            }

            windows.Add(new TokenWindow(inputs, Slice(tokens, start + first + 1, ctx - 1 - first)));
        }

        return windows;
    }

    /// <summary>
    /// llama.cpp's rules for a context length and a text: ctx must score at least one token per chunk (ctx ≥ 3;
    /// llama.cpp itself only refuses ctx ≤ 0 and divides by zero for 1 and 2), and the text must give at least
    /// 2·ctx tokens (llama.cpp's "you need at least … tokens"). LNAS0640 for the context, LNAS0641 for the text.
    /// </summary>
    public static void CheckLlamaCpp(int tokenCount, int ctx, string source = "perplexity text")
    {
        CheckContext(ctx);
        if (tokenCount < 2L * ctx)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalPerplexityTextTooShort, $"the text tokenizes to {tokenCount} tokens; the llama.cpp protocol needs at least 2·ctx = {2L * ctx}: give a longer text or a smaller --ctx.", new DiagnosticLocation(source));
        }
    }

    /// <summary>LNAS0640 unless a llama.cpp chunk of <paramref name="ctx"/> tokens scores at least one token.</summary>
    public static void CheckContext(int ctx)
    {
        if (ctx < 3)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalPerplexityOptionsInvalid, $"--ctx {ctx} is too small: the llama.cpp protocol scores positions ctx/2 … ctx-2 of each chunk, so ctx must be at least 3 (llama.cpp's default is {DefaultLlamaCppContext}).", new DiagnosticLocation("--ctx"));
        }
    }

    private static int[] Slice(IReadOnlyList<int> tokens, int start, int count)
    {
        var result = new int[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = tokens[start + i];
        }

        return result;
    }
}

/// <summary>
/// How perplexity is measured, as <c>evaluate</c>, <c>search</c> and the build pipeline take it:
/// <c>--perplexity-protocol lm-eval|llama.cpp</c> and <c>--ctx N</c> (llama.cpp's chunk length; lm-eval's windows are
/// <c>--max-length</c>).
/// </summary>
public sealed record PerplexityOptions
{
    public PerplexityProtocol Protocol { get; init; } = PerplexityProtocol.LmEval;

    /// <summary>The llama.cpp protocol's chunk length (llama.cpp's <c>--ctx-size</c>).</summary>
    public int Context { get; init; } = PerplexityWindows.DefaultLlamaCppContext;

    /// <summary>
    /// Options from their command-line spelling: LNAS0640 for an unknown protocol, a context below 3, or a context
    /// given with lm-eval (whose windows are set by --max-length, so a --ctx there would silently do nothing).
    /// </summary>
    public static PerplexityOptions Parse(string protocol, int? ctx)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        var p = PerplexityWindows.ParseProtocol(protocol);
        if (ctx is not null && p == PerplexityProtocol.LmEval)
        {
            throw new LlamaNasException(DiagnosticCodes.EvalPerplexityOptionsInvalid, "--ctx sets the llama.cpp protocol's chunk length; add --perplexity-protocol llama.cpp, or set lm-eval's window with --max-length.", new DiagnosticLocation("--ctx"));
        }

        var options = new PerplexityOptions { Protocol = p, Context = ctx ?? PerplexityWindows.DefaultLlamaCppContext };
        PerplexityWindows.CheckContext(options.Context);
        return options;
    }

    /// <summary>The settings a search records for these options: none for lm-eval (the default), so older states still resume.</summary>
    public IEnumerable<KeyValuePair<string, string>> Describe() => Protocol == PerplexityProtocol.LmEval
        ? []
        : [new("perplexity_protocol", PerplexityWindows.Name(Protocol)), new("ctx", Context.ToString(System.Globalization.CultureInfo.InvariantCulture))];
}
