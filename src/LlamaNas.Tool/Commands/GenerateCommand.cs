using System.CommandLine;
using LlamaNas.Engine.Generation;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Tokenization;

namespace LlamaNas.Tool.Commands;

/// <summary><c>llamanas generate &lt;model&gt; --prompt …</c>: greedy or seeded sampled text from a checkpoint.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A Hugging Face model directory (weights and tokenizer), or a hub id org/name[@revision]." };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue (empty: start from BOS).", DefaultValueFactory = _ => string.Empty };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate.", DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "0 for greedy decoding; above 0 samples.", DefaultValueFactory = _ => 0 };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0: all)." };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass.", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed." };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype: fp32, bf16 or fp16.", DefaultValueFactory = _ => "fp32" };
        var command = new Command("generate", "Generate text with a model.") { model, prompt, maxNew, temperature, topK, topP, seed, dtype };
        command.SetAction(result =>
        {
            var max = result.GetValue(maxNew);
            var temp = result.GetValue(temperature);
            if (max < 1 || temp < 0 || result.GetValue(topK) < 0 || result.GetValue(topP) is <= 0 or > 1)
            {
                throw new Core.Diagnostics.LlamaNasException(Core.Diagnostics.DiagnosticCodes.CliInvalidArgument, "--max-new-tokens must be ≥ 1, --temperature ≥ 0, --top-k ≥ 0 and --top-p in (0, 1].");
            }

            TorchRuntime.EnsureInitialized();
            var directory = Cli.Model(result.GetValue(model)!);
            var tokenizer = TokenizerLoader.LoadForModel(directory);
            using var llm = LlamaForCausalLM.Load(directory, ComputeDtype.Parse(result.GetValue(dtype)!));
            var options = new GenerationOptions { MaxNewTokens = max, Temperature = temp, TopK = result.GetValue(topK), TopP = result.GetValue(topP), Seed = result.GetValue(seed) };
            result.InvocationConfiguration.Output.WriteLine(TextGenerator.GenerateText(llm, tokenizer, result.GetValue(prompt)!, options));
            return 0;
        });
        return command;
    }
}
