using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Core.Search.Predictors;

namespace LlamaNas.Core.Search;

/// <summary>One real evaluation: the batch it came in, its canonical genes and its minimised objectives.</summary>
public sealed record EvaluationRecord(int Batch, IReadOnlyList<int> Genes, IReadOnlyList<double> Objectives);

/// <summary>
/// What one batch left behind: evaluations so far, the hypervolume of all of them, and for LINAS the predictor
/// chosen per objective with its cross-validated error.
/// </summary>
public sealed record BatchRecord(int Batch, int Evaluations, double Hypervolume, IReadOnlyList<PredictorScore>? Predictors = null);

/// <summary>An NSGA-II population member as saved (raw genes, so inactive genes keep their diversity).</summary>
public sealed record PopulationMember(IReadOnlyList<int> Genes, IReadOnlyList<double> Objectives, int Rank, double Crowding);

/// <summary>
/// Everything a search needs to continue exactly where it stopped: options and space (checked on resume), the
/// random stream, the batch counter, every evaluation, the hypervolume trace, and (plain NSGA-II) the population.
/// Saved only between batches.
/// </summary>
public sealed record SearchState
{
    public const int CurrentFormat = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // crowding distances are often Infinity
        Converters = { new JsonStringEnumConverter() },
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    public int Format { get; init; } = CurrentFormat;

    public required SearchOptions Options { get; init; }

    /// <summary><see cref="SearchSpace.Signature"/> of the space searched.</summary>
    public required string Space { get; init; }

    /// <summary>xoshiro256** state words (hex).</summary>
    public required IReadOnlyList<string> Rng { get; init; }

    public int Batches { get; init; }

    /// <summary>True when the space ran out of new points before the budget was spent.</summary>
    public bool Exhausted { get; init; }

    public IReadOnlyList<EvaluationRecord> Evaluations { get; init; } = [];

    public IReadOnlyList<BatchRecord> History { get; init; } = [];

    public IReadOnlyList<PopulationMember>? Population { get; init; }

    /// <summary>
    /// What the caller evaluated with (the search command: model, objectives, data, dtype), as name/value pairs. The
    /// driver ignores them: the caller adds them to a saved state (<c>with { Settings = … }</c>) and compares them
    /// before resuming. Not written when null.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? Settings { get; init; }

    public string ToJson() => Serialize(this);

    internal static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Json);

    public static SearchState FromJson(string json, string source = "search state")
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonText.EnsureValidStrings(Encoding.UTF8.GetBytes(json), source);
        try
        {
            var state = JsonSerializer.Deserialize<SearchState>(json, Json)
                ?? throw new JsonException("the document is null");
            if (state.Format != CurrentFormat)
            {
                throw new LlamaNasException(DiagnosticCodes.SearchStateInvalid, $"search state format {state.Format} is not supported (this version reads format {CurrentFormat}).", new DiagnosticLocation(source, Item: "format"));
            }

            return state;
        }
        catch (JsonException e)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchStateInvalid, $"search state is not valid: {e.Message} Delete it to start the search afresh.", new DiagnosticLocation(source, (int)(e.LineNumber ?? 0) + 1), e);
        }
    }

    public void Save(string path)
    {
        AtomicFile.WriteAllText(path, ToJson());
    }

    public static SearchState Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new LlamaNasException(DiagnosticCodes.SearchStateInvalid, "search state file not found.", new DiagnosticLocation(path));
        }

        return FromJson(File.ReadAllText(path), path);
    }
}
