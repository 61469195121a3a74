using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;

namespace LlamaNas.Core.Tests.Search;

public class SearchDriverTests
{
    private static readonly SearchSpace Nas = TestSpaces.LlamaNas7B;

    /// <summary>Importance of each layer's full MLP: uneven, so which layers keep it matters.</summary>
    private static readonly double[] Importance = [.. Enumerable.Range(0, 32).Select(l => Math.Pow((l * 13 % 32) / 31.0, 3))];

    /// <summary>
    /// A synthetic two-objective problem on the real LLaMA-NAS space: billions of parameters, and an "error" that
    /// falls nonlinearly with the importance kept (depth, and full MLPs on important layers).
    /// </summary>
    private static double[][] Synthetic(IReadOnlyList<int[]> batch) => [.. batch.Select(g =>
    {
        var arch = Nas.Decode(g);
        var kept = Enumerable.Range(0, arch.Depth).Sum(l => (0.2 + Importance[l]) * (arch.IntermediateSizes[l] == 11008 ? 1 : 0.3));
        var total = Importance.Sum(w => 0.2 + w);
        return new[] { Nas.ParameterCount(arch) / 1e9, 1 - (0.7 * Math.Pow(kept / total, 2)) };
    })];

    private static SearchOptions Options(SearchAlgorithm algorithm, ulong seed, int budget = 100) => new()
    {
        Algorithm = algorithm,
        PopulationSize = 20,
        Budget = budget,
        InnerGenerations = 60,
        Seed = seed,
        ReferencePoint = [7.0, 1.0],
    };

    [Theory]
    [InlineData(SearchAlgorithm.Linas)]
    [InlineData(SearchAlgorithm.Nsga2)]
    [InlineData(SearchAlgorithm.Random)]
    public void With_extremes_the_first_batch_holds_the_whole_network_and_the_smallest_and_stays_full(SearchAlgorithm algorithm)
    {
        var largest = Nas.Canonicalize([.. Enumerable.Range(0, Nas.GeneCount).Select(Nas.UpperBound)]);
        var smallest = Nas.Canonicalize(new int[Nas.GeneCount]);
        Assert.Equal(32, Nas.Decode(largest).Depth);
        var with = SearchDriver.Create(Nas, Options(algorithm, 4) with { IncludeExtremes = true });
        var without = SearchDriver.Create(Nas, Options(algorithm, 4));
        with.Step(Synthetic);
        without.Step(Synthetic);
        var first = with.Evaluations.Select(e => e.Genes).ToList();
        Assert.Equal(20, first.Count);
        Assert.Equal(largest, first[0]);
        Assert.Equal(smallest, first[1]);
        Assert.DoesNotContain(without.Evaluations, e => e.Genes.SequenceEqual(largest));

        // Later batches propose as usual; the extremes are never proposed twice.
        with.Run(Synthetic);
        Assert.Single(with.Evaluations, e => e.Genes.SequenceEqual(largest));
        Assert.Equal(100, with.Evaluations.Count);
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public void Linas_reaches_a_higher_hypervolume_than_random_search_and_nsga2_at_100_evaluations(ulong seed)
    {
        double FinalHypervolume(SearchAlgorithm algorithm, out SearchDriver driver)
        {
            driver = SearchDriver.Create(Nas, Options(algorithm, seed));
            driver.Run(Synthetic);
            Assert.Equal(100, driver.Evaluations.Count);
            return driver.History[^1].Hypervolume;
        }

        // Measured: LINAS 1.14 / 1.29 / 1.26, random 1.00 / 0.99 / 1.03, NSGA-II 0.96 / 1.08 / 1.12 (ideal 1.44).
        var linas = FinalHypervolume(SearchAlgorithm.Linas, out var driver);
        var random = FinalHypervolume(SearchAlgorithm.Random, out _);
        var nsga2 = FinalHypervolume(SearchAlgorithm.Nsga2, out _);
        Assert.True(linas > 1.1 * random, $"LINAS {linas} vs random {random}");
        Assert.True(linas > 1.03 * nsga2, $"LINAS {linas} vs NSGA-II {nsga2}");

        // Every guided batch records the predictor chosen per objective; parameters are linear in the masked
        // one-hot features, so Ridge wins that objective and predicts it almost exactly.
        Assert.Null(driver.History[0].Predictors);
        Assert.All(driver.History.Skip(1), h => Assert.Equal(2, h.Predictors!.Count));
        var parameters = driver.History[^1].Predictors![0];
        Assert.StartsWith("ridge", parameters.Name, StringComparison.Ordinal);
        Assert.True(parameters.Mape < 0.01, $"parameter MAPE {parameters.Mape}");
    }

    [Theory]
    [InlineData(SearchAlgorithm.Linas)]
    [InlineData(SearchAlgorithm.Nsga2)]
    [InlineData(SearchAlgorithm.Random)]
    public void A_resumed_search_ends_byte_for_byte_like_an_uninterrupted_one(SearchAlgorithm algorithm)
    {
        var options = Options(algorithm, 7, budget: 90);
        var whole = SearchDriver.Create(Nas, options);
        whole.Run(Synthetic);

        var first = SearchDriver.Create(Nas, options);
        first.Run(Synthetic, maxBatches: 2);
        var saved = first.SaveState().ToJson();
        var resumed = SearchDriver.Create(Nas, options, SearchState.FromJson(saved));
        resumed.Run(Synthetic);

        Assert.Equal(whole.SaveState().ToJson(), resumed.SaveState().ToJson());
        Assert.Equal(5, whole.Batches); // 20 + 20 + 20 + 20 + 10: the last batch stops at the budget
    }

    [Theory]
    [InlineData(SearchAlgorithm.Linas)]
    [InlineData(SearchAlgorithm.Nsga2)]
    [InlineData(SearchAlgorithm.Random)]
    public void Batches_respect_population_and_budget_and_never_repeat_a_sub_network(SearchAlgorithm algorithm)
    {
        var driver = SearchDriver.Create(Nas, Options(algorithm, 3, budget: 70));
        var checkpoints = new List<SearchState>();
        driver.Run(Synthetic, afterBatch: checkpoints.Add);

        Assert.Equal(70, driver.Evaluations.Count);
        Assert.True(driver.IsFinished);
        Assert.Equal([20, 20, 20, 10], driver.Evaluations.GroupBy(e => e.Batch).Select(g => g.Count()));
        Assert.Equal(70, driver.Evaluations.Select(e => e.Genes).Distinct(GenesComparer.Instance).Count());
        Assert.All(driver.Evaluations, e => Assert.Equal(Nas.Canonicalize(e.Genes), e.Genes));
        Assert.Equal([20, 40, 60, 70], driver.History.Select(h => h.Evaluations));
        Assert.Equal(driver.History.Select(h => h.Hypervolume).Order(), driver.History.Select(h => h.Hypervolume));
        Assert.Equal(4, checkpoints.Count);
        Assert.False(driver.Step(Synthetic));
        var front = driver.ParetoFront();
        Assert.DoesNotContain(driver.Evaluations, e => front.Any(f => Pareto.Dominates(e.Objectives, f.Objectives)));
    }

    [Fact]
    public void A_decoding_evaluator_sees_the_sub_networks_of_the_canonical_genes()
    {
        var seen = new List<SubnetworkArchitecture>();
        var driver = SearchDriver.Create(Nas, Options(SearchAlgorithm.Random, 8, budget: 20));
        driver.Run(Nas.DecodingEvaluator(archs =>
        {
            seen.AddRange(archs);
            return [.. archs.Select(a => new[] { Nas.ParameterCount(a) / 1e9, 1.0 / a.Depth })];
        }));

        Assert.Equal(driver.Evaluations.Select(e => Nas.Decode(e.Genes)), seen);
        Assert.All(driver.Evaluations, e => Assert.Equal(1.0 / Nas.Decode(e.Genes).Depth, e.Objectives[1]));
    }

    [Fact]
    public void A_small_space_is_exhausted_before_the_budget()
    {
        // Depth {4, 6} with no other searched dimension: two sub-networks.
        var tiny = SearchSpace.Create(TestSpaces.SmallGqa, new SearchSpaceSpec { Depths = [4, 6] });
        foreach (var algorithm in Enum.GetValues<SearchAlgorithm>())
        {
            var driver = SearchDriver.Create(tiny, Options(algorithm, 1) with { ReferencePoint = [10] });
            driver.Run(batch => [.. batch.Select(g => new double[] { g[0] })]);
            Assert.Equal(2, driver.Evaluations.Count);
            Assert.True(driver.Exhausted);
        }
    }

    [Fact]
    public void Bad_evaluator_results_are_coded_errors()
    {
        LlamaNasException Fails(Func<IReadOnlyList<int[]>, double[][]> evaluate) =>
            Assert.Throws<LlamaNasException>(() => SearchDriver.Create(Nas, Options(SearchAlgorithm.Random, 1)).Step(evaluate));

        Assert.Equal(DiagnosticCodes.SearchEvaluatorResultInvalid, Fails(b => [.. Synthetic(b).Skip(1)]).Code);
        Assert.Equal(DiagnosticCodes.SearchEvaluatorResultInvalid, Fails(b => [.. b.Select(_ => new double[] { 1 })]).Code);
        Assert.Equal(DiagnosticCodes.SearchEvaluatorResultInvalid, Fails(b => [.. b.Select(_ => new[] { 1, double.NaN })]).Code);
    }

    [Fact]
    public void Resuming_with_other_settings_or_a_broken_state_is_a_coded_error()
    {
        var driver = SearchDriver.Create(Nas, Options(SearchAlgorithm.Random, 1));
        driver.Step(Synthetic);
        var state = driver.SaveState();

        var otherSeed = Assert.Throws<LlamaNasException>(() => SearchDriver.Create(Nas, Options(SearchAlgorithm.Random, 2), state));
        Assert.Equal(DiagnosticCodes.SearchStateMismatch, otherSeed.Code);
        var otherSpace = SearchSpace.Create(TestSpaces.Llama2_7B, new SearchSpaceSpec { Depths = [28, 32], IntermediateSizes = [5504, 11008] });
        Assert.Equal(DiagnosticCodes.SearchStateMismatch, Assert.Throws<LlamaNasException>(() => SearchDriver.Create(otherSpace, Options(SearchAlgorithm.Random, 1), state)).Code);

        Assert.Equal(DiagnosticCodes.SearchStateInvalid, Assert.Throws<LlamaNasException>(() => SearchState.FromJson("{ not json", "state.json")).Code);
        Assert.Equal(DiagnosticCodes.SearchStateInvalid, Assert.Throws<LlamaNasException>(() => SearchState.FromJson(state.ToJson().Replace("\"format\": 1", "\"format\": 9", StringComparison.Ordinal))).Code);
        var zeroRng = state with { Rng = ["0", "0", "0", "0"] };
        Assert.Equal(DiagnosticCodes.SearchStateInvalid, Assert.Throws<LlamaNasException>(() => SearchDriver.Create(Nas, Options(SearchAlgorithm.Random, 1), zeroRng)).Code);
        Assert.Equal(DiagnosticCodes.SearchOptionsInvalid, Assert.Throws<LlamaNasException>(() => SearchDriver.Create(Nas, Options(SearchAlgorithm.Random, 1) with { PopulationSize = 1 })).Code);
    }

    [Fact]
    public void State_survives_a_save_and_load_through_a_file()
    {
        var driver = SearchDriver.Create(Nas, Options(SearchAlgorithm.Nsga2, 5, budget: 40));
        driver.Run(Synthetic);
        var path = Path.Combine(Path.GetTempPath(), $"llamanas-search-{Guid.NewGuid():N}.json");
        try
        {
            driver.SaveState().Save(path);
            Assert.False(File.Exists(path + ".tmp"));
            var loaded = SearchState.Load(path);
            Assert.Equal(driver.SaveState().ToJson(), loaded.ToJson());
            Assert.Contains(loaded.Population!, p => double.IsPositiveInfinity(p.Crowding));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
