using System.Text;
using LlamaNas.Core.IO;
using LlamaNas.Engine.Generation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training.Data;

namespace LlamaNas.Pipeline.Build;

/// <summary>
/// The data stage. With SelfGeneratedData it samples training and held-out documents from the base model itself
/// (temperature 1, no truncation: the model's own distribution; seeded, so a rebuild writes the same bytes) for users
/// who no longer have the original training data: held-out perplexity on the base model's own samples then measures
/// how faithfully a sub-network keeps the base model's behaviour. With several text files it joins them.
/// </summary>
internal static class DataStage
{
    public const string Separator = "<|endoftext|>";

    /// <summary>Seed streams of the two splits, apart from each other and from the other stages' uses of the seed.</summary>
    private const ulong TrainStream = 0x9E3779B97F4A7C15UL;
    private const ulong HeldOutStream = 0xC2B2AE3D27D4EB4FUL;
    private const int GenerationBatch = 64;

    public static void Run(BuildContext context, BuildLog log)
    {
        var p = context.Project;
        if (!p.SelfGeneratedData)
        {
            var text = string.Join($"\n{Separator}\n", p.TrainingData.SelectMany(f => TextCorpus.Load(f)));
            AtomicFile.WriteAllText(context.TrainingFile!, text + "\n");
            log.Progress($"joined {p.TrainingData.Count} text files into {context.TrainingFile}");
            return;
        }

        TorchRuntime.EnsureInitialized();
        var tokenizer = TokenizerLoader.LoadForModel(p.BaseModel);
        using var model = LlamaForCausalLM.Load(p.BaseModel);
        Write(context.TrainingFile!, Sample(model, tokenizer, p.SelfGeneratedSamples, p.SelfGeneratedTokens, p.Seed ^ TrainStream));
        Write(context.HeldOutFile!, Sample(model, tokenizer, p.SelfGeneratedHeldOutSamples, p.SelfGeneratedTokens, p.Seed ^ HeldOutStream));
        log.Progress($"sampled {p.SelfGeneratedSamples} training and {p.SelfGeneratedHeldOutSamples} held-out documents of up to {p.SelfGeneratedTokens} tokens from the base model");
    }

    private static List<string> Sample(LlamaForCausalLM model, ITextTokenizer tokenizer, int count, int tokens, ulong seed)
    {
        var bos = tokenizer.BosId ?? 0;
        var eos = tokenizer.EosId is { } e ? new[] { e } : [];
        var documents = new List<string>(count);
        for (var start = 0; start < count; start += GenerationBatch)
        {
            var n = Math.Min(GenerationBatch, count - start);
            var prompts = Enumerable.Range(0, n).Select(_ => (IReadOnlyList<int>)[bos]).ToList();

            // One seed per batch, so the documents do not depend on anything but (seed, batch index).
            var options = new GenerationOptions { MaxNewTokens = tokens, Temperature = 1.0, TopP = 1.0, Seed = seed + (ulong)start, StopAtEos = true };
            foreach (var ids in TextGenerator.Generate(model, prompts, options, eos))
            {
                var text = tokenizer.Decode(ids).Trim();
                if (text.Length > 0)
                {
                    documents.Add(text.Replace(Separator, string.Empty, StringComparison.Ordinal));
                }
            }
        }

        return documents;
    }

    private static void Write(string path, List<string> documents)
    {
        var text = new StringBuilder();
        foreach (var d in documents)
        {
            text.Append(d).Append('\n').Append(Separator).Append('\n');
        }

        AtomicFile.WriteAllText(path, text.ToString());
    }
}
