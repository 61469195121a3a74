using LlamaNas.Engine.Generation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Modeling;

/// <summary>The real pretrained stories260K checkpoint, end to end.</summary>
public class Stories260KTests
{
    public const string ReferenceStory = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high";

    public Stories260KTests() => TorchTest.Init();

    private static string ModelDir => SharedData.Stories260K;

    [Fact]
    public void Greedy_60_tokens_from_BOS_reproduce_the_reference_story()
    {
        using var model = LlamaForCausalLM.Load(ModelDir);
        var text = TextGenerator.GenerateText(model, TokenizerLoader.Load(ModelDir), string.Empty, new GenerationOptions { MaxNewTokens = 60 });
        Assert.Equal(ReferenceStory, text);
    }

    [Fact]
    public void Bf16_compute_loads_straight_into_bf16_and_keeps_the_story_on_track()
    {
        using var model = LlamaForCausalLM.Load(ModelDir, ScalarType.BFloat16);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        var text = TextGenerator.GenerateText(model, TokenizerLoader.Load(ModelDir), "Once upon a time", new GenerationOptions { MaxNewTokens = 8 });
        Assert.StartsWith("Once upon a time, there was a little", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Padded_batch_of_real_prompts_generates_what_each_prompt_generates_alone()
    {
        using var model = LlamaForCausalLM.Load(ModelDir);
        var tokenizer = TokenizerLoader.Load(ModelDir);
        IReadOnlyList<int>[] prompts = [tokenizer.Encode("Tom had a dog."), tokenizer.Encode("The sun was hot and the birds sang in the tall green trees."), tokenizer.Encode("Mia")];
        var options = new GenerationOptions { MaxNewTokens = 20, StopAtEos = false };
        var batched = TextGenerator.Generate(model, prompts, options, [2]);
        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(TextGenerator.Generate(model, [prompts[i]], options, [2])[0], batched[i]);
        }
    }
}
