using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.Randomness;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Search;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;

namespace LlamaNas.Engine.Tests.Search;

public sealed class SubnetworkEvaluatorTests(StoriesModel stories) : IClassFixture<StoriesModel>
{
    /// <summary>8 short ARC-Easy items (short prompts: quick to score).</summary>
    private static readonly EvaluationTask Arc = LoadArc();

    private static readonly IReadOnlyList<string> HeldOut = [File.ReadAllText(SharedData.Path("data", "tinystories", "valid-head-a.txt"))[..3000]];

    private readonly LlamaForCausalLM _model = stories.Model;
    private readonly ITextTokenizer _tokenizer = stories.Tokenizer;

    // Depth, per-layer MLP width and per-layer heads (whole KV groups of 2), so sub-networks differ in every sliced dimension.
    private readonly SearchSpace _space = SearchSpace.Create(stories.Model.Config, new SearchSpaceSpec { Depths = [3, 4, 5], IntermediateSizes = [43, 86, 172], AttentionHeads = [4, 8] });
    private readonly EvaluationTask _task = Arc;
    private readonly IReadOnlyList<string> _text = HeldOut;

    private static EvaluationTask LoadArc()
    {
        var arc = TaskLoader.Load("arc_easy", SharedData.Path("data"), TaskLoadOptions.Default);
        return arc with { Items = TaskLoader.Subsample([.. arc.Items.Where(i => i.Requests[0].Context.Length < 200)], 8, seed: 5) };
    }

    private ObjectiveResources Resources => new()
    {
        Model = _model,
        Tokenizer = _tokenizer,
        Space = _space,
        Tasks = new Dictionary<string, EvaluationTask> { ["arc_easy"] = _task },
        Texts = new Dictionary<string, IReadOnlyList<string>> { ["valid.txt"] = _text },
        PerplexityTokens = 300,
        Speed = new SpeedOptions { SequenceLength = 16, Warmup = 0, Repetitions = 1, DecodeSteps = 2 },
    };

    private SubnetworkEvaluator Evaluator(params string[] objectives) => new(
        _model,
        _space,
        [.. objectives.Select(o => SubnetworkObjective.Create(SearchObjective.Parse(o), Resources))],
        SizeModel.Fp32);

    [Fact]
    public void Each_objective_equals_a_direct_evaluation_of_the_extracted_sub_network()
    {
        var evaluator = Evaluator("accuracy:arc_easy", "accuracy_norm:arc_easy", "perplexity:valid.txt", "size:fp32", "size:int8", "params");
        var rng = new Xoshiro256StarStar(11);
        var perplexityText = new PerplexityEvaluator(_model, _tokenizer).Tokenize("valid.txt", _text, 300);
        Assert.Equal(300, perplexityText.Tokens);
        for (var i = 0; i < 3; i++)
        {
            var genes = SearchSampling.Random(_space, rng);
            var e = evaluator.Evaluate(genes);
            Assert.Equal(_space.Canonicalize(genes), e.Genes);
            Assert.Equal(_space.Decode(genes), e.Architecture);
            Assert.Equal(_model.FullArchitecture, _model.ActiveArchitecture);

            using var small = _model.ExtractSubnetwork(e.Architecture);
            var direct = TaskEvaluator.Evaluate(new LoglikelihoodScorer(small, _tokenizer), _task);
            Assert.Equal(direct.Acc.Value, e.Metrics[0]);
            Assert.Equal(direct.AccNorm!.Value, e.Metrics[1]);
            var ppl = new PerplexityEvaluator(small, _tokenizer).Evaluate(perplexityText).TokenPerplexity;
            Assert.Equal(ppl, e.Metrics[2], ppl * 1e-5);
            Assert.Equal(small.ParameterCount() * 4 / 1e9, e.Metrics[3], 1e-15);
            Assert.Equal(small.ParameterCount(), e.Metrics[5]);
            Assert.Equal(small.ParameterCount(), e.Parameters);
            Assert.Equal(small.ParameterCount() * 4, e.SizeBytes);
            Assert.True(e.Metrics[4] < e.Metrics[3] / 2, "INT8 decoder linears store under half the fp32 bytes");

            // Minimised: accuracies negated, perplexity as its logarithm, sizes as they are.
            Assert.Equal([-e.Metrics[0], -e.Metrics[1], Math.Log(e.Metrics[2]), e.Metrics[3], e.Metrics[4], e.Metrics[5]], e.Objectives);
            Assert.True(e.Seconds > 0);

            // Rebuilt from the saved objectives, an evaluation gives back the same metrics.
            var again = evaluator.Describe(new EvaluationRecord(0, e.Genes, e.Objectives));
            Assert.Equal(e.Metrics[2], again.Metrics[2], e.Metrics[2] * 1e-14);
            Assert.Equal(e.Metrics.Where((_, k) => k != 2), again.Metrics.Where((_, k) => k != 2));
            Assert.Null(again.Seconds);
        }
    }

    [Fact]
    public void A_llama_cpp_perplexity_objective_measures_what_the_llama_cpp_protocol_gives_the_sub_network()
    {
        var resources = Resources with { PerplexityTokens = 0, Perplexity = new PerplexityOptions { Protocol = PerplexityProtocol.LlamaCpp, Context = 64 } };
        var evaluator = new SubnetworkEvaluator(_model, _space, [SubnetworkObjective.Create(SearchObjective.Parse("perplexity:valid.txt"), resources)], SizeModel.Fp32);
        var genes = SearchSampling.Random(_space, new Xoshiro256StarStar(3));
        var e = evaluator.Evaluate(genes);

        using var small = _model.ExtractSubnetwork(e.Architecture);
        var direct = new PerplexityEvaluator(small, _tokenizer).EvaluateLlamaCpp("valid.txt", _text[0], 64);
        Assert.Equal(direct.TokenPerplexity, e.Metrics[0], direct.TokenPerplexity * 1e-5);

        // A text under two chunks is refused when the objective is created, before any evaluation.
        var tooLong = resources with { Perplexity = new PerplexityOptions { Protocol = PerplexityProtocol.LlamaCpp, Context = 4096 } };
        var error = Assert.Throws<LlamaNasException>(() => SubnetworkObjective.Create(SearchObjective.Parse("perplexity:valid.txt"), tooLong));
        Assert.Equal(DiagnosticCodes.EvalPerplexityTextTooShort, error.Code);
    }

    [Fact]
    public void A_batch_measured_with_shared_prefixes_gives_the_metrics_of_one_by_one()
    {
        var objectives = new[] { "perplexity:valid.txt", "accuracy:arc_easy", "params" }.Select(o => SubnetworkObjective.Create(SearchObjective.Parse(o), Resources)).ToList();
        var shared = new SubnetworkEvaluator(_model, _space, objectives, SizeModel.Fp32);
        var alone = new SubnetworkEvaluator(_model, _space, objectives, SizeModel.Fp32) { SharePrefixes = false };
        Assert.True(shared.SharePrefixes);
        var rng = new Xoshiro256StarStar(21);
        var batch = Enumerable.Range(0, 8).Select(_ => SearchSampling.Random(_space, rng)).ToList();
        batch.Add(batch[0]);

        var seen = new List<SubnetworkEvaluation>();
        var together = shared.Evaluate(batch, seen.Add);
        var oneByOne = alone.Evaluate(batch);
        Assert.Equal(together, seen);
        Assert.Equal(oneByOne.Select(e => e.Metrics), together.Select(e => e.Metrics));
        Assert.Equal(oneByOne.Select(e => e.Genes), together.Select(e => e.Genes));
        Assert.All(together, e => Assert.True(e.Seconds > 0));
        Assert.Equal(_model.FullArchitecture, _model.ActiveArchitecture);
    }

    [Fact]
    public void Default_reference_point_and_the_signs_of_measured_objectives()
    {
        var evaluator = Evaluator("accuracy:arc_easy", "perplexity:valid.txt", "size:fp32", "throughput", "latency");
        var reference = evaluator.ReferencePoint();
        var fullSize = _space.SizeBytes(_model.FullArchitecture, SizeModel.Fp32) / 1e9;
        Assert.Equal([0, Math.Log(512), 1.1 * fullSize, 0], reference.Take(4));
        Assert.True(reference[4] > 0);
        Assert.Equal(_model.FullArchitecture, _model.ActiveArchitecture);

        var smallest = evaluator.Evaluate(new int[_space.GeneCount]);
        Assert.True(smallest.Metrics[3] > 0 && smallest.Metrics[4] > 0);
        Assert.Equal(-smallest.Metrics[3], smallest.Objectives[3]);
        Assert.Equal(smallest.Metrics[4], smallest.Objectives[4]);
        Assert.True(smallest.Objectives[2] < reference[2]);

        // The whole model lies inside the reference box in the deterministic objectives (its accuracy may be 0 on 8 items).
        var full = evaluator.Evaluate([.. _space.Genes.Select(g => g.Choices.Count - 1)]);
        Assert.Equal(_model.FullArchitecture, full.Architecture);
        Assert.True(full.Objectives[1] < reference[1] && full.Objectives[2] < reference[2]);
    }

    [Fact]
    public void Evaluating_leaves_no_tensor_alive()
    {
        var evaluator = Evaluator("accuracy:arc_easy", "perplexity:valid.txt", "size");
        var genes = SearchSampling.Random(_space, new Xoshiro256StarStar(3));
        TorchTest.AssertNoLeaks(() => evaluator.Evaluate(genes));
    }

    [Fact]
    public void Objectives_without_usable_data_are_coded_errors()
    {
        Assert.Equal(DiagnosticCodes.SearchObjectiveDataInvalid, Assert.Throws<LlamaNasException>(() => Evaluator("accuracy:hellaswag")).Code);
        Assert.Equal(DiagnosticCodes.SearchObjectiveDataInvalid, Assert.Throws<LlamaNasException>(() => Evaluator("perplexity:other.txt")).Code);
        var winogrande = new EvaluationTask("winogrande", _task.Items, ReportsAccNorm: false, 0, "test");
        var resources = Resources with { Tasks = new Dictionary<string, EvaluationTask> { ["winogrande"] = winogrande } };
        Assert.Equal(DiagnosticCodes.SearchObjectiveDataInvalid, Assert.Throws<LlamaNasException>(() => SubnetworkObjective.Create(SearchObjective.Parse("accuracy_norm:winogrande"), resources)).Code);
        var empty = Resources with { Texts = new Dictionary<string, IReadOnlyList<string>> { ["valid.txt"] = [] } };
        Assert.Equal(DiagnosticCodes.SearchObjectiveDataInvalid, Assert.Throws<LlamaNasException>(() => SubnetworkObjective.Create(SearchObjective.Parse("perplexity:valid.txt"), empty)).Code);
    }
}
