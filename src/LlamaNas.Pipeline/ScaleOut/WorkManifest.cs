using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Pipeline.ScaleOut;

/// <summary>What a work item asks a worker to measure.</summary>
public enum WorkKind
{
    /// <summary>The sub-network of the genes, on every objective (items of this kind share block prefixes).</summary>
    Subnetwork,

    /// <summary>The INT8 form of the genes' sub-network, on the INT8 objectives.</summary>
    Quantized,

    /// <summary>The hypervolume reference point (may measure the whole model).</summary>
    Reference,

    /// <summary>The whole model on every objective (a baseline).</summary>
    Whole,
}

/// <summary>One unit of work: its position in the manifest (the id results name), its kind and genes.</summary>
public sealed record WorkItem(int Id, WorkKind Kind, IReadOnlyList<int> Genes);

/// <summary>
/// A batch of work for the shards, written once into the shared folder (<c>work/&lt;label&gt;-&lt;id&gt;/manifest.json</c>):
/// the evaluator's settings with paths relative to the manifest's folder where they lie in the shared folder, the
/// super-network's content key, the search's seed and the items. <see cref="Id"/> is the SHA-256 of everything
/// else, so the same work (a driver that restarts mid-batch) finds its folder and the results already there.
/// </summary>
public sealed record WorkManifest
{
    public const string SchemaName = "llamanas.work-manifest/1";
    public const string FileName = "manifest.json";
    public const string ResultsFolder = "results";

    public string Schema { get; init; } = SchemaName;

    public string Id { get; init; } = "";

    /// <summary>What the work is for (e.g. <c>batch-0003</c>, <c>int8</c>, <c>reference</c>).</summary>
    public required string Label { get; init; }

    public ulong Seed { get; init; }

    /// <summary>The super-network's content fingerprint (the model the settings name).</summary>
    public required string ModelKey { get; init; }

    public required EvaluatorManifest Evaluator { get; init; }

    public required IReadOnlyList<WorkItem> Items { get; init; }

    internal static JsonSerializerOptions Json { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>This manifest with <see cref="Id"/> set to the key of its content (the label aside: the same work under another name is the same work).</summary>
    public WorkManifest WithId() => this with { Id = Key.Of("work-manifest", JsonSerializer.Serialize(this with { Id = "", Label = "" }, Json)) };

    public string ToJson() => JsonSerializer.Serialize(this, Json) + "\n";

    /// <summary>Reads a manifest; LNAS1201 when the file is missing, unreadable, of another schema or altered (its id no longer its key).</summary>
    public static WorkManifest Load(string path)
    {
        WorkManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<WorkManifest>(File.ReadAllText(path), Json);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            throw Invalid(path, $"cannot be read as a work manifest ({e.Message}).", e);
        }

        if (manifest is null || manifest.Schema != SchemaName)
        {
            throw Invalid(path, $"is not a {SchemaName} manifest (schema '{manifest?.Schema}').");
        }

        if (manifest.WithId().Id != manifest.Id)
        {
            throw Invalid(path, "was changed after it was written (its id is not the key of its content); let the search write it again.");
        }

        var ids = manifest.Items.Select(i => i.Id).ToList();
        return ids.SequenceEqual(Enumerable.Range(0, ids.Count)) ? manifest : throw Invalid(path, "numbers its items out of order.");
    }

    /// <summary>The folder of result files beside a manifest.</summary>
    public static string ResultsDirectory(string manifestPath) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, ResultsFolder);

    internal static LlamaNasException Invalid(string path, string message, Exception? inner = null) =>
        new(DiagnosticCodes.ShardManifestInvalid, $"{Path.GetFileName(path)} {message}", new DiagnosticLocation(path), inner);
}

/// <summary>One item's measurement, written by a worker as <c>results/&lt;item&gt;.json</c>.</summary>
public sealed record ShardResult
{
    public const string SchemaName = "llamanas.shard-result/1";

    public string Schema { get; init; } = SchemaName;

    /// <summary>The <see cref="WorkManifest.Id"/> it was measured for.</summary>
    public required string Manifest { get; init; }

    public required int Item { get; init; }

    public required WorkKind Kind { get; init; }

    public required IReadOnlyList<int> Genes { get; init; }

    /// <summary>The raw metrics, one per objective (for <see cref="WorkKind.Reference"/>: the reference point).</summary>
    public required IReadOnlyList<double> Values { get; init; }

    public double Seconds { get; init; }

    /// <summary>Who measured it (host, process, shard), for the logs.</summary>
    public string Worker { get; init; } = "";

    public static string FileName(int item) => item.ToString("D5", System.Globalization.CultureInfo.InvariantCulture) + ".json";

    /// <summary>Writes the result atomically; an existing result of the same item is kept (its shard ran twice).</summary>
    public void Write(string resultsDirectory)
    {
        var path = Path.Combine(resultsDirectory, FileName(Item));
        if (!File.Exists(path))
        {
            AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, WorkManifest.Json) + "\n");
        }
    }
}
