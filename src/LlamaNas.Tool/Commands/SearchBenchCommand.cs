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
        var compareSharing = new Option<bool>("--compare-sharing") { Description = "Measure every batch twice, with shared prefixes and one sub-network at a time (alternating which goes first), check that both give the same objectives, and report the time of each per batch." };
        var command = new Command("search", "Compare the hypervolume of LINAS, NSGA-II and random search at equal numbers of real evaluations.")
        {
            algorithms, budgets, seeds, population, inner, reference, exhaustive, randomInit, compareSharing,
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

            var compare = result.GetValue(compareSharing);
            var cached = compare
                ? new CachedEvaluator(loaded.Evaluator.WithSharePrefixes(true), loaded.Evaluator.WithSharePrefixes(false), result.InvocationConfiguration.Error)
                : new CachedEvaluator(loaded.Evaluator, null, result.InvocationConfiguration.Error);
            var hypervolumes = new Dictionary<(SearchAlgorithm, int), List<double>>();
            var overhead = kinds.ToDictionary(k => k, _ => 0.0);
            foreach (var kind in kinds)
            {
                foreach (var seed in seedList)
                {
                    var options = new SearchOptions { Algorithm = kind, Budget = counts[^1], PopulationSize = result.GetValue(population), InnerGenerations = result.GetValue(inner), Seed = seed, ReferencePoint = referencePoint };
                    var driver = SearchDriver.Create(loaded.Space, options);
                    var wall = Stopwatch.StartNew();
                    var measured = cached.Measuring.Elapsed + cached.MeasuringOneByOne.Elapsed;
                    cached.StartRun(Invariant($"{Name(kind)} seed {seed}"));
                    driver.Run(cached.Evaluate);
                    overhead[kind] += (wall.Elapsed - (cached.Measuring.Elapsed + cached.MeasuringOneByOne.Elapsed - measured)).TotalSeconds;
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

            o.WriteLine(Invariant($"{cached.Count} distinct sub-networks measured in {cached.Measuring.Elapsed.TotalSeconds:F0} s ({cached.Measuring.Elapsed.TotalSeconds / Math.Max(1, cached.Count):F3} s each); shared prefixes {(cached.Sharing ? "on" : "off")}: {cached.Blocks.Run:N0} block forwards per text batch, {cached.Blocks.Unshared:N0} candidate by candidate"));
            if (compare)
            {
                WriteSharingTable(o, cached.Batches);
                if (cached.Mismatches > 0)
                {
                    result.InvocationConfiguration.Error.WriteLine(Invariant($"llamanas: {cached.Mismatches} sub-network(s) got different objectives with shared prefixes than one at a time (listed above)."));
                    return 1;
                }
            }
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
    /// Per measured batch: shared and one-by-one seconds per sub-network and their ratio, then the totals of the runs'
    /// first batches (a random initial population), of the later (guided) batches and of all.
    /// </summary>
    private static void WriteSharingTable(TextWriter o, IReadOnlyList<BatchTiming> batches)
    {
        o.WriteLine("| run | batch | new sub-networks | shared s/sub-network | one at a time s/sub-network | shared ÷ one at a time | block forwards shared ÷ one at a time | attention halves shared ÷ one at a time |");
        o.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var b in batches)
        {
            o.WriteLine(Row(b.Run, b.Index.ToString(CultureInfo.InvariantCulture), [b]));
        }

        o.WriteLine(Row("**first batches**", "", [.. batches.Where(b => b.Index == 1)]));
        o.WriteLine(Row("**later batches**", "", [.. batches.Where(b => b.Index > 1)]));
        o.WriteLine(Row("**all**", "", batches));

        static string Row(string run, string index, IReadOnlyList<BatchTiming> rows)
        {
            if (rows.Count == 0)
            {
                return $"| {run} | {index} | 0 | | | | | |";
            }

            var n = rows.Sum(r => r.Count);
            double shared = rows.Sum(r => r.SharedSeconds), alone = rows.Sum(r => r.OneByOneSeconds);
            long blocks = rows.Sum(r => r.BlocksRun), attention = rows.Sum(r => r.AttentionRun), unshared = rows.Sum(r => r.BlocksUnshared);
            return Invariant($"| {run} | {index} | {n} | {shared / n:F3} | {alone / n:F3} | {shared / alone:F2} | {(double)blocks / unshared:F2} | {(double)attention / unshared:F2} |");
        }
    }

    /// <summary>One measured batch of <see cref="CachedEvaluator"/>: its new sub-networks and the time each way.</summary>
    private sealed record BatchTiming(string Run, int Index, int Count, double SharedSeconds, double OneByOneSeconds, long BlocksRun, long AttentionRun, long BlocksUnshared);

    /// <summary>
    /// One evaluator for every run of the benchmark: a sub-network measured once is never measured again (its
    /// objectives are the same whichever search asks), so a run costs its search overhead plus its new sub-networks.
    /// With a second, one-at-a-time evaluator every batch is measured whole, both ways, and the objectives compared.
    /// </summary>
    private sealed class CachedEvaluator(SubnetworkEvaluator evaluator, SubnetworkEvaluator? oneByOne, TextWriter log)
    {
        private readonly Dictionary<IReadOnlyList<int>, double[]> _cache = new(GenesComparer.Instance);
        private readonly List<BatchTiming> _batches = [];
        private string _run = "";
        private int _index;

        public Stopwatch Measuring { get; } = new();

        public Stopwatch MeasuringOneByOne { get; } = new();

        public bool Sharing => evaluator.SharePrefixes;

        public int Count => _cache.Count;

        /// <summary>Sub-networks whose objectives differed between the two ways of measuring.</summary>
        public int Mismatches { get; private set; }

        public IReadOnlyList<BatchTiming> Batches => _batches;

        /// <summary>Block forwards the measured batches ran, and would have run candidate by candidate (with --share-prefixes).</summary>
        public (long Run, long Unshared) Blocks { get; private set; }

        /// <summary>Names the batches measured from now on (one search run) and numbers them from 1.</summary>
        public void StartRun(string name) => (_run, _index) = (name, 0);

        /// <summary>The batch's new sub-networks are measured together, as a search measures its batches.</summary>
        public double[][] Evaluate(IReadOnlyList<int[]> batch)
        {
            _index++;
            var seen = new HashSet<IReadOnlyList<int>>(GenesComparer.Instance);
            // Comparing, a batch is measured whole, as the search would: sub-networks another run measured share too.
            var fresh = batch.Where(g => (oneByOne is not null || !_cache.ContainsKey(g)) && seen.Add(g)).ToList();
            if (fresh.Count > 0 && oneByOne is not null && _batches.Count == 0)
            {
                // The first measurement of a process pays one-off costs (code generation, first touches of memory)
                // that would otherwise land on whichever way goes first.
                evaluator.Evaluate([fresh[0]]);
            }

            if (fresh.Count > 0)
            {
                // Alternating which way goes first spreads any warm-up or drift of the machine over both.
                var sharedFirst = _batches.Count % 2 == 0;
                (IReadOnlyList<SubnetworkEvaluation> Results, double Seconds)? alone = null;
                if (oneByOne is not null && !sharedFirst)
                {
                    alone = Timed(MeasuringOneByOne, () => oneByOne.Evaluate(fresh));
                }

                var (measured, seconds) = Timed(Measuring, () => evaluator.Evaluate(fresh));
                if (oneByOne is not null && sharedFirst)
                {
                    alone = Timed(MeasuringOneByOne, () => oneByOne.Evaluate(fresh));
                }

                for (var i = 0; i < fresh.Count; i++)
                {
                    _cache[fresh[i]] = [.. measured[i].Objectives];
                    if (alone is { } a && !a.Results[i].Objectives.SequenceEqual(measured[i].Objectives))
                    {
                        Mismatches++;
                        log.WriteLine(Invariant($"mismatch: [{string.Join(",", fresh[i])}] shared [{Values(measured[i])}], one at a time [{Values(a.Results[i])}]"));
                    }
                }

                var depths = measured.Sum(m => (long)m.Architecture.Depth);
                var tree = evaluator.SharePrefixes && fresh.Count > 1 ? LayerPrefixTree.Build([.. measured.Select(m => m.Architecture)]) : null;
                var blocks = tree?.Blocks ?? depths;
                Blocks = (Blocks.Run + blocks, Blocks.Unshared + depths);
                _batches.Add(new BatchTiming(_run, _index, fresh.Count, seconds, alone?.Seconds ?? 0, blocks, tree?.AttentionBlocks ?? depths, depths));
            }

            return [.. batch.Select(g => _cache[g])];
        }

        private static string Values(SubnetworkEvaluation e) => string.Join(", ", e.Objectives.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

        /// <summary><paramref name="measure"/>'s result and seconds, also added to <paramref name="total"/>.</summary>
        private static (T Value, double Seconds) Timed<T>(Stopwatch total, Func<T> measure)
        {
            var start = total.Elapsed;
            total.Start();
            var value = measure();
            total.Stop();
            return (value, (total.Elapsed - start).TotalSeconds);
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
