using System.CommandLine;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;

namespace LlamaNas.Tool.Search;

/// <summary>
/// <c>--depth --mlp --heads --hidden</c>: one sub-network of a model, as the verbs that write or measure a single
/// sub-network (export, quantize) take it. Each list is one value for every kept layer or one per layer.
/// </summary>
public sealed class SubnetworkOptions
{
    private readonly Option<int?> _depth = new("--depth") { Description = "Keep the first N layers (default: all)." };
    private readonly Option<string?> _mlp = new("--mlp") { Description = "MLP width: one value for every kept layer, or one per layer, comma-separated (default: full)." };
    private readonly Option<string?> _heads = new("--heads") { Description = "Query heads: one value or one per layer, multiples of the heads per KV group (default: all)." };
    private readonly Option<int?> _hidden = new("--hidden") { Description = "Hidden width to keep (default: full)." };

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(_depth);
        command.Options.Add(_mlp);
        command.Options.Add(_heads);
        command.Options.Add(_hidden);
    }

    /// <summary>The sub-network of <paramref name="config"/> the options describe (the whole model without them).</summary>
    public SubnetworkArchitecture Read(ParseResult result, LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(result);
        return Architecture(config, result.GetValue(_depth), SpaceOptions.Choices(result.GetValue(_mlp), _mlp.Name), SpaceOptions.Choices(result.GetValue(_heads), _heads.Name), result.GetValue(_hidden));
    }

    /// <summary>
    /// The sub-network the options describe: the first <paramref name="depth"/> layers, each list either one value for
    /// every kept layer or one per layer; KV heads follow from the heads (whole KV groups).
    /// </summary>
    internal static SubnetworkArchitecture Architecture(LlamaConfig config, int? depth, IReadOnlyList<int>? mlp, IReadOnlyList<int>? heads, int? hidden)
    {
        var n = depth ?? config.NumHiddenLayers;
        IReadOnlyList<int> PerLayer(IReadOnlyList<int>? values, string option, Func<int, int> full) => values switch
        {
            null => [.. Enumerable.Range(0, n).Select(full)],
            [var one] => [.. Enumerable.Repeat(one, n)],
            _ when values.Count == n => values,
            _ => throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, $"{option} lists {values.Count} values for {n} kept layers; give one value or one per layer."),
        };

        if (n < 1 || n > config.NumHiddenLayers)
        {
            throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, $"--depth {n} is outside 1 to {config.NumHiddenLayers}, the layers this model has.");
        }

        var q = PerLayer(heads, "--heads", config.AttentionHeadsOf);
        var kv = Enumerable.Range(0, n).Select(l => q[l] * config.KeyValueHeadsOf(l) / config.AttentionHeadsOf(l));
        return new SubnetworkArchitecture(hidden ?? config.HiddenSize, PerLayer(mlp, "--mlp", l => config.IntermediateSizes[l]), q, [.. kv]);
    }
}
