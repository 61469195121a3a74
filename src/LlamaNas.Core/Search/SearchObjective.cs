using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Core.Search;

/// <summary>What a search objective measures on a sub-network.</summary>
public enum ObjectiveKind
{
    /// <summary>lm-eval acc on a multiple-choice task (maximised).</summary>
    Accuracy,

    /// <summary>lm-eval acc_norm on a multiple-choice task (maximised).</summary>
    AccuracyNorm,

    /// <summary>Token perplexity on a held-out text.</summary>
    Perplexity,

    /// <summary>Stored size in GB (10^9 bytes), analytic, in a storage format.</summary>
    Size,

    /// <summary>Parameter count, analytic.</summary>
    Parameters,

    /// <summary>Measured prefill throughput in tokens per second (maximised).</summary>
    Throughput,

    /// <summary>Measured decode latency in seconds per generated token.</summary>
    Latency,
}

/// <summary>
/// One objective of a search, written <c>kind[:argument]</c> on the command line: <c>accuracy:&lt;task&gt;</c>,
/// <c>accuracy_norm:&lt;task&gt;</c>, <c>perplexity[:&lt;text file&gt;]</c>, <c>size[:fp32|fp16|bf16|int8]</c>,
/// <c>params</c>, <c>throughput</c>, <c>latency</c> (a bare <c>accuracy</c> takes the task of <c>--task</c>). The search minimises every objective: the metrics that grow
/// when better (accuracy, throughput) enter it negated, and perplexity enters as its logarithm (the mean token
/// cross-entropy in nats), so that neither the hypervolume nor the predictors are dominated by the worst
/// sub-networks (a perplexity drop from 400 to 300 is worth less than one from 10 to 8).
/// <see cref="ToObjective"/> and <see cref="ToMetric"/> convert between the two.
/// </summary>
public sealed record SearchObjective(ObjectiveKind Kind, string? Argument = null)
{
    /// <summary>Storage formats a <c>size</c> objective accepts.</summary>
    public static IReadOnlyList<string> SizeFormats { get; } = ["fp32", "fp16", "bf16", "int8"];

    private static readonly (string Text, ObjectiveKind Kind)[] Names =
    [
        ("accuracy", ObjectiveKind.Accuracy),
        ("accuracy_norm", ObjectiveKind.AccuracyNorm),
        ("perplexity", ObjectiveKind.Perplexity),
        ("size", ObjectiveKind.Size),
        ("params", ObjectiveKind.Parameters),
        ("throughput", ObjectiveKind.Throughput),
        ("latency", ObjectiveKind.Latency),
    ];

    /// <summary>The command-line name, argument included (<c>accuracy:arc_easy</c>, <c>size:int8</c>).</summary>
    public string Name => Argument is null ? KindName : $"{KindName}:{Argument}";

    /// <summary>The name without folders (<c>perplexity:valid.txt</c>), as recorded in outputs that must not depend on where files live.</summary>
    public string PortableName => Kind == ObjectiveKind.Perplexity && Argument is not null ? MetricName : Name;

    /// <summary>
    /// The column header of the raw metric, with its unit: <c>accuracy:arc_easy</c>, <c>perplexity:valid.txt</c>
    /// (file name only), <c>size_gb:fp16</c>, <c>params</c>, <c>throughput_tokens_per_s</c>, <c>latency_s_per_token</c>.
    /// </summary>
    public string MetricName => Kind switch
    {
        ObjectiveKind.Perplexity when Argument is not null => $"perplexity:{Path.GetFileName(Argument)}",
        ObjectiveKind.Size => Argument is null ? "size_gb" : $"size_gb:{Argument}",
        ObjectiveKind.Throughput => "throughput_tokens_per_s",
        ObjectiveKind.Latency => "latency_s_per_token",
        _ => Name,
    };

    /// <summary>True for metrics that are better when larger; the search minimises their negation.</summary>
    public bool IsMaximised => Kind is ObjectiveKind.Accuracy or ObjectiveKind.AccuracyNorm or ObjectiveKind.Throughput;

    /// <summary>True for timings: they vary from run to run, so a search using them is not reproducible.</summary>
    public bool IsMeasured => Kind is ObjectiveKind.Throughput or ObjectiveKind.Latency;

    /// <summary>How the metric enters the (minimised) search: <c>metric</c>, <c>-metric</c> or <c>ln(metric)</c>.</summary>
    public string MinimisedAs => IsMaximised ? "-metric" : Kind == ObjectiveKind.Perplexity ? "ln(metric)" : "metric";

    private string KindName => Names.First(n => n.Kind == Kind).Text;

    public double ToObjective(double metric) => IsMaximised ? -metric : Kind == ObjectiveKind.Perplexity ? Math.Log(metric) : metric;

    public double ToMetric(double objective) => IsMaximised ? -objective : Kind == ObjectiveKind.Perplexity ? Math.Exp(objective) : objective;

    /// <summary>
    /// Parses one objective; LNAS0530 for an unknown name or a missing or invalid argument. An accuracy objective
    /// written without a task takes <paramref name="defaultTask"/> (the command line's <c>--task</c>).
    /// </summary>
    public static SearchObjective Parse(string text, string source = "--objectives", string? defaultTask = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var name = (colon < 0 ? text : text[..colon]).Trim().ToLowerInvariant();
        var argument = colon < 0 ? null : text[(colon + 1)..].Trim();
        if (colon < 0 && name is "accuracy" or "accuracy_norm")
        {
            argument = defaultTask;
        }

        var kind = Names.Where(n => n.Text == name).Select(n => (ObjectiveKind?)n.Kind).FirstOrDefault()
            ?? throw Unknown(text, source, $"unknown objective '{name}'");
        var problem = kind switch
        {
            ObjectiveKind.Accuracy or ObjectiveKind.AccuracyNorm when string.IsNullOrEmpty(argument) => $"'{name}' needs a task: {name}:<task> (e.g. {name}:arc_easy) or --task <task>",
            ObjectiveKind.Perplexity when argument is { Length: 0 } => "'perplexity:' needs a text file after the colon (or write 'perplexity' and give --perplexity-text)",
            ObjectiveKind.Size when argument is not null && !SizeFormats.Contains(argument.ToLowerInvariant()) => $"size format '{argument}' is not one of {string.Join(", ", SizeFormats)}",
            ObjectiveKind.Parameters or ObjectiveKind.Throughput or ObjectiveKind.Latency when argument is not null => $"'{name}' takes no argument",
            _ => null,
        };
        if (problem is not null)
        {
            throw Unknown(text, source, problem);
        }

        return new SearchObjective(kind, kind == ObjectiveKind.Size ? argument?.ToLowerInvariant() : argument);
    }

    /// <summary>
    /// Parses a comma-separated list of 2 or 3 distinct objectives (LNAS0531 otherwise). A path holding a comma
    /// cannot be written inline: pass it with <c>--perplexity-text</c>.
    /// </summary>
    public static IReadOnlyList<SearchObjective> ParseList(string text, string source = "--objectives", string? defaultTask = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var objectives = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => Parse(t, source, defaultTask)).ToList();
        if (objectives.Count is < 2 or > 3)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchObjectiveCount, $"a search needs 2 or 3 objectives, e.g. 'accuracy:arc_easy,size'; {objectives.Count} given.", new DiagnosticLocation(source));
        }

        var repeated = objectives.GroupBy(o => o.MetricName, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null)
        {
            throw new LlamaNasException(DiagnosticCodes.SearchObjectiveCount, $"objective '{repeated.Key}' is listed twice; list each objective once.", new DiagnosticLocation(source, Item: repeated.Key));
        }

        return objectives;
    }

    private static LlamaNasException Unknown(string text, string source, string problem) => new(
        DiagnosticCodes.SearchObjectiveUnknown,
        $"{problem}. Objectives: accuracy:<task>, accuracy_norm:<task>, perplexity[:<text file>], size[:{string.Join('|', SizeFormats)}], params, throughput, latency.",
        new DiagnosticLocation(source, Item: text.Trim()));
}
