using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Pipeline.ScaleOut;

/// <summary>
/// <see cref="EvaluatorSettings"/> as a work manifest holds them. Paths inside the shared folder are written relative
/// to the manifest's folder, so workers that mount the folder elsewhere (a pod's volume) find them; other paths stay
/// absolute and must exist at the same place on every worker.
/// </summary>
public sealed record EvaluatorManifest
{
    public required string Model { get; init; }

    public required string Dtype { get; init; }

    public required IReadOnlyList<ObjectiveEntry> Objectives { get; init; }

    public required string DataDir { get; init; }

    public int? Limit { get; init; }

    public ulong LimitSeed { get; init; }

    public int? NumFewshot { get; init; }

    public string? FewshotPool { get; init; }

    public string? UserTask { get; init; }

    public bool AddBos { get; init; }

    public long PerplexityTokens { get; init; }

    public int MaxLength { get; init; }

    public PerplexityProtocol PerplexityProtocol { get; init; }

    public int PerplexityContext { get; init; }

    public bool SharePrefixes { get; init; }

    public IReadOnlyList<int>? Depths { get; init; }

    public IReadOnlyList<int>? Mlp { get; init; }

    public IReadOnlyList<int>? Heads { get; init; }

    public IReadOnlyList<int>? Hidden { get; init; }

    public required SpeedOptions Speed { get; init; }

    /// <summary>The settings with every path mapped by <paramref name="path"/> (to the manifest's form).</summary>
    public static EvaluatorManifest From(EvaluatorSettings s, Func<string, string> path)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(path);
        return new EvaluatorManifest
        {
            Model = path(s.Model),
            Dtype = ComputeDtype.Name(s.Dtype),
            Objectives = [.. s.Objectives.Select(o => new ObjectiveEntry(o.Kind, o.Kind == ObjectiveKind.Perplexity && o.Argument is { } file ? path(file) : o.Argument))],
            // Only accuracy objectives read the data folder; an unused one must not make the same work look different.
            DataDir = s.Objectives.Any(o => o.Kind is ObjectiveKind.Accuracy or ObjectiveKind.AccuracyNorm) ? path(s.DataDir) : "",
            Limit = s.Limit,
            LimitSeed = s.LimitSeed,
            NumFewshot = s.TaskOptions.NumFewshot,
            FewshotPool = s.TaskOptions.FewshotPoolPath is { } pool ? path(pool) : null,
            UserTask = s.TaskOptions.UserTaskFile is { } user ? path(user) : null,
            AddBos = s.AddBos,
            PerplexityTokens = s.PerplexityTokens,
            MaxLength = s.MaxLength,
            PerplexityProtocol = s.Perplexity.Protocol,
            PerplexityContext = s.Perplexity.Context,
            SharePrefixes = s.SharePrefixes,
            Depths = s.Space.Depths,
            Mlp = s.Space.Mlp,
            Heads = s.Space.Heads,
            Hidden = s.Space.Hidden,
            Speed = s.Speed,
        };
    }

    /// <summary>The settings a worker evaluates with, every path mapped back by <paramref name="path"/>.</summary>
    public EvaluatorSettings ToSettings(Func<string, string> path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new EvaluatorSettings
        {
            Model = path(Model),
            Dtype = ComputeDtype.Parse(Dtype),
            Objectives = [.. Objectives.Select(o => new SearchObjective(o.Kind, o.Kind == ObjectiveKind.Perplexity && o.Argument is { } file ? path(file) : o.Argument))],
            DataDir = path(DataDir),
            Limit = Limit,
            LimitSeed = LimitSeed,
            TaskOptions = new TaskLoadOptions { NumFewshot = NumFewshot, FewshotPoolPath = FewshotPool is null ? null : path(FewshotPool), UserTaskFile = UserTask is null ? null : path(UserTask) },
            AddBos = AddBos,
            PerplexityTokens = PerplexityTokens,
            MaxLength = MaxLength,
            Perplexity = new PerplexityOptions { Protocol = PerplexityProtocol, Context = PerplexityContext },
            SharePrefixes = SharePrefixes,
            Space = new SpaceChoices(Depths, Mlp, Heads, Hidden),
            Speed = Speed,
        };
    }
}

/// <summary>An objective as its kind and argument (a perplexity text's path in the manifest's form).</summary>
public sealed record ObjectiveEntry(ObjectiveKind Kind, string? Argument);
