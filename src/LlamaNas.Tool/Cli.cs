using System.CommandLine;
using System.CommandLine.Invocation;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Hub;
using LlamaNas.Engine.Native;
using LlamaNas.Tool.Commands;

namespace LlamaNas.Tool;

/// <summary>Builds the command tree and turns coded failures into canonical diagnostics on stderr.</summary>
public static class Cli
{
    /// <summary>Applies to every verb: libtorch's intra-op thread count.</summary>
    private static readonly Option<int?> Threads = new("--threads") { Description = "libtorch threads (default: one per core; 1 is often faster for tiny models or on a busy machine).", Recursive = true };

    /// <summary>
    /// A verb's model argument: a folder as it is, else a hub id (<c>org/name[@revision]</c>) resolved to its snapshot in
    /// the hub cache, downloading what is missing (progress on stderr, so stdout stays the verb's own output).
    /// </summary>
    internal static string Model(string model) => HubModels.ResolveIfHubId(model, Console.Error.WriteLine)?.Directory ?? model;

    /// <summary>
    /// How long Ctrl+C (SIGINT, SIGTERM) waits for a verb to wind down through its cancellation token (save a checkpoint,
    /// cancel submitted jobs) before the process ends anyway with code 130.
    /// </summary>
    private static readonly TimeSpan TerminationGrace = TimeSpan.FromSeconds(30);

    /// <summary>The exit code of a verb stopped by Ctrl+C (128 + SIGINT).</summary>
    public const int CancelledExitCode = 130;

    public static RootCommand Build()
    {
        var root = new RootCommand("llamanas: one-shot neural architecture search that compresses Llama-family LLMs.");
        root.Options.Add(Threads);
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(SearchCommand.Create());
        root.Subcommands.Add(EvaluateShardCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(FinetuneCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(BuildCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        foreach (var command in Commands(root))
        {
            if (command.Action is AsynchronousCommandLineAction action)
            {
                command.Action = new OffInvokingThread(action);
            }
        }

        return root;
    }

    private static IEnumerable<Command> Commands(Command command) => command.Subcommands.SelectMany(Commands).Prepend(command);

    /// <summary>
    /// Runs a verb that takes a cancellation token off the invoking thread. System.CommandLine can only wait for a verb
    /// to wind down after Ctrl+C (save a checkpoint, cancel submitted jobs) once the verb's task exists; a verb that ran
    /// its work before returning its task was ended on the spot instead.
    /// </summary>
    private sealed class OffInvokingThread(AsynchronousCommandLineAction inner) : AsynchronousCommandLineAction
    {
        public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await inner.InvokeAsync(parseResult, cancellationToken).ConfigureAwait(false);
        }
    }

    public static async Task<int> RunAsync(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        var parse = Build().Parse(args);
        try
        {
            if (parse.GetValue(Threads) is { } threads)
            {
                TorchRuntime.ConfigureThreads(threads);
            }

            return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = TerminationGrace }).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C: the verb stopped through its token (work saved, jobs cancelled); the shell's convention for SIGINT.
            await error.WriteLineAsync("llamanas: cancelled").ConfigureAwait(false);
            return CancelledExitCode;
        }
        catch (LlamaNasException e)
        {
            foreach (var diagnostic in e.Diagnostics)
            {
                await error.WriteLineAsync(diagnostic.ToString()).ConfigureAwait(false);
            }

            return 1;
        }
        catch (Exception e)
        {
            return await InternalError.ReportAsync(e, args, error).ConfigureAwait(false);
        }
    }
}
