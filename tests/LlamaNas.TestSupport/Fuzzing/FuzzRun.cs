using System.Diagnostics;
using System.Globalization;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.TestSupport.Fuzzing;

/// <summary>What one parser's fuzz run saw.</summary>
public sealed record FuzzReport(string Parser, int Cases, int Accepted, IReadOnlyDictionary<string, int> Codes, IReadOnlyList<string> Failures, TimeSpan Elapsed)
{
    /// <summary>One line for the test log and docs/RELIABILITY.md.</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"{Parser}: {Cases} cases in {Elapsed.TotalSeconds:F1} s, {Accepted} accepted, coded {string.Join(", ", Codes.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}×{c.Value}"))}");

    /// <summary>Throws with every failing seed (at most 20 shown) unless each case was accepted or a coded error.</summary>
    public FuzzReport EnsureClean()
    {
        if (Failures.Count > 0)
        {
            throw new InvalidOperationException($"{Parser}: {Failures.Count} of {Cases} cases ended in an internal error or hung:\n" + string.Join("\n", Failures.Take(20)));
        }

        return this;
    }
}

/// <summary>
/// Runs a parser over seeded mutations of a valid input. Every case must end in success or a coded
/// <see cref="LlamaNasException"/> within <see cref="CaseTimeout"/>: anything else is recorded with its seed and
/// mutation, so <c>new Mutator(seed).Mutate(input)</c> replays it.
/// </summary>
public static class FuzzRun
{
    /// <summary>Long enough for a case on a 2-core machine running every test assembly at once, short enough to catch a hang.</summary>
    public static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(30);

    /// <param name="parser">A name for reports.</param>
    /// <param name="input">The valid input every case mutates.</param>
    /// <param name="cases">Seeds 0 to cases - 1.</param>
    /// <param name="parse">Reads the mutated bytes (writing them where the parser looks); returns normally when accepted.</param>
    public static FuzzReport Run(string parser, byte[] input, int cases, Action<byte[]> parse) =>
        Run(parser, cases, seed => new Mutator(seed).Mutate(input), parse);

    /// <summary>As above with a format's own mutations: <paramref name="mutate"/> turns a seed into bytes and a description.</summary>
    public static FuzzReport Run(string parser, int cases, Func<int, (byte[] Bytes, string What)> mutate, Action<byte[]> parse)
    {
        ArgumentNullException.ThrowIfNull(mutate);
        ArgumentNullException.ThrowIfNull(parse);
        var codes = new Dictionary<string, int>(StringComparer.Ordinal);
        var failures = new List<string>();
        var accepted = 0;
        var clock = Stopwatch.StartNew();
        for (var seed = 0; seed < cases; seed++)
        {
            var (bytes, what) = mutate(seed);
            // A thread of its own: on the thread pool a case could wait for a thread behind other tests' blocking work
            // (a trivial parse once waited over 10 s that way on the 2-core CI machine) and be taken for a hang.
            var attempt = Task.Factory.StartNew(() => parse(bytes), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            try
            {
                if (!attempt.Wait(CaseTimeout))
                {
                    failures.Add($"seed {seed} ({what}): no result within {CaseTimeout.TotalSeconds} s");
                    continue;
                }

                accepted++;
            }
            catch (AggregateException e) when (e.InnerException is LlamaNasException coded)
            {
                codes[coded.Code] = codes.GetValueOrDefault(coded.Code) + 1;
            }
            catch (AggregateException e)
            {
                var inner = e.InnerException ?? e;
                failures.Add($"seed {seed} ({what}): internal error {inner.GetType().Name}: {inner.Message}\n{inner.StackTrace}");
            }
        }

        return new FuzzReport(parser, cases, accepted, codes, failures, clock.Elapsed);
    }
}
