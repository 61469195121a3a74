using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Core.Project;

namespace LlamaNas.Pipeline.Build;

/// <summary>
/// Where a build reports: <see cref="Headline"/> lines (stage starts, final outputs) are what a user sees even at
/// minimal MSBuild verbosity, so they start with <c>llamanas: </c>; <see cref="Progress"/> is the detail under them.
/// </summary>
public sealed class BuildLog(TextWriter output, TextWriter error)
{
    public const string HeadlinePrefix = "llamanas: ";

    public TextWriter Output { get; } = output;

    public void Headline(string text) => Output.WriteLine(HeadlinePrefix + text);

    public void Progress(string text) => Output.WriteLine(text);

    public void Report(Diagnostic diagnostic) => error.WriteLine(diagnostic.ToString());
}

/// <summary>
/// The build of a <c>.nasproj</c> as stages: data → finetune → search → select → export → report. <see cref="Plan"/>
/// validates the project and writes each stage's key to <c>obj/…/llamanas/&lt;stage&gt;.key</c> (rewritten only
/// when it changes, so timestamps stay put), deleting the stage's stamp when its key or outputs no longer match;
/// <see cref="RunStage"/> runs one stage unless its stamp already holds its key, and writes the stamp last. The SDK's
/// targets use the key files as Inputs and the stamps as Outputs; <c>llamanas build</c> runs the same steps in one
/// process. Either way the outputs are identical.
/// </summary>
public static class BuildPipeline
{
    /// <summary>
    /// Reads, validates and keys the project (no weights are read), reports its warnings, and locks its intermediate
    /// folder until the returned context is disposed.
    /// </summary>
    public static BuildContext Plan(BuildRequest request, BuildLog log)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(log);
        var evaluated = request.EvaluatedJson is { } json ? ReadEvaluated(json) : null;
        var project = NasProject.Read(request.ProjectFile, evaluated, log.Progress);
        foreach (var warning in project.Warnings)
        {
            log.Report(warning);
        }

        var dir = project.ProjectDirectory;
        var outDir = Path.GetFullPath(request.OutDir ?? Path.Combine("bin", request.Configuration), dir);
        var objDir = Path.GetFullPath(request.ObjDir ?? Path.Combine("obj", request.Configuration), dir);
        var cache = request.CacheDir is { Length: > 0 } c ? Path.GetFullPath(c) : project.CacheDirectory ?? BuildContext.DefaultCacheDirectory();
        var context = new BuildContext(project, outDir, objDir, cache);
        try
        {
            context.Lock();
            WriteKeys(context);
        }
        catch
        {
            context.Dispose();
            throw;
        }

        return context;
    }

    private static void WriteKeys(BuildContext context)
    {
        foreach (var stage in StageNames.All)
        {
            var keyFile = context.KeyFile(stage);
            var key = context.Keys[stage] + "\n";
            if (!File.Exists(keyFile) || File.ReadAllText(keyFile) != key)
            {
                AtomicFile.WriteAllText(keyFile, key);
            }

            if (!IsUpToDate(context, stage))
            {
                File.Delete(context.StampFile(stage));
            }
        }
    }

    /// <summary>Runs every stage that is not up to date, in order.</summary>
    public static void RunAll(BuildContext context, BuildLog log, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ran = false;
        foreach (var stage in StageNames.All)
        {
            ran |= RunStage(context, stage, log, cancel);
        }

        if (!ran)
        {
            log.Headline($"up to date: model -> {context.ModelDir}; report -> {Path.Combine(context.OutDir, ReportStage.ReportFile)}");
        }
    }

    /// <summary>Runs <paramref name="stage"/> unless it is up to date (false then); LNAS1100 for an unknown stage name.</summary>
    public static bool RunStage(BuildContext context, string stage, BuildLog log, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(log);
        if (!StageNames.All.Contains(stage))
        {
            throw new LlamaNasException(DiagnosticCodes.BuildStageUnknown, $"unknown stage '{stage}'; stages: plan, {string.Join(", ", StageNames.All)}, all.");
        }

        if (IsUpToDate(context, stage))
        {
            return false;
        }

        var sw = Stopwatch.StartNew();
        if (IsNeeded(context, stage))
        {
            log.Headline($"stage {stage}: running");
            Run(context, stage, log, cancel);
        }

        RecordTime(context, stage, sw.Elapsed.TotalSeconds);
        AtomicFile.WriteAllText(context.StampFile(stage), context.Keys[stage] + "\n");
        if (stage == StageNames.Export)
        {
            log.Headline($"model -> {context.ModelDir}");
        }
        else if (stage == StageNames.Report)
        {
            log.Headline($"report -> {Path.Combine(context.OutDir, ReportStage.ReportFile)}");
        }

        return true;
    }

    /// <summary>The stamp holds the current key and the stage's outputs are all there.</summary>
    public static bool IsUpToDate(BuildContext context, string stage)
    {
        ArgumentNullException.ThrowIfNull(context);
        var stamp = context.StampFile(stage);
        return File.Exists(stamp) && File.ReadAllText(stamp) == context.Keys[stage] + "\n" && Outputs(context, stage).All(File.Exists);
    }

    /// <summary>The files whose presence a finished stage guarantees.</summary>
    public static IEnumerable<string> Outputs(BuildContext context, string stage)
    {
        ArgumentNullException.ThrowIfNull(context);
        return stage switch
        {
            StageNames.Data when context.WritesData => context.Project.SelfGeneratedData
                ? [context.TrainingFile!, context.HeldOutFile!]
                : [context.TrainingFile!],
            StageNames.FineTune when context.Project.FineTune => [Path.Combine(context.SupernetDir, Engine.Training.SupernetFineTuning.SupernetFile)],
            StageNames.Search => [Path.Combine(context.SearchDir, SearchOutputsFiles.Pareto), Path.Combine(context.SearchDir, SearchOutputsFiles.Evaluations), context.BaselineFile],
            StageNames.Select => [context.SelectionFile],
            StageNames.Export => ExportStage.Files(context),
            StageNames.Report => [.. ReportStage.Files(context.Project).Select(f => Path.Combine(context.OutDir, f))],
            _ => [],
        };
    }

    /// <summary>
    /// Whether the stage has work to do. A finished super-network in the cache is reused as it is (its folder is named
    /// by the stage key, so it is this very stage's output, e.g. after <c>dotnet clean</c> removed the stamps).
    /// </summary>
    private static bool IsNeeded(BuildContext context, string stage) => stage switch
    {
        StageNames.Data => context.WritesData,
        StageNames.FineTune => context.Project.FineTune && !Outputs(context, stage).All(File.Exists),
        _ => true,
    };

    private static void Run(BuildContext context, string stage, BuildLog log, CancellationToken cancel)
    {
        switch (stage)
        {
            case StageNames.Data:
                DataStage.Run(context, log);
                break;
            case StageNames.FineTune:
                FineTuneStage.Run(context, log, cancel);
                break;
            case StageNames.Search:
                SearchStage.Run(context, log, cancel);
                break;
            case StageNames.Select:
                SelectStage.Run(context, log);
                break;
            case StageNames.Export:
                ExportStage.Run(context, log);
                break;
            default:
                ReportStage.Run(context, log);
                break;
        }
    }

    /// <summary>Wall seconds of the stages' last runs, for the report's timings section (never in a key or a reproducible output).</summary>
    private static void RecordTime(BuildContext context, string stage, double seconds)
    {
        var times = ReadTimes(context);
        times[stage] = Math.Round(seconds, 3);
        var json = new JsonObject();
        foreach (var (name, value) in times)
        {
            json[name] = value;
        }

        AtomicFile.WriteAllText(context.TimingsFile, json.ToJsonString() + "\n");
    }

    internal static SortedDictionary<string, double> ReadTimes(BuildContext context)
    {
        var times = new SortedDictionary<string, double>(StringComparer.Ordinal);
        try
        {
            if (File.Exists(context.TimingsFile) && JsonNode.Parse(File.ReadAllText(context.TimingsFile)) is JsonObject o)
            {
                foreach (var (name, value) in o)
                {
                    if (value is JsonValue v && v.TryGetValue<double>(out var s))
                    {
                        times[name] = s;
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Timings are informational: an unreadable file is replaced.
        }

        return times;
    }

    private static string ReadEvaluated(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LlamaNasException(DiagnosticCodes.ProjectEvaluatedInvalid, $"MSBuild's evaluated project values could not be read: {e.Message}", new DiagnosticLocation(path), e);
        }
    }

    internal static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>File names of a search folder the build reads.</summary>
internal static class SearchOutputsFiles
{
    public const string Pareto = Search.SearchOutputs.ParetoFile;
    public const string Evaluations = Search.SearchOutputs.EvaluationsFile;
}
