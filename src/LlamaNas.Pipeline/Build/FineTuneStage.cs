using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Training;
using LlamaNas.Pipeline.Cache;

namespace LlamaNas.Pipeline.Build;

/// <summary>
/// The fine-tuning stage: the base model becomes an elastic super-network in the cache folder named by the stage key
/// (<c>&lt;cache&gt;/supernets/&lt;key&gt;/</c>), which <c>dotnet clean</c> never touches. An interrupted build
/// resumes from the folder's last checkpoint; a finished one is reused by every build with the same key. With feeds
/// configured (LlamaNasCacheFeeds, docs/CACHING.md) the super-network is first looked up there by its key and restored
/// instead of trained, and one this build trained is pushed (unless LlamaNasCacheMode is read or off).
/// </summary>
internal static class FineTuneStage
{
    public static void Run(BuildContext context, BuildLog log, CancellationToken cancel)
    {
        var p = context.Project;
        var feeds = SupernetFeeds.Open(p, log);
        var key = context.Keys[StageNames.FineTune];
        if (feeds.Sources.Count > 0 && feeds.TryRestore(key, context.SupernetDir, cancel))
        {
            return;
        }

        var settings = new FineTuneSettings
        {
            BaseModel = p.BaseModel,
            DataFile = context.TrainingFile!,
            Format = p.TrainingDataFormat,
            Output = context.SupernetDir,
            Strategy = new StrategyOptions { Name = p.FineTuneStrategy, Seed = p.Seed },
            Space = p.Space,
            Trainer = new TrainerOptions
            {
                Steps = p.FineTuneSteps,
                BatchSize = p.FineTuneBatchSize,
                LearningRate = p.FineTuneLearningRate,
                WarmupSteps = Math.Min(10, p.FineTuneSteps / 10),
                Seed = p.Seed,
                CheckpointEvery = Math.Max(10, p.FineTuneSteps / 10),
                Distillation = new DistillationOptions
                {
                    InPlace = p.FineTuneDistill == "inplace",
                    Teacher = p.FineTuneDistill == "base" ? p.BaseModel : null,
                    Temperature = p.FineTuneDistillTemperature,
                    Alpha = p.FineTuneDistillAlpha,
                },
            },
            SequenceLength = p.FineTuneSequenceLength,
            Dtype = ComputeDtype.Parse(p.ComputeDtype),

            // A half-finished run in the key's folder is this very run, interrupted: continue it.
            Resume = true,
            Permute = p.FineTunePermute,
            Lora = p.FineTuneLoraRank > 0 ? new LoraOptions { Rank = p.FineTuneLoraRank } : null,
        };
        SupernetFineTuning.Validate(settings);
        TorchRuntime.EnsureInitialized();
        SupernetFineTuning.Run(settings, new StepLines(log.Progress, Math.Max(1, p.FineTuneSteps / 10)), cancel);
        if (p.CacheMode == "readwrite" && feeds.Sources.Count > 0)
        {
            feeds.Push(key, context.SupernetDir, Description(context), Tags(context), p.CachePackageLimit, cancel);
        }
    }

    /// <summary>What made the super-network, for people browsing the feed (the key alone decides a restore).</summary>
    private static string Description(BuildContext context)
    {
        var p = context.Project;
        return $"llamanas super-network {context.Keys[StageNames.FineTune]}: base model {p.BaseModelHub?.Reference.ToString() ?? Path.GetFileName(p.BaseModel.TrimEnd('/', '\\'))} ({context.BaseModelKey}), "
            + $"data {context.Keys[StageNames.Data]}, strategy {p.FineTuneStrategy}, {p.FineTuneSteps} steps, seed {p.Seed}, engine {BuildContext.EngineVersion}.";
    }

    private static IEnumerable<string> Tags(BuildContext context) =>
        ["llamanas", "supernet", "strategy-" + context.Project.FineTuneStrategy, "engine-" + BuildContext.EngineVersion.Split('+')[0]];
}
