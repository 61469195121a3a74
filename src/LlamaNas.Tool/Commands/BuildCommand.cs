using System.CommandLine;
using LlamaNas.Pipeline.Build;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas build &lt;project.nasproj&gt;</c>: the build of a compression project without MSBuild, and the worker
/// the SDK's targets launch one stage at a time (<c>--stage</c>, <c>--evaluated</c>). Both run the same
/// <see cref="BuildPipeline"/>, so they write identical outputs and diagnostics (docs/NASPROJ.md).
/// </summary>
public static class BuildCommand
{
    public static Command Create()
    {
        var project = new Argument<string>("project") { Description = "The .nasproj file." };
        var stage = new Option<string>("--stage") { Description = $"plan (validate and key the stages), one of {string.Join(", ", StageNames.All)}, or all.", DefaultValueFactory = _ => "all" };
        var configuration = new Option<string>("--configuration", "-c") { Description = "Build configuration: names the default output folders.", DefaultValueFactory = _ => "Debug" };
        var outDir = new Option<string?>("--out-dir") { Description = "Final outputs (default: <project dir>/bin/<configuration>/)." };
        var objDir = new Option<string?>("--obj-dir") { Description = "Intermediates (default: <project dir>/obj/<configuration>/)." };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Super-network cache (default: LlamaNasCacheDirectory, else $LLAMANAS_CACHE, $XDG_CACHE_HOME/llamanas or ~/.cache/llamanas)." };
        var evaluated = new Option<string?>("--evaluated") { Description = "MSBuild's evaluated property and item values (JSON), written by the SDK's tasks." };
        var command = new Command("build", "Build a .nasproj compression project: data, super-network fine-tuning, search, selection, export, report.")
        {
            project, stage, configuration, outDir, objDir, cacheDir, evaluated,
        };
        command.SetAction((result, cancel) =>
        {
            var log = new BuildLog(result.InvocationConfiguration.Output, result.InvocationConfiguration.Error);
            using var context = BuildPipeline.Plan(
                new BuildRequest
                {
                    ProjectFile = result.GetValue(project)!,
                    Configuration = result.GetValue(configuration)!,
                    OutDir = result.GetValue(outDir),
                    ObjDir = result.GetValue(objDir),
                    CacheDir = result.GetValue(cacheDir),
                    EvaluatedJson = result.GetValue(evaluated),
                },
                log);
            try
            {
                switch (result.GetValue(stage)!)
                {
                    case "plan":
                        break;
                    case "all":
                        BuildPipeline.RunAll(context, log, cancel);
                        break;
                    case var name:
                        BuildPipeline.RunStage(context, name, log, cancel);
                        break;
                }
            }
            catch (OperationCanceledException)
            {
                // Fine-tuning saved a checkpoint and the search its state: the next build continues from there.
                log.Headline("interrupted; build again to continue where this one stopped");
                return Task.FromResult(130);
            }

            return Task.FromResult(0);
        });
        return command;
    }
}
