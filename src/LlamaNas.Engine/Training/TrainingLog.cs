using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Engine.Training;

/// <summary>
/// The jsonl training log: one object per optimizer step (step, loss, per-network losses, lr, grad norm, tokens,
/// tokens/s, sub-networks, elapsed seconds), flushed as it is written. A resumed run first cuts the log back to its
/// checkpoint's step, so the finished log equals an uninterrupted run's apart from the timings.
/// </summary>
public sealed class TrainingLog : IDisposable
{
    /// <summary>The fields that measure time rather than training; they are all that differs between runs.</summary>
    public static IReadOnlyList<string> TimingFields { get; } = ["tokens_per_s", "seconds", "elapsed_s"];

    private readonly StreamWriter _writer;
    private readonly double _elapsedBefore;
    private readonly DateTime _started = DateTime.UtcNow;

    private readonly string _path;
    private bool _failed;

    private TrainingLog(string path, double elapsedBefore)
    {
        _path = path;
        _elapsedBefore = elapsedBefore;
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }

    /// <summary>
    /// Opens <paramref name="path"/> for a run that continues after <paramref name="step"/> completed steps: entries of
    /// later steps (and a torn last line) are dropped, atomically; <paramref name="step"/> 0 starts an empty log.
    /// </summary>
    public static TrainingLog Open(string path, long step)
    {
        var kept = new List<string>();
        double elapsed = 0;
        if (step > 0 && File.Exists(path))
        {
            foreach (var line in File.ReadLines(path))
            {
                if (Parse(line) is { } entry && Number(entry["step"]) is { } s && s <= step)
                {
                    kept.Add(line);
                    elapsed = Number(entry["elapsed_s"]) ?? elapsed;
                }
            }
        }

        AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
        return new TrainingLog(path, elapsed);
    }

    public void Write(StepReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var entry = new JsonObject
        {
            ["step"] = report.Step,
            ["loss"] = report.Loss,
            ["losses"] = new JsonArray([.. report.Losses.Select(l => (JsonNode)l)]),
            ["lr"] = report.LearningRate,
            ["grad_norm"] = double.IsFinite(report.GradNorm) ? report.GradNorm : null,
            ["tokens"] = report.Tokens,
            ["subnetworks"] = new JsonArray([.. report.Subnetworks.Select(s => (JsonNode)s)]),
            ["tokens_per_s"] = Math.Round(report.TokensPerSecond, 1),
            ["seconds"] = Math.Round(report.Seconds, 4),
            ["elapsed_s"] = Math.Round(_elapsedBefore + (DateTime.UtcNow - _started).TotalSeconds, 3),
        };
        try
        {
            _writer.WriteLine(entry.ToJsonString());
        }
        catch (IOException e)
        {
            _failed = true;
            throw new LlamaNasException(DiagnosticCodes.OutputWriteFailed, $"the training log could not be written ({e.Message}). Check free space; --resume continues from the last checkpoint.", new DiagnosticLocation(_path), e);
        }
    }

    /// <summary>A number of a log entry; null when absent or of another type (a hand-edited line).</summary>
    private static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    /// <summary>A log's entries without <see cref="TimingFields"/>, as compact JSON lines (for comparing runs).</summary>
    public static IReadOnlyList<string> WithoutTimings(string path) =>
        [.. File.ReadLines(path).Select(Parse).OfType<JsonObject>().Select(e =>
        {
            foreach (var field in TimingFields)
            {
                e.Remove(field);
            }

            return e.ToJsonString();
        })];

    public void Dispose()
    {
        try
        {
            _writer.Dispose();
        }
        catch (IOException) when (_failed)
        {
            // The unwritten line was reported by Write; flushing it again here would hide that coded error.
        }
    }

    private static JsonObject? Parse(string line)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return null; // a line torn by a kill
        }
    }
}
