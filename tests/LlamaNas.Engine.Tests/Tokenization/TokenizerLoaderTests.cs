using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;

namespace LlamaNas.Engine.Tests.Tokenization;

public class TokenizerLoaderTests
{
    private const string Story = "Once upon a time, there was a little girl named Lily.";

    [Fact]
    public void A_directory_and_the_tokenizer_file_in_it_load_the_same_tokenizer()
    {
        var fromDir = TokenizerLoader.Load(SharedData.Stories260K);
        var fromFile = TokenizerLoader.Load(SharedData.Path("models", "stories260K", "tokenizer.model"));
        Assert.Equal(fromDir.Encode(Story), fromFile.Encode(Story));

        var json = TokenizerLoader.Load(SharedData.Path("models", "smollm2-135m", "tokenizer.json"));
        Assert.Equal(RealTokenizers.SmolLM2.Encode(Story), json.Encode(Story));
    }

    [Fact]
    public void Add_bos_and_add_eos_come_from_tokenizer_config()
    {
        // The real stories260K config: add_bos_token true, add_eos_token false.
        Assert.Equal([1, 403, 407, 261, 378], RealTokenizers.Stories260K.Encode("Once upon a time"));

        using var dir = TokenizerErrorTests.StoriesCopy();
        dir.Write("tokenizer_config.json", """{"add_bos_token": false, "add_eos_token": true, "bos_token": "<s>", "eos_token": "</s>"}""");
        var flipped = TokenizerLoader.Load(dir.Path);
        Assert.False(flipped.AddBos);
        Assert.True(flipped.AddEos);
        Assert.Equal([403, 407, 261, 378, 2], flipped.Encode("Once upon a time"));
        Assert.Equal([403, 407, 261, 378], flipped.Encode("Once upon a time", addSpecialTokens: false));
        Assert.Equal("Once upon a time", flipped.Decode(flipped.Encode("Once upon a time")));
    }

    [Fact]
    public void A_sentencepiece_tokenizer_defaults_to_bos_without_eos_when_there_is_no_config()
    {
        using var dir = TokenizerErrorTests.StoriesCopy();
        var tok = TokenizerLoader.Load(dir.Path);
        Assert.Equal((true, false, 1, 2), (tok.AddBos, tok.AddEos, tok.BosId, tok.EosId));
    }

    [Fact]
    public void Bos_and_eos_named_in_the_config_are_used_by_a_byte_level_tokenizer()
    {
        using var dir = new TempDir();
        File.Copy(SharedData.Path("models", "smollm2-135m", "tokenizer.json"), dir.File("tokenizer.json"));
        dir.Write("tokenizer_config.json", """{"add_bos_token": true, "bos_token": "<|im_start|>", "eos_token": {"content": "<|endoftext|>", "special": true}}""");
        var tok = TokenizerLoader.Load(dir.Path);
        Assert.Equal((true, false, 1, 0), (tok.AddBos, tok.AddEos, tok.BosId, tok.EosId));
        Assert.Equal([1, 19556, 905], tok.Encode("Hello world"));
    }

    [Fact]
    public void Added_tokens_decoder_extends_a_sentencepiece_vocabulary()
    {
        using var dir = TokenizerErrorTests.StoriesCopy();
        dir.Write("tokenizer_config.json", """{"added_tokens_decoder": {"1": {"content": "<s>", "special": true}, "512": {"content": "<pad>", "special": true}}}""");
        var tok = TokenizerLoader.Load(dir.Path);
        Assert.Equal(513, tok.VocabSize);
        Assert.Equal("<pad>", tok.TokenToString(512));
        var ids = tok.Encode("a<pad>b");
        Assert.Equal([1, 261, 512, 268], ids);
        Assert.Equal("a b", tok.Decode(ids));
        Assert.Equal("<s> a<pad> b", tok.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Clean_up_tokenization_spaces_is_applied_when_the_config_sets_it()
    {
        const string Text = "Hello , world ! It 's here .";
        Assert.Equal(Text, RealTokenizers.SmolLM2.Decode(RealTokenizers.SmolLM2.Encode(Text)));
        using var dir = new TempDir();
        File.Copy(SharedData.Path("models", "smollm2-135m", "tokenizer.json"), dir.File("tokenizer.json"));
        dir.Write("tokenizer_config.json", """{"clean_up_tokenization_spaces": true}""");
        var tok = TokenizerLoader.Load(dir.Path);
        Assert.Equal("Hello, world! It's here.", tok.Decode(tok.Encode(Text)));
    }

    [Fact]
    public void Encoding_is_deterministic_across_calls_instances_and_threads()
    {
        var texts = SharedText.AlpacaFields(60).ToArray();
        foreach (var tok in new[] { RealTokenizers.Llama2, RealTokenizers.Stories260K, RealTokenizers.SmolLM2 })
        {
            var first = texts.Select(t => tok.Encode(t)).ToArray();
            var parallel = new IReadOnlyList<int>[texts.Length];
            Parallel.For(0, texts.Length, i => parallel[i] = tok.Encode(texts[i]));
            for (var i = 0; i < texts.Length; i++)
            {
                Assert.Equal(first[i], tok.Encode(texts[i]));
                Assert.Equal(first[i], parallel[i]);
            }
        }

        var fresh = TokenizerLoader.Load(SharedData.Path("models", "smollm2-135m"));
        Assert.Equal(RealTokenizers.SmolLM2.Encode(texts[0]), fresh.Encode(texts[0]));
    }
}
