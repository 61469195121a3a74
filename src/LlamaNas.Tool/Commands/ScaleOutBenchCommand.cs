using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using LlamaNas.Core.Search;
using LlamaNas.Pipeline.ScaleOut;
using LlamaNas.Pipeline.Search;
using LlamaNas.Tool.Search;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas bench scale-out &lt;model&gt; …</c>: the same search run in this process and sharded over 1, 2, …
/// worker processes, each from a fresh output and shared folder: wall time, speed-up over one worker, and whether the
/// results are byte-identical to the local run (the record in docs/SCALE-OUT.md).
/// </summary>
public static class ScaleOutBenchCommand
{
    public static Command Create()
    {
        var evaluator = new EvaluatorOptions();
        var evaluations = new Option<int>("--evaluations") { Description = "Budget of real evaluations of each run.", DefaultValueFactory = _ => 40 };
        var population = new Option<int>("--population") { Description = "Sub-networks per batch.", DefaultValueFactory = _ => 20 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the search." };
        var workers = new Option<string>("--worker-counts") { Description = "Comma-separated numbers of worker processes to time.", DefaultValueFactory = _ => "1,2" };
        var worker = new Option<string?>("--worker-command") { Description = "The shell words that start llamanas for a worker (default: this tool)." };
        var scratch = new Option<string>("--scratch") { Description = "Folder for the runs' outputs and shared folders (emptied first).", DefaultValueFactory = _ => "bench-scale-out" };
        var command = new Command("scale-out", "Time one search in this process and sharded over worker processes, and check that every run gives the same result.")
        {
            evaluations, population, seed, workers, worker, scratch,
        };
        evaluator.AddTo(command);
        command.SetAction((result, cancel) =>
        {
            var o = result.InvocationConfiguration.Output;
            var settings = evaluator.Read(result);
            var counts = SpaceOptions.Choices(result.GetValue(workers), "--worker-counts") ?? [];
            EvaluatorOptions.Require(counts.Count > 0 && counts.All(c => c >= 1), "--worker-counts", "needs positive numbers of workers");
            EvaluatorOptions.Require(result.GetValue(evaluations) >= 1 && result.GetValue(population) >= 2, "--evaluations and --population", "must be at least 1 and 2");
            var root = Path.GetFullPath(result.GetValue(scratch)!);
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }

            var options = new SearchOptions { Budget = result.GetValue(evaluations), PopulationSize = result.GetValue(population), Seed = result.GetValue(seed), ReferencePoint = [0] };
            (double Seconds, byte[] Pareto) Time(string name, ScaleOutOptions? scaleOut)
            {
                var sw = Stopwatch.StartNew();
                var output = Path.Combine(root, name);
                SearchRun.Execute(new SearchRequest { Evaluator = settings, Options = options, OutputDirectory = output, ScaleOut = scaleOut }, TextWriter.Null, cancel);
                return (sw.Elapsed.TotalSeconds, File.ReadAllBytes(Path.Combine(output, SearchOutputs.ParetoFile)));
            }

            o.WriteLine(Invariant($"search: {options.Budget} evaluations, population {options.PopulationSize}, seed {options.Seed}; objectives {string.Join(',', settings.Objectives.Select(x => x.Name))}; {Environment.ProcessorCount} cores"));
            o.WriteLine("| evaluation | workers | wall s | speed-up over 1 worker | pareto.json equal to local |");
            o.WriteLine("|---|---:|---:|---:|---|");
            var local = Time("local", null);
            o.WriteLine(Invariant($"| local (this process) | - | {local.Seconds:F1} | - | - |"));
            double? one = null;
            foreach (var n in counts)
            {
                var run = Time(Invariant($"processes-{n}"), new ScaleOutOptions
                {
                    Mode = ScaleOutMode.Processes,
                    Workers = n,
                    SharedDirectory = Path.Combine(root, Invariant($"shared-{n}")),
                    WorkerCommand = result.GetValue(worker) ?? "",
                });
                one ??= n == 1 ? run.Seconds : null;
                o.WriteLine(Invariant($"| processes | {n} | {run.Seconds:F1} | {(one is { } s ? (s / run.Seconds).ToString("F2", CultureInfo.InvariantCulture) + "×" : "-")} | {(run.Pareto.AsSpan().SequenceEqual(local.Pareto) ? "yes" : "NO")} |"));
            }

            return Task.FromResult(0);
        });
        return command;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
