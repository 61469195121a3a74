using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Tokenization;
using LlamaNas.TestSupport;

namespace LlamaNas.Engine.Tests;

/// <summary>The real stories260K model and tokenizer, loaded once per test class that uses it as a fixture.</summary>
public sealed class StoriesModel : IDisposable
{
    public StoriesModel()
    {
        TorchTest.Init();
        Model = LlamaForCausalLM.Load(Directory);
        Tokenizer = TokenizerLoader.Load(Directory);
    }

    public static string Directory => SharedData.Stories260K;

    public LlamaForCausalLM Model { get; }

    public ITextTokenizer Tokenizer { get; }

    public void Dispose() => Model.Dispose();
}
