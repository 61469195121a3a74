using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;

namespace LlamaNas.Core.Tests.Search;

public class SearchObjectiveTests
{
    [Theory]
    [InlineData("accuracy:arc_easy", ObjectiveKind.Accuracy, "arc_easy", "accuracy:arc_easy")]
    [InlineData(" Accuracy_Norm:hellaswag ", ObjectiveKind.AccuracyNorm, "hellaswag", "accuracy_norm:hellaswag")]
    [InlineData("perplexity:data/valid.txt", ObjectiveKind.Perplexity, "data/valid.txt", "perplexity:valid.txt")]
    [InlineData("perplexity", ObjectiveKind.Perplexity, null, "perplexity")]
    [InlineData("size", ObjectiveKind.Size, null, "size_gb")]
    [InlineData("size:INT8", ObjectiveKind.Size, "int8", "size_gb:int8")]
    [InlineData("params", ObjectiveKind.Parameters, null, "params")]
    [InlineData("throughput", ObjectiveKind.Throughput, null, "throughput_tokens_per_s")]
    [InlineData("latency", ObjectiveKind.Latency, null, "latency_s_per_token")]
    public void Parses_every_objective_with_its_metric_column(string text, ObjectiveKind kind, string? argument, string metric)
    {
        var o = SearchObjective.Parse(text);
        Assert.Equal(new SearchObjective(kind, argument), o);
        Assert.Equal(metric, o.MetricName);
        Assert.Equal(o, SearchObjective.Parse(o.Name));
    }

    [Fact]
    public void Minimised_values_negate_what_grows_when_better_and_take_the_log_of_perplexity()
    {
        Assert.Equal(-0.75, SearchObjective.Parse("accuracy:arc_easy").ToObjective(0.75));
        Assert.Equal(-1234.5, SearchObjective.Parse("throughput").ToObjective(1234.5));
        Assert.Equal(Math.Log(12.5), SearchObjective.Parse("perplexity").ToObjective(12.5));
        Assert.Equal(0.002, SearchObjective.Parse("latency").ToObjective(0.002));
        Assert.Equal(["-metric", "ln(metric)", "metric"], new[] { "accuracy_norm:x", "perplexity", "size" }.Select(t => SearchObjective.Parse(t).MinimisedAs));
        foreach (var text in new[] { "accuracy:x", "perplexity", "size", "params", "throughput", "latency" })
        {
            var o = SearchObjective.Parse(text);
            Assert.Equal(0.3125, o.ToMetric(o.ToObjective(0.3125)), 15);
        }

        Assert.True(SearchObjective.Parse("latency").IsMeasured);
        Assert.False(SearchObjective.Parse("size").IsMeasured);
    }

    [Theory]
    [InlineData("speed")]
    [InlineData("accuracy")]
    [InlineData("accuracy:")]
    [InlineData("perplexity:")]
    [InlineData("size:int4")]
    [InlineData("params:fp16")]
    [InlineData("latency:1")]
    public void Unknown_objectives_and_bad_arguments_are_LNAS0530(string text)
    {
        var e = Assert.Throws<LlamaNasException>(() => SearchObjective.Parse(text));
        Assert.Equal(DiagnosticCodes.SearchObjectiveUnknown, e.Code);
        Assert.Equal("--objectives", e.Diagnostic.Location!.File);
        Assert.Contains("accuracy:<task>", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bare_accuracy_takes_the_default_task_and_an_explicit_task_wins()
    {
        Assert.Equal(new SearchObjective(ObjectiveKind.Accuracy, "arc_easy"), SearchObjective.Parse("accuracy", defaultTask: "arc_easy"));
        Assert.Equal(new SearchObjective(ObjectiveKind.AccuracyNorm, "hellaswag"), SearchObjective.Parse("accuracy_norm", defaultTask: "hellaswag"));
        Assert.Equal(new SearchObjective(ObjectiveKind.Accuracy, "mmlu"), SearchObjective.Parse("accuracy:mmlu", defaultTask: "arc_easy"));
        Assert.Equal(DiagnosticCodes.SearchObjectiveUnknown, Assert.Throws<LlamaNasException>(() => SearchObjective.Parse("accuracy:", defaultTask: "arc_easy")).Code);
        Assert.Contains("--task", Assert.Throws<LlamaNasException>(() => SearchObjective.Parse("accuracy")).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("size")]
    [InlineData("")]
    [InlineData("accuracy:arc_easy,size,params,latency")]
    [InlineData("size,params,size")]
    [InlineData("accuracy:arc_easy,accuracy:arc_easy")]
    public void Lists_need_two_or_three_distinct_objectives(string text)
    {
        Assert.Equal(DiagnosticCodes.SearchObjectiveCount, Assert.Throws<LlamaNasException>(() => SearchObjective.ParseList(text)).Code);
    }

    [Fact]
    public void Lists_keep_their_order()
    {
        Assert.Equal(
            [new SearchObjective(ObjectiveKind.Accuracy, "arc_easy"), new SearchObjective(ObjectiveKind.Size, "int8"), new SearchObjective(ObjectiveKind.Latency)],
            SearchObjective.ParseList("accuracy:arc_easy, size:int8 ,latency"));
        Assert.Equal(2, SearchObjective.ParseList("accuracy:arc_easy,accuracy:arc_challenge").Count);
    }
}
