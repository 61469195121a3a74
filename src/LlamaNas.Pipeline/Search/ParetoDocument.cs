using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Pipeline.Search;

/// <summary>The schema of <c>pareto.json</c> (format 1): the settings, objectives and non-dominated evaluations of a search.</summary>
public sealed record ParetoDocument
{
    public int Format { get; init; } = 1;

    public required IReadOnlyDictionary<string, string> Settings { get; init; }

    public required int Evaluations { get; init; }

    public required bool Finished { get; init; }

    public required IReadOnlyList<ParetoObjective> Objectives { get; init; }

    public required double Hypervolume { get; init; }

    public required IReadOnlyList<ParetoEntry> Front { get; init; }

    /// <summary>The front re-ranked after INT8 quantization (absent when the search was not asked for it).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public QuantizedFront? Int8Front { get; init; }

    internal static JsonSerializerOptions Json { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json) + "\n";

    /// <summary>Reads a pareto.json; LNAS0522 when it is not one.</summary>
    public static ParetoDocument Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ParetoDocument>(File.ReadAllText(path), Json) ?? throw new JsonException("empty document");
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchStateInvalid, $"pareto.json could not be read: {e.Message}", new DiagnosticLocation(path), e);
        }
    }
}

/// <summary>
/// The Pareto front after quantization ("shifted left"): every member of the float front measured again as its INT8
/// form (same objectives; size as the INT8 export's bytes), and which of them are non-dominated among those.
/// </summary>
public sealed record QuantizedFront
{
    /// <summary>What was quantized and how (docs/EXPORT.md).</summary>
    public required string Scheme { get; init; }

    public required IReadOnlyList<ParetoObjective> Objectives { get; init; }

    /// <summary>Every float front member's INT8 form; <see cref="ParetoEntry.Index"/> is the float evaluation's index.</summary>
    public required IReadOnlyList<ParetoEntry> Evaluations { get; init; }

    /// <summary>Indices (<see cref="ParetoEntry.Index"/>) of the INT8 forms on the re-ranked front.</summary>
    public required IReadOnlyList<int> Front { get; init; }

    /// <summary>The entries on the re-ranked front.</summary>
    public IEnumerable<ParetoEntry> FrontEntries() => Evaluations.Where(e => Front.Contains(e.Index));
}

/// <summary>An objective: its name, the raw metric's column name, how it is minimised and its hypervolume reference.</summary>
public sealed record ParetoObjective(string Name, string Metric, string MinimisedAs, double Reference);

/// <summary>A sub-network's architecture as pareto.json and the build's outputs record it.</summary>
public sealed record ArchitectureRecord(int Depth, int HiddenSize, IReadOnlyList<int> IntermediateSizes, IReadOnlyList<int> AttentionHeads, IReadOnlyList<int> KeyValueHeads)
{
    public static ArchitectureRecord Of(Core.Search.SubnetworkArchitecture a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new(a.Depth, a.HiddenSize, a.IntermediateSizes, a.AttentionHeads, a.KeyValueHeads);
    }

    public Core.Search.SubnetworkArchitecture ToArchitecture() => new(HiddenSize, [.. IntermediateSizes], [.. AttentionHeads], [.. KeyValueHeads]);
}

/// <summary>One non-dominated evaluation: raw metrics by column name and the minimised objective values.</summary>
public sealed record ParetoEntry
{
    public required int Index { get; init; }

    public required int Batch { get; init; }

    public required IReadOnlyList<int> Genes { get; init; }

    public required ArchitectureRecord Architecture { get; init; }

    public required IReadOnlyDictionary<string, double> Metrics { get; init; }

    public required IReadOnlyList<double> Objectives { get; init; }

    public required long Params { get; init; }

    public required long SizeBytes { get; init; }
}
