using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Models;
using LlamaNas.Core.Search;
using LlamaNas.Pipeline.Search;

namespace LlamaNas.Tool.Search;

/// <summary>
/// The search-space options of every verb that samples, searches or lists sub-networks: <c>--depths 3,4,5
/// --mlp 86,129,172 --heads 4,8 --hidden 48,64</c>, the dimensions of <see cref="SearchSpaceSpec"/>
/// (docs/SEARCH.md). <paramref name="defaults"/> tells, in the help, what a verb uses for an option left out.
/// </summary>
internal sealed class SpaceOptions(string defaults)
{
    public Option<string?> Depths { get; } = new("--depths") { Description = $"Depth choices, comma-separated (a sub-network keeps the first N layers). {defaults}" };

    public Option<string?> Mlp { get; } = new("--mlp") { Description = "MLP width choices per layer, comma-separated (keep the first k neurons)." };

    public Option<string?> Heads { get; } = new("--heads") { Description = "Query-head choices per layer, comma-separated, multiples of the heads per KV group (keep whole KV groups)." };

    public Option<string?> Hidden { get; } = new("--hidden") { Description = "Hidden-width choices, comma-separated (keep the first d features)." };

    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(Depths);
        command.Options.Add(Mlp);
        command.Options.Add(Heads);
        command.Options.Add(Hidden);
    }

    /// <summary>The choices as given (null for an option left out); LNAS0532 for a malformed list.</summary>
    public SpaceChoices Read(ParseResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new SpaceChoices(
            Choices(result.GetValue(Depths), Depths.Name),
            Choices(result.GetValue(Mlp), Mlp.Name),
            Choices(result.GetValue(Heads), Heads.Name),
            Choices(result.GetValue(Hidden), Hidden.Name));
    }

    /// <summary>
    /// The declared space; null when no option is given. Depths default to the base model's layer count when only
    /// widths are given.
    /// </summary>
    public SearchSpaceSpec? Spec(ParseResult result, LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = Read(result);
        return c is { Depths: null, Mlp: null, Heads: null, Hidden: null }
            ? null
            : new SearchSpaceSpec { Depths = c.Depths ?? [config.NumHiddenLayers], IntermediateSizes = c.Mlp, AttentionHeads = c.Heads, HiddenSizes = c.Hidden };
    }

    /// <summary>A comma-separated list of integers; LNAS0532 when it is not one.</summary>
    public static IReadOnlyList<int>? Choices(string? text, string option)
    {
        if (text is null)
        {
            return null;
        }

        var values = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                throw new LlamaNasException(DiagnosticCodes.SearchChoicesInvalid, $"'{text}' is not a comma-separated list of positive integers (e.g. 3,4,5); '{part}' is not one.", new DiagnosticLocation(option));
            }

            values.Add(value);
        }

        return values;
    }
}

