using LlamaNas.Engine.Modeling;
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

    /// <summary>Every weight's bytes, base and LoRA adapters, in a fixed order.</summary>
    public static byte[] Weights(LlamaForCausalLM model) =>
        [.. model.parameters().Concat(model.LoraAdapters.SelectMany(a => new TorchSharp.torch.Tensor[] { a.A, a.B })).SelectMany(p => p.data<float>().ToArray().SelectMany(BitConverter.GetBytes))];

    /// <summary>
    /// Trains a run through to the end; trains another to step <paramref name="checkpointAt"/>, checkpoints, takes one
    /// more step whose work is lost (the "kill"); resumes a third from the checkpoint to the end. Asserts the resumed
    /// run's losses and final weights equal the uninterrupted run's, byte for byte.
    /// </summary>
    public static void AssertResumesExactly(Func<LlamaForCausalLM> newModel, Func<LlamaForCausalLM, Trainer> newTrainer, string checkpoints, int checkpointAt)
    {
        var straight = new List<double>();
        byte[] final;
        using (var model = newModel())
        using (var trainer = newTrainer(model))
        {
            trainer.Run(progress: new SyncProgress(r => straight.Add(r.Loss)));
            final = Weights(model);
        }

        var resumed = new List<double>();
        using (var model = newModel())
        using (var trainer = newTrainer(model))
        {
            while (trainer.Step < checkpointAt)
            {
                resumed.Add(trainer.TrainStep().Loss);
            }

            trainer.SaveCheckpoint(checkpoints);
            trainer.TrainStep();
        }

        using (var model = newModel())
        using (var trainer = newTrainer(model))
        {
            Assert.True(trainer.TryResume(checkpoints));
            Assert.Equal(checkpointAt, trainer.Step);
            trainer.Run(progress: new SyncProgress(r => resumed.Add(r.Loss)));
            Assert.Equal(final, Weights(model));
        }

        Assert.Equal(straight, resumed);
    }
}

/// <summary>Progress that reports synchronously on the caller's thread (Progress&lt;T&gt; posts asynchronously).</summary>
internal sealed class SyncProgress(Action<StepReport> report) : IProgress<StepReport>
{
    public void Report(StepReport value) => report(value);
}
