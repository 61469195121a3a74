using System.Text.Json;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;

namespace LlamaNas.Engine.Tests.Tokenization;

/// <summary>The real tokenizers from ../shared, loaded once (tokenizers are immutable and thread-safe).</summary>
internal static class RealTokenizers
{
    private static readonly Lazy<ITextTokenizer> Llama2Lazy = new(() => TokenizerLoader.Load(SharedData.Path("models", "llama2-tokenizer", "tokenizer.model")));
    private static readonly Lazy<ITextTokenizer> StoriesLazy = new(() => TokenizerLoader.Load(SharedData.Stories260K));
    private static readonly Lazy<ITextTokenizer> SmolLazy = new(() => TokenizerLoader.Load(SharedData.Path("models", "smollm2-135m")));

    public static ITextTokenizer Llama2 => Llama2Lazy.Value;

    public static ITextTokenizer Stories260K => StoriesLazy.Value;

    public static ITextTokenizer SmolLM2 => SmolLazy.Value;

    public static ITextTokenizer ByName(string name) => name switch
    {
        "llama2" => Llama2,
        "stories260K" => Stories260K,
        "smollm2" => SmolLM2,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown tokenizer"),
    };

    public static string[] Pieces(this ITextTokenizer tokenizer, IEnumerable<int> ids) => ids.Select(tokenizer.TokenToString).ToArray();
}

/// <summary>Real text from ../shared/data for round trips.</summary>
internal static class SharedText
{
    /// <summary>The first <paramref name="count"/> paragraph lines of the TinyStories training head (separators skipped).</summary>
    public static IEnumerable<string> TinyStoriesLines(int count) =>
        File.ReadLines(SharedData.Path("data", "tinystories", "train-v1-head.txt"))
            .Where(l => l.Length > 0 && l != "<|endoftext|>")
            .Take(count);

    /// <summary>The instruction, input and output fields of the first <paramref name="rows"/> Alpaca records.</summary>
    public static IEnumerable<string> AlpacaFields(int rows)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(SharedData.Path("data", "alpaca", "alpaca_small_2000_subset.json")));
        return doc.RootElement.EnumerateArray().Take(rows)
            .SelectMany(r => new[] { "instruction", "input", "output" }.Select(f => r.GetProperty(f).GetString()!))
            .Where(s => s.Length > 0)
            .ToList();
    }
}

/// <summary>A temporary directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => System.IO.Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "llamanas-tok-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string content)
    {
        var path = File(name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    public string Write(string name, byte[] content)
    {
        var path = File(name);
        System.IO.File.WriteAllBytes(path, content);
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Path, recursive: true);
}
