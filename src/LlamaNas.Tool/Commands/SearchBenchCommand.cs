using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Search;
using LlamaNas.Pipeline.Search;
using LlamaNas.Tool.Search;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas bench search &lt;model&gt; …</c>: hypervolume of LINAS, NSGA-II and random search after given numbers
/// of real evaluations, on one real evaluator, averaged over seeds (the record in docs/BENCHMARKS.md).
/// </summary>
public static class SearchBenchCommand
{
    /// <summary>The most raw gene vectors <c>--exhaustive</c> enumerates.</summary>
    private const long MaxExhaustive = 1_000_000;

    public static Command Create()
    {
        var evaluator = new EvaluatorOptions();
        var algorithms = new Option<string>("--algorithms") { Description = "Comma-separated algorithms to compare.", DefaultValueFactory = _ => "linas,nsga2,random" };
        var budgets = new Option<string>("--budgets") { Description = "Comma-separated evaluation counts to report hypervolume at; the largest is every run's budget.", DefaultValueFactory = _ => "50,100,250" };
        var seeds = new Option<string>("--seeds") { Description = "Comma-separated search seeds.", DefaultValueFactory = _ => "0,1,2" };
        var population = new Option<int>("--population") { Description = "Population: the most sub-networks evaluated per batch.", DefaultValueFactory = _ => 50 };
        var inner = new Option<int>("--inner-generations") { Description = "LINAS: NSGA-II generations on predicted objectives per batch.", DefaultValueFactory = _ => 200 };
        var reference = new Option<string?>("--reference-point") { Description = "Hypervolume reference in minimised units (default as for search)." };
        var randomInit = new Option<bool>("--random-init") { Description = "The model argument is a folder with config.json and tokenizer files only: search a seeded random-init model of that shape, written to a temporary folder (shape-realistic timings without the weights)." };
        var exhaustive = new Option<bool>("--exhaustive") { Description = "Also evaluate every sub-network of a small space and report the hypervolume of its true Pareto front, and every result as a fraction of it." };
        var command = new Command("search", "Compare the hypervolume of LINAS, NSGA-II and random search at equal numbers of real evaluations.")
        {
            algorithms, budgets, seeds, population, inner, reference, exhaustive, randomInit,
        };
        evaluator.AddTo(command);
        command.SetAction(result =>
        {
            var o = result.InvocationConfiguration.Output;
            var settings = evaluator.Read(result);
            var counts = (SpaceOptions.Choices(result.GetValue(budgets), "--budgets") ?? []).Distinct().Order().ToList();
            var seedList = (SpaceOptions.Choices(result.GetValue(seeds), "--seeds") ?? []).Select(s => (ulong)s).ToList();
            var kinds = result.GetValue(algorithms)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => SearchCommand.ParseAlgorithm(a, "--algorithms")).Distinct().ToList();
            EvaluatorOptions.Require(counts.Count > 0 && counts[0] >= 1, "--budgets", "needs positive evaluation counts");
            EvaluatorOptions.Require(seedList.Count > 0 && kinds.Count > 0, "--seeds and --algorithms", "need at least one value each");
            EvaluatorOptions.Require(result.GetValue(population) >= 2 && result.GetValue(inner) >= 0, "--population and --inner-generations", "must be at least 2 and not negative");
            var explicitReference = EvaluatorOptions.Numbers(result.GetValue(reference), "--reference-point", settings.Objectives.Count);

            using var random = result.GetValue(randomInit) ? RandomModel.Write(settings.Model, settings.Dtype) : null;
            settings = random is null ? settings : settings with { Model = random.Path };
            using var loaded = settings.Load(space => EvaluatorOptions.Require(!result.GetValue(exhaustive) || space.GeneSpaceCount() <= MaxExhaustive, "--exhaustive", $"needs a space of at most {MaxExhaustive:N0} gene vectors"));
            var referencePoint = explicitReference ?? loaded.Evaluator.ReferencePoint();
            o.WriteLine(Invariant($"space: {loaded.Space.CanonicalCount():N0} sub-networks ({loaded.Space.Signature()}); objectives {string.Join(',', settings.Objectives.Select(x => x.Name))}; reference point [{string.Join(", ", referencePoint.Select(v => v.ToString("G6", CultureInfo.InvariantCulture)))}]; population {result.GetValue(population)}, inner generations {result.GetValue(inner)}, seeds {string.Join(',', seedList)}"));

            var cached = new CachedEvaluator(loaded.Evaluator);
            var hypervolumes = new Dictionary<(SearchAlgorithm, int), List<double>>();
            var overhead = kinds.ToDictionary(k => k, _ => 0.0);
            foreach (var kind in kinds)
            {
                foreach (var seed in seedList)
                {
                    var options = new SearchOptions { Algorithm = kind, Budget = counts[^1], PopulationSize = result.GetValue(population), InnerGenerations = result.GetValue(inner), Seed = seed, ReferencePoint = referencePoint };
                    var driver = SearchDriver.Create(loaded.Space, options);
                    var wall = Stopwatch.StartNew();
                    var measured = cached.Measuring.Elapsed;
                    driver.Run(cached.Evaluate);
                    overhead[kind] += (wall.Elapsed - (cached.Measuring.Elapsed - measured)).TotalSeconds;
                    var line = new StringBuilder(Invariant($"{Name(kind)} seed {seed}:"));
                    foreach (var n in counts)
                    {
                        var hv = Hypervolume.Compute(driver.Evaluations.Take(n).Select(e => e.Objectives), referencePoint);
                        (hypervolumes.TryGetValue((kind, n), out var list) ? list : hypervolumes[(kind, n)] = []).Add(hv);
                        line.Append(Invariant($" HV@{n} {hv:G5}"));
                    }

                    result.InvocationConfiguration.Error.WriteLine(line.ToString());
                }
            }

            o.WriteLine(Invariant($"| algorithm | {string.Join(" | ", counts.Select(n => $"HV@{n} mean ± sd (min–max)"))} | search overhead s/run |"));
            o.WriteLine($"|---|{string.Concat(counts.Select(_ => "---|"))}---:|");
            foreach (var kind in kinds)
            {
                o.WriteLine(Invariant($"| {Name(kind)} | {string.Join(" | ", counts.Select(n => Summary(hypervolumes[(kind, n)])))} | {overhead[kind] / seedList.Count:F1} |"));
            }

            o.WriteLine(Invariant($"{cached.Count} distinct sub-networks measured in {cached.Measuring.Elapsed.TotalSeconds:F0} s ({cached.Measuring.Elapsed.TotalSeconds / Math.Max(1, cached.Count):F3} s each); shared prefixes {(loaded.Evaluator.SharePrefixes ? "on" : "off")}: {cached.Blocks.Run:N0} block forwards per text batch, {cached.Blocks.Unshared:N0} candidate by candidate"));
            if (result.GetValue(exhaustive))
            {
                var all = cached.Evaluate(AllSubnetworks(loaded.Space));
                var best = Hypervolume.Compute(all, referencePoint);
                o.WriteLine(Invariant($"exhaustive: all {all.Length} sub-networks, true front of {Pareto.NonDominated(all).Length}, hypervolume {best:G5}; as a fraction of it:"));
                o.WriteLine(Invariant($"| algorithm | {string.Join(" | ", counts.Select(n => $"HV@{n} / optimum"))} |"));
                o.WriteLine($"|---|{string.Concat(counts.Select(_ => "---:|"))}");
                foreach (var kind in kinds)
                {
                    o.WriteLine(Invariant($"| {Name(kind)} | {string.Join(" | ", counts.Select(n => (hypervolumes[(kind, n)].Average() / best).ToString("P2", CultureInfo.InvariantCulture)))} |"));
                }
            }

            return 0;
        });
        return command;
    }

    /// <summary>Every distinct sub-network of <paramref name="space"/> (canonical genes), in odometer order.</summary>
    private static List<int[]> AllSubnetworks(SearchSpace space)
    {
        var seen = new HashSet<IReadOnlyList<int>>(GenesComparer.Instance);
        var all = new List<int[]>();
        var genes = new int[space.GeneCount];
        while (true)
        {
            var canonical = space.Canonicalize(genes);
            if (seen.Add(canonical))
            {
                all.Add(canonical);
            }

            var g = 0;
            while (g < genes.Length && genes[g] == space.UpperBound(g))
            {
                genes[g++] = 0;
            }

            if (g == genes.Length)
            {
                return all;
            }

            genes[g]++;
        }
    }

    private static string Name(SearchAlgorithm kind) => kind.ToString().ToLowerInvariant();

    private static string Summary(List<double> values)
    {
        var mean = values.Average();
        var sd = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return Invariant($"{mean:G5} ± {sd:G2} ({values.Min():G5}–{values.Max():G5})");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// One evaluator for every run of the benchmark: a sub-network measured once is never measured again (its
    /// objectives are the same whichever search asks), so a run costs its search overhead plus its new sub-networks.
    /// </summary>
    private sealed class CachedEvaluator(SubnetworkEvaluator evaluator)
    {
        private readonly Dictionary<IReadOnlyList<int>, double[]> _cache = new(GenesComparer.Instance);

        public Stopwatch Measuring { get; } = new();

        public int Count => _cache.Count;

        /// <summary>Block forwards the measured batches ran, and would have run candidate by candidate (with --share-prefixes).</summary>
        public (long Run, long Unshared) Blocks { get; private set; }

        /// <summary>The batch's new sub-networks are measured together, as a search measures its batches.</summary>
        public double[][] Evaluate(IReadOnlyList<int[]> batch)
        {
            var seen = new HashSet<IReadOnlyList<int>>(GenesComparer.Instance);
            var fresh = batch.Where(g => !_cache.ContainsKey(g) && seen.Add(g)).ToList();
            if (fresh.Count > 0)
            {
                Measuring.Start();
                var measured = evaluator.Evaluate(fresh);
                Measuring.Stop();
                for (var i = 0; i < fresh.Count; i++)
                {
                    _cache[fresh[i]] = [.. measured[i].Objectives];
                }

                if (evaluator.SharePrefixes && fresh.Count > 1)
                {
                    var tree = LayerPrefixTree.Build([.. measured.Select(m => m.Architecture)]);
                    Blocks = (Blocks.Run + tree.Blocks, Blocks.Unshared + tree.UnsharedBlocks);
                }
                else
                {
                    var depths = measured.Sum(m => (long)m.Architecture.Depth);
                    Blocks = (Blocks.Run + depths, Blocks.Unshared + depths);
                }
            }

            return [.. batch.Select(g => _cache[g])];
        }
    }
}

/// <summary>A seeded random-init model of a config's shape in a temporary folder (config, weights, tokenizer), deleted on dispose.</summary>
internal sealed class RandomModel : IDisposable
{
    private RandomModel(string path) => Path = path;

    public string Path { get; }

    /// <param name="source">A folder with config.json and the tokenizer's files.</param>
    public static RandomModel Write(string source, TorchSharp.torch.ScalarType dtype)
    {
        Engine.Native.TorchRuntime.EnsureInitialized();
        var config = Core.Models.LlamaConfig.Load(System.IO.Path.Combine(source, "config.json"));
        var folder = new RandomModel(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "llamanas-random-" + Guid.NewGuid().ToString("N")));
        using var model = Engine.Modeling.LlamaForCausalLM.CreateRandom(config, dtype, seed: 0);
        Engine.Export.ModelExporter.Export(model, source, folder.Path, new Engine.Export.ExportOptions { DType = Engine.Export.ModelExporter.ParseDType(Engine.Modeling.ComputeDtype.Name(dtype)) });
        return folder;
    }

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
