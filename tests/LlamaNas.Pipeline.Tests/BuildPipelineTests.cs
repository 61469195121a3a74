using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Pipeline.Build;
using LlamaNas.TestSupport;

namespace LlamaNas.Pipeline.Tests;

/// <summary>The build of a tiny real project in-process: outputs, reproducibility, incrementality, the exported model's quality.</summary>
public sealed class BuildPipelineTests
{
    private static readonly string SnapshotFolder = Path.Combine("tests", "LlamaNas.Pipeline.Tests", "Snapshots");

    [Fact]
    public void A_build_exports_the_selected_model_reproducibly_and_rebuilds_only_what_changed()
    {
        using var dir = new TempDir();
        var first = TinyProject.Write(dir, "a");
        var (context, log) = Build(first);
        Assert.Equal(StageNames.All.Select(s => $"stage {s}: running"), Headlines(log).Where(h => h.StartsWith("stage", StringComparison.Ordinal)));
        var outDir = Path.Combine(dir.Path, "a", "bin", "Debug");
        foreach (var file in new[] { "report.md", "pareto.json", "evaluations.csv", "model/model.safetensors", "model/config.json", "model/tokenizer.model", "model/llamanas.json", "model.gguf" }.Concat(Reporting.SearchReport.Files(speed: false)))
        {
            Assert.True(File.Exists(Path.Combine(outDir, file)), file);
        }

        // The super-network lives in the cache, keyed by the fine-tuning stage.
        Assert.True(File.Exists(Path.Combine(dir.Path, "a", "cache", "supernets", context.Keys[StageNames.FineTune], "supernet.json")));

        // The exported model scores, on its own, what the search recorded for it.
        var selection = Selection.Load(context.SelectionFile);
        var recorded = selection.Selected.Metrics[selection.QualityMetric];
        Assert.InRange(HeldOutPerplexity(Path.Combine(outDir, "model"), context.HeldOutFile!), recorded * (1 - 1e-5), recorded * (1 + 1e-5));

        // Unchanged: nothing runs.
        var (_, again) = Build(first);
        Assert.DoesNotContain(Headlines(again), h => h.EndsWith(": running", StringComparison.Ordinal));

        // The same project in another folder, with its own cache: byte-identical outputs; report.md differs only in timings.
        var second = TinyProject.Write(dir, "b");
        Build(second);
        var otherOut = Path.Combine(dir.Path, "b", "bin", "Debug");
        foreach (var file in new[] { "pareto.json", "evaluations.csv", "model/model.safetensors", "model/config.json", "model/llamanas.json", "model.gguf" }.Concat(Reporting.SearchReport.Files(speed: false)))
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(outDir, file)), File.ReadAllBytes(Path.Combine(otherOut, file)));
        }

        Assert.Equal(WithoutTimings(File.ReadAllText(Path.Combine(outDir, "report.md"))), WithoutTimings(File.ReadAllText(Path.Combine(otherOut, "report.md"))));
        Snapshots.Verify(SnapshotFolder, "tiny.pareto.json", Scrub(File.ReadAllText(Path.Combine(outDir, "pareto.json")), dir.Path));
        Snapshots.Verify(SnapshotFolder, "tiny.report.md", Scrub(WithoutTimings(File.ReadAllText(Path.Combine(outDir, "report.md"))), dir.Path));

        // A larger search budget re-runs the search and what follows it, never the data or the fine-tuning.
        File.WriteAllText(first, TinyProject.Text(evaluations: 18));
        var (changed, rebuilt) = Build(first);
        Assert.Equal(["stage search: running", "stage select: running", "stage export: running", "stage report: running"], Headlines(rebuilt).Where(h => h.StartsWith("stage", StringComparison.Ordinal)));
        Assert.Equal(context.Keys[StageNames.FineTune], changed.Keys[StageNames.FineTune]);
        Assert.Equal(18, Search.ParetoDocument.Load(Path.Combine(outDir, "pareto.json")).Evaluations);
    }

    [Fact]
    public void Quantization_int8_selects_from_the_int8_front_and_exports_the_int8_model_the_search_measured()
    {
        using var dir = new TempDir();
        var project = TinyProject.Write(dir, "q", TinyProject.Text(extraProperties: "\n    <Quantization>int8</Quantization>"));
        var (context, _) = Build(project);
        var outDir = Path.Combine(dir.Path, "q", "bin", "Debug");
        var pareto = Search.ParetoDocument.Load(Path.Combine(outDir, "pareto.json"));
        var int8 = pareto.Int8Front!;
        Assert.Equal(pareto.Front.Select(e => e.Index), int8.Evaluations.Select(e => e.Index));

        // The whole super-network is always a candidate (the first evaluation), and it is on both fronts.
        Assert.Contains(pareto.Front, e => e.Index == 0 && e.Architecture.Depth == 5 && e.Architecture.IntermediateSizes.All(m => m == 172));
        Assert.Contains(0, int8.Front);
        Assert.Contains("size_gb:int8", int8.Objectives.Select(o => o.Metric));

        var selection = Selection.Load(context.SelectionFile);
        Assert.Equal("int8", selection.Quantization);
        Assert.Contains(selection.Selected.Index, int8.Front);

        // The bytes the export wrote are the INT8 size the search ranked it by, and the model scores what was recorded.
        var model = Path.Combine(outDir, "model");
        using (var weights = Engine.Checkpoints.SafetensorsFile.Open(Path.Combine(model, "model.safetensors")))
        {
            Assert.Equal(selection.Selected.SizeBytes, weights.Tensors.Sum(t => t.ByteCount));
            Assert.Contains(weights.Tensors, t => t.DType == Engine.Checkpoints.SafetensorsDType.I8);
        }

        var recorded = selection.Selected.Metrics[selection.QualityMetric];
        Assert.InRange(HeldOutPerplexity(model, context.HeldOutFile!), recorded * (1 - 1e-5), recorded * (1 + 1e-5));
        Assert.Contains(Engine.Export.GgufFile.Open(Path.Combine(outDir, "model.gguf")).Tensors, t => t.Type == Engine.Export.GgmlType.Q8_0); // GgufType auto
        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains($"**selected (#{selection.Selected.Index}), INT8**", report, StringComparison.Ordinal);
        Assert.Contains("| INT8 |", report, StringComparison.Ordinal);

        // Back to float weights: the search (which measured both fronts) is kept; selection and what follows run again.
        File.WriteAllText(project, TinyProject.Text());
        var (_, rebuilt) = Build(project);
        Assert.Equal(["stage select: running", "stage export: running", "stage report: running"], Headlines(rebuilt).Where(h => h.StartsWith("stage", StringComparison.Ordinal)));
        Assert.Equal("none", Selection.Load(context.SelectionFile).Quantization);
    }

    [Fact]
    public void Distillation_settings_are_part_of_the_fine_tuning_key()
    {
        using var dir = new TempDir();
        var plain = Plan(TinyProject.Write(dir, "a")).Keys;
        var inplace = Plan(TinyProject.Write(dir, "b", TinyProject.Text(extraProperties: "\n    <FineTuneDistill>inplace</FineTuneDistill>"))).Keys;
        var hotter = Plan(TinyProject.Write(dir, "c", TinyProject.Text(extraProperties: "\n    <FineTuneDistill>inplace</FineTuneDistill>\n    <FineTuneDistillTemperature>2</FineTuneDistillTemperature>"))).Keys;
        var teacher = Plan(TinyProject.Write(dir, "d", TinyProject.Text(extraProperties: "\n    <FineTuneDistill>base</FineTuneDistill>"))).Keys;
        Assert.Equal(plain[StageNames.Data], inplace[StageNames.Data]);
        Assert.Equal(4, new[] { plain, inplace, hotter, teacher }.Select(k => k[StageNames.FineTune]).Distinct().Count());
    }

    [Fact]
    public void Plan_notices_edited_and_deleted_inputs_and_missing_outputs()
    {
        using var dir = new TempDir();
        var data = dir.Write("p/train.txt", "Once upon a time there was a cat.\n<|endoftext|>\nThe dog ran home.\n");
        var held = dir.Write("p/held.txt", "A bird sang in the tree.\n");
        var project = dir.Write("p/p.nasproj", TinyProject.Text().Replace("<SelfGeneratedData>true</SelfGeneratedData>", "<HeldOutText>held.txt</HeldOutText>", StringComparison.Ordinal)
            .Replace("<ItemGroup>", "<ItemGroup>\n    <TrainingData Include=\"train.txt\" />", StringComparison.Ordinal));
        var before = Plan(project);
        var keyFile = before.KeyFile(StageNames.Search);
        var stamp = File.GetLastWriteTimeUtc(keyFile);

        // A re-plan of the same inputs rewrites no key file (timestamps stay put for MSBuild's Inputs/Outputs).
        Thread.Sleep(20);
        Plan(project);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(keyFile));

        // Editing the training data changes the data key and everything after it.
        File.AppendAllText(data, "<|endoftext|>\nA new story.\n");
        var edited = Plan(project);
        Assert.All(StageNames.All, s => Assert.NotEqual(before.Keys[s], edited.Keys[s]));

        // Editing only the held-out text keeps data and fine-tuning.
        File.AppendAllText(held, "The sun was warm.\n");
        var heldEdited = Plan(project);
        Assert.Equal(edited.Keys[StageNames.FineTune], heldEdited.Keys[StageNames.FineTune]);
        Assert.NotEqual(edited.Keys[StageNames.Search], heldEdited.Keys[StageNames.Search]);

        // A stage whose stamp matches but whose outputs are gone is not up to date.
        File.WriteAllText(heldEdited.StampFile(StageNames.Select), heldEdited.Keys[StageNames.Select] + "\n");
        Assert.False(BuildPipeline.IsUpToDate(heldEdited, StageNames.Select));
        Plan(project);
        Assert.False(File.Exists(heldEdited.StampFile(StageNames.Select)));

        // One build of a project at a time: a second gets LNAS0111 at once, naming the first.
        using (Plan(project, dispose: false))
        {
            var locked = Assert.Throws<LlamaNasException>(() => Plan(project));
            Assert.Equal(DiagnosticCodes.OutputFolderLocked, locked.Code);
            Assert.Contains(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), locked.Message, StringComparison.Ordinal);
        }

        // A deleted input is a coded error at its item's line.
        File.Delete(data);
        var e = Assert.Throws<LlamaNasException>(() => Plan(project));
        Assert.Equal(DiagnosticCodes.ProjectFileNotFound, e.Code);
        var line = File.ReadAllLines(project).ToList().FindIndex(l => l.Contains("<TrainingData", StringComparison.Ordinal)) + 1;
        Assert.Equal((project, line, 5), (e.Diagnostic.Location!.File, e.Diagnostic.Location.Line, e.Diagnostic.Location.Column));
    }

    [Fact]
    public void An_interrupted_build_resumes_fine_tuning_and_search_where_they_stopped()
    {
        using var dir = new TempDir();
        var interrupted = TinyProject.Write(dir, "a");

        // Stop once during fine-tuning (after step 2) and once during the search (after its first batch).
        foreach (var when in new[] { "step 2/", "batch 0:" })
        {
            using var cancel = new CancellationTokenSource();
            var log = new BuildLog(new CancelOn(when, cancel), TextWriter.Null);
            using var context = BuildPipeline.Plan(new BuildRequest { ProjectFile = interrupted }, log);
            Assert.Throws<OperationCanceledException>(() => BuildPipeline.RunAll(context, log, cancel.Token));
        }

        var (_, resumed) = Build(interrupted);
        Assert.Contains("stage search: running", Headlines(resumed));
        Assert.DoesNotContain("stage finetune: running", Headlines(resumed));
        Assert.Contains("resuming", resumed, StringComparison.Ordinal);

        Build(TinyProject.Write(dir, "b"));
        foreach (var file in new[] { "pareto.json", "evaluations.csv", "model/model.safetensors" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir.Path, "b", "bin", "Debug", file)), File.ReadAllBytes(Path.Combine(dir.Path, "a", "bin", "Debug", file)));
        }
    }

    private static (BuildContext Context, string Log) Build(string project)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var log = new BuildLog(output, error);
        using var context = BuildPipeline.Plan(new BuildRequest { ProjectFile = project }, log);
        BuildPipeline.RunAll(context, log);
        Assert.Equal(string.Empty, error.ToString());
        return (context, output.ToString());
    }

    /// <summary>Plans <paramref name="project"/>; the context is disposed (its lock released) unless asked otherwise.</summary>
    private static BuildContext Plan(string project, bool dispose = true)
    {
        var context = BuildPipeline.Plan(new BuildRequest { ProjectFile = project }, new BuildLog(TextWriter.Null, TextWriter.Null));
        if (dispose)
        {
            context.Dispose();
        }

        return context;
    }

    /// <summary>The headline lines of a build's output, without their prefix.</summary>
    internal static IEnumerable<string> Headlines(string log) => log.Split('\n')
        .Where(l => l.StartsWith(BuildLog.HeadlinePrefix, StringComparison.Ordinal))
        .Select(l => l[BuildLog.HeadlinePrefix.Length..].TrimEnd('\r'));

    private static double HeldOutPerplexity(string model, string text)
    {
        TorchRuntime.EnsureInitialized();
        using var llm = LlamaForCausalLM.Load(model);
        var evaluator = new PerplexityEvaluator(llm, TokenizerLoader.Load(model));
        return evaluator.Evaluate(Path.GetFileName(text), PerplexityEvaluator.ReadDocuments(text)).TokenPerplexity;
    }

    private static string WithoutTimings(string report) =>
        report[..report.IndexOf(ReportStage.TimingsBegin, StringComparison.Ordinal)] + report[(report.IndexOf(ReportStage.TimingsEnd, StringComparison.Ordinal) + ReportStage.TimingsEnd.Length)..];

    /// <summary>Paths, hashes and the engine version out; floats rounded (the snapshot pins structure and choices, not the last bits).</summary>
    private static string Scrub(string text, string root) =>
        Snapshots.RoundFloats(Snapshots.ScrubHashes(Snapshots.ScrubPath(text, root, "<temp>")));

    /// <summary>A log that cancels the build when a line starting with <paramref name="prefix"/> is written (as Ctrl+C would).</summary>
    private sealed class CancelOn(string prefix, CancellationTokenSource cancel) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value?.StartsWith(prefix, StringComparison.Ordinal) == true)
            {
                cancel.Cancel();
            }
        }
    }
}
