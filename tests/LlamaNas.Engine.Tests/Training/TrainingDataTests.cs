using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training.Data;
using LlamaNas.TestSupport;

namespace LlamaNas.Engine.Tests.Training;

public sealed class TrainingDataTests : IDisposable
{
    private static readonly ITextTokenizer Tokenizer = TokenizerLoader.Load(SharedData.Stories260K);
    private readonly string _dir = Directory.CreateTempSubdirectory("llamanas-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Alpaca_prompts_follow_the_stanford_template()
    {
        Assert.Equal(
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSay hi.\n\n### Response:\n",
            InstructionData.Prompt(new("Say hi.", string.Empty, "Hi")));
        Assert.Equal(
            "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n1 2\n\n### Response:\n",
            InstructionData.Prompt(new("Add.", "1 2", "3")));
    }

    [Fact]
    public void Only_the_response_and_eos_are_targets()
    {
        var record = new InstructionRecord("Tell a story.", string.Empty, "Once upon a time there was a cat.");
        var e = InstructionData.Tokenize(record, Tokenizer);
        Assert.Equal(Tokenizer.BosId, e.Tokens[0]);
        Assert.Equal(Tokenizer.EosId, e.Tokens[^1]);
        var targets = e.Tokens.Where((_, i) => e.IsTarget[i]).ToList();
        Assert.Equal(Tokenizer.EosId, targets[^1]);
        Assert.Equal(record.Output, Tokenizer.Decode(targets.SkipLast(1)).Trim());
        Assert.DoesNotContain(true, e.IsTarget.Take(1 + Tokenizer.Encode(InstructionData.Prompt(record), addSpecialTokens: false).Count));
    }

    [Fact]
    public void The_real_alpaca_subset_and_tinystories_corpus_load()
    {
        var alpaca = InstructionData.Load(SharedData.Path("data", "alpaca", "alpaca_small_2000_subset.json"));
        Assert.Equal(2000, alpaca.Count);
        Assert.Equal(753, alpaca.Count(r => r.Input.Length > 0));
        Assert.Equal(2316, TextCorpus.Load(SharedData.Path("data", "tinystories", "train-v1-head.txt")).Count);
    }

    [Fact]
    public void Bad_records_are_coded_errors_with_line_numbers()
    {
        var jsonl = Path.Combine(_dir, "data.jsonl");
        File.WriteAllText(jsonl, "{\"instruction\":\"a\",\"output\":\"b\"}\n\n{\"instruction\":\"a\"}\n");
        var e = Assert.Throws<LlamaNasException>(() => InstructionData.Load(jsonl));
        Assert.Equal(DiagnosticCodes.TrainingDataInvalidRecord, e.Code);
        Assert.Equal(3, e.Diagnostic.Location!.Line);

        File.WriteAllText(jsonl, "{\"instruction\": oops}\n");
        Assert.Equal(DiagnosticCodes.TrainingDataInvalidJson, Assert.Throws<LlamaNasException>(() => InstructionData.Load(jsonl)).Code);

        var text = Path.Combine(_dir, "text.jsonl");
        File.WriteAllText(text, "{\"text\":\"ok\"}\n{\"body\":\"no\"}\n");
        var t = Assert.Throws<LlamaNasException>(() => TextCorpus.Load(text));
        Assert.Equal((DiagnosticCodes.TrainingDataInvalidRecord, 2), (t.Code, t.Diagnostic.Location!.Line));
        Assert.Equal(DiagnosticCodes.TrainingDataNotFound, Assert.Throws<LlamaNasException>(() => TextCorpus.Load(Path.Combine(_dir, "none.txt"))).Code);
    }

    [Fact]
    public void Packing_predicts_every_target_exactly_once()
    {
        var examples = TextCorpus.Load(SharedData.Path("data", "tinystories", "train-v1-head.txt")).Take(20).Select(d => TextCorpus.Tokenize(d, Tokenizer)).ToList();
        var blocks = TokenBlocks.Pack(examples, 64);
        var stream = examples.SelectMany(e => e.Tokens).ToList();
        var streamTargets = examples.SelectMany(e => e.IsTarget).ToList();
        Assert.Equal((stream.Count - 1) / 64, blocks.Count);
        var predicted = Enumerable.Range(0, blocks.Count).Sum(b => blocks[b].IsTarget.Skip(1).Count(t => t));
        Assert.Equal(streamTargets.Take((blocks.Count * 64) + 1).Skip(1).Count(t => t), predicted);
        Assert.Equal(blocks[0].Tokens[64], blocks[1].Tokens[0]); // rows overlap by one token
    }

    [Fact]
    public void Padding_keeps_one_example_per_row_and_never_targets_padding()
    {
        var examples = new[] { new TrainingExample([1, 5, 6], [false, true, true]), new TrainingExample([1, 7, 8, 9, 10, 11, 12], [false, true, true, true, true, true, true]) };
        var blocks = TokenBlocks.Pad(examples, 4, padId: 0);
        Assert.Equal(2, blocks.Count);
        Assert.Equal([1, 5, 6, 0, 0], blocks[0].Tokens);
        Assert.Equal([false, true, true, false, false], blocks[0].IsTarget);
        Assert.Equal([1, 7, 8, 9, 10], blocks[1].Tokens);
    }

    [Fact]
    public void Batches_are_deterministic_cover_each_epoch_and_resume_exactly()
    {
        var examples = Enumerable.Range(0, 10).Select(i => new TrainingExample([i, i, i], [false, true, true]));
        var blocks = TokenBlocks.Pad(examples, 2, 0);
        var a = new BatchSampler(blocks, 3, seed: 7);
        var firstTwoEpochs = Enumerable.Range(0, 20).Select(_ => a.Next()).SelectMany(b => Enumerable.Range(0, b.Rows).Select(r => b.Tokens[r * b.Length])).Take(20).ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), firstTwoEpochs.Take(10).Order());
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), firstTwoEpochs.Skip(10).Take(10).Order());
        Assert.NotEqual(firstTwoEpochs.Take(10), firstTwoEpochs.Skip(10).Take(10));

        var b = new BatchSampler(blocks, 3, seed: 7);
        for (var i = 0; i < 5; i++)
        {
            b.Next();
        }

        var resumed = new BatchSampler(blocks, 3, seed: 7, b.Position);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(b.Next().Tokens, resumed.Next().Tokens);
        }

        Assert.NotEqual(new BatchSampler(blocks, 3, seed: 8).Next().Tokens, new BatchSampler(blocks, 3, seed: 7).Next().Tokens);
    }
}
