using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training;
using LlamaNas.Engine.Training.Data;
using LlamaNas.TestSupport;

namespace LlamaNas.Engine.Tests.Training;

/// <summary>What the training tests train on: packed TinyStories rows in the stories260K tokenizer, and synchronous progress.</summary>
internal static class TrainingTestData
{
    public static TokenBlocks Stories(int documents, int sequenceLength)
    {
        var tokenizer = TokenizerLoader.Load(SharedData.Stories260K);
        var docs = TextCorpus.Load(SharedData.Path("data", "tinystories", "train-v1-head.txt")).Take(documents);
        return TokenBlocks.Pack(docs.Select(d => TextCorpus.Tokenize(d, tokenizer)), sequenceLength);
    }
}

/// <summary>Progress that reports synchronously on the caller's thread (Progress&lt;T&gt; posts asynchronously).</summary>
internal sealed class SyncProgress(Action<StepReport> report) : IProgress<StepReport>
{
    public void Report(StepReport value) => report(value);
}
