using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;

namespace LlamaNas.Core.Tests.Evaluation;

public class PerplexityWindowsTests
{
    private static int[] Range(int start, int count) => [.. Enumerable.Range(start, count)];

    private static void AssertWindows(IReadOnlyList<TokenWindow> actual, params (int[] Inputs, int[] Targets)[] expected)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Inputs, actual[i].Inputs);
            Assert.Equal(expected[i].Targets, actual[i].Targets);
        }
    }

    [Fact]
    public void Rolling_windows_match_lm_eval_published_gold()
    {
        // lm-eval's test_get_rolling_token_windows_v1: 34 tokens, max_seq_len 10, prefix -100, context_len 1.
        AssertWindows(
            PerplexityWindows.Rolling(Range(0, 34), -100, 10),
            ([-100, .. Range(0, 9)], Range(0, 10)),
            (Range(9, 10), Range(10, 10)),
            (Range(19, 10), Range(20, 10)),
            (Range(23, 10), Range(30, 4)));
    }

    [Fact]
    public void Rolling_windows_at_the_edges_of_max_length()
    {
        AssertWindows(PerplexityWindows.Rolling(Range(0, 7), -1, 10), ([-1, .. Range(0, 6)], Range(0, 7)));
        AssertWindows(PerplexityWindows.Rolling(Range(0, 10), -1, 10), ([-1, .. Range(0, 9)], Range(0, 10)));
        AssertWindows(PerplexityWindows.Rolling(Range(0, 11), -1, 10), ([-1, .. Range(0, 9)], Range(0, 10)), (Range(0, 10), [10]));
        AssertWindows(
            PerplexityWindows.Rolling(Range(0, 23), -1, 10),
            ([-1, .. Range(0, 9)], Range(0, 10)),
            (Range(9, 10), Range(10, 10)),
            (Range(12, 10), Range(20, 3)));
        Assert.Empty(PerplexityWindows.Rolling([], -1, 10));
        AssertWindows(PerplexityWindows.Rolling(Range(0, 3), -1, 1), ([-1], [0]), ([0], [1]), ([1], [2]));
    }

    [Fact]
    public void Rolling_windows_score_every_token_once_with_the_longest_context_that_fits()
    {
        for (var max = 1; max <= 12; max++)
        {
            for (var n = 1; n <= 60; n++)
            {
                var tokens = Range(100, n);
                var windows = PerplexityWindows.Rolling(tokens, -1, max);
                Assert.Equal(tokens, windows.SelectMany(w => w.Targets));
                int[] stream = [-1, .. tokens];
                foreach (var w in windows)
                {
                    // The window is the stretch of prefix + tokens that ends just before its last target.
                    var last = Array.IndexOf(stream, w.Targets[^1]);
                    Assert.Equal(stream[(last - w.Inputs.Length)..last], w.Inputs);
                    Assert.Equal(Math.Min(max, last), w.Inputs.Length);
                    Assert.InRange(w.Targets.Length, 1, w.Inputs.Length);
                }
            }
        }
    }

    [Fact]
    public void Llama_cpp_chunks_replace_the_first_token_by_bos_and_score_the_second_half()
    {
        int[] tokens = [1, .. Range(100, 20)];
        AssertWindows(
            PerplexityWindows.LlamaCppChunks(tokens, 1, 8),
            ([1, .. tokens[1..7]], tokens[5..8]),
            ([1, .. tokens[9..15]], tokens[13..16]));

        // Odd ctx: first = ctx/2 = 2, so predictions at 2 and 3 of each chunk are scored.
        AssertWindows(
            PerplexityWindows.LlamaCppChunks(Range(0, 12), null, 5),
            (Range(0, 4), [3, 4]),
            (Range(5, 4), [8, 9]));
    }

    [Fact]
    public void Llama_cpp_chunks_refuse_a_context_that_scores_nothing_and_a_text_under_two_chunks()
    {
        Assert.Equal(DiagnosticCodes.EvalPerplexityOptionsInvalid, Assert.Throws<LlamaNasException>(() => PerplexityWindows.LlamaCppChunks(Range(0, 100), 1, 2)).Code);
        var e = Assert.Throws<LlamaNasException>(() => PerplexityWindows.LlamaCppChunks(Range(0, 15), 1, 8));
        Assert.Equal(DiagnosticCodes.EvalPerplexityTextTooShort, e.Code);
        Assert.Contains("15 tokens", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, PerplexityWindows.LlamaCppChunks(Range(0, 16), 1, 8).Count);
    }

    [Fact]
    public void Protocol_names_round_trip_and_unknown_names_are_coded()
    {
        foreach (var p in Enum.GetValues<PerplexityProtocol>())
        {
            Assert.Equal(p, PerplexityWindows.ParseProtocol(PerplexityWindows.Name(p)));
        }

        Assert.Equal(DiagnosticCodes.EvalPerplexityOptionsInvalid, Assert.Throws<LlamaNasException>(() => PerplexityWindows.ParseProtocol("llamacpp")).Code);
    }

    [Fact]
    public void Options_take_ctx_only_with_the_llama_cpp_protocol_and_record_only_what_differs_from_lm_eval()
    {
        Assert.Equal(new PerplexityOptions(), PerplexityOptions.Parse("lm-eval", null));
        Assert.Empty(new PerplexityOptions().Describe());
        var llama = PerplexityOptions.Parse("llama.cpp", null);
        Assert.Equal(PerplexityWindows.DefaultLlamaCppContext, llama.Context);
        Assert.Equal([new("perplexity_protocol", "llama.cpp"), new KeyValuePair<string, string>("ctx", "512")], llama.Describe());
        Assert.Equal(128, PerplexityOptions.Parse("llama.cpp", 128).Context);
        Assert.Equal(DiagnosticCodes.EvalPerplexityOptionsInvalid, Assert.Throws<LlamaNasException>(() => PerplexityOptions.Parse("lm-eval", 128)).Code);
        Assert.Equal(DiagnosticCodes.EvalPerplexityOptionsInvalid, Assert.Throws<LlamaNasException>(() => PerplexityOptions.Parse("llama.cpp", 2)).Code);
    }
}
