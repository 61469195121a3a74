using System.CommandLine;
using System.Globalization;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Search;
using LlamaNas.Engine.Evaluation;
using LlamaNas.Engine.Export;
using LlamaNas.Engine.Modeling;
using LlamaNas.Engine.Native;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Tool.Search;

namespace LlamaNas.Tool.Commands;

/// <summary>
/// <c>llamanas quantize &lt;model&gt; --output &lt;folder&gt; [--depth --mlp --heads --hidden] [--perplexity &lt;text&gt;]</c>:
/// the model or a sub-network as an INT8 safetensors folder (the export's int8 dtype, docs/EXPORT.md), with the bytes
/// written and, given a held-out text, the perplexity of the float and the INT8 forms side by side.
/// </summary>
public static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A Hugging Face model directory (weights and tokenizer)." };
        var output = new Option<string>("--output") { Description = "The INT8 model folder to write.", Required = true };
        var perplexity = new Option<string?>("--perplexity") { Description = "Also measure the token perplexity of the float and the INT8 forms on this text (documents split on <|endoftext|> lines)." };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype the weights are read in and the perplexity runs in: fp32 or bf16.", DefaultValueFactory = _ => "fp32" };
        var subnetwork = new SubnetworkOptions();
        var command = new Command("quantize", "Write a model or one of its sub-networks with INT8 weights (per output channel), and measure what it costs in perplexity.")
        {
            model, output, perplexity, dtype,
        };
        subnetwork.AddTo(command);
        command.SetAction(result =>
        {
            var directory = Cli.Model(result.GetValue(model)!);
            var textPath = result.GetValue(perplexity);
            if (textPath is not null && !File.Exists(textPath))
            {
                throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, "perplexity text file not found.", new DiagnosticLocation(textPath));
            }

            TorchRuntime.EnsureInitialized();
            using var llm = LlamaForCausalLM.Load(directory, ComputeDtype.Parse(result.GetValue(dtype)!));
            var arch = subnetwork.Read(result, llm.Config);
            var exported = ModelExporter.Export(llm, directory, result.GetValue(output)!, new ExportOptions { Architecture = arch, DType = ExportDType.Int8 });
            var space = SearchSpace.Create(llm.Config, SearchSpaceSpec.LlamaNas(llm.Config));
            var o = result.InvocationConfiguration.Output;
            o.WriteLine(Invariant($"wrote {exported.Path}: {arch}, {exported.Parameters:N0} parameters, {exported.TensorBytes:N0} bytes of weights (fp32 {space.SizeBytes(arch, SizeModel.Fp32):N0}, fp16 {space.SizeBytes(arch, SizeModel.Fp16):N0})"));
            if (textPath is null)
            {
                return 0;
            }

            var evaluator = new PerplexityEvaluator(llm, TokenizerLoader.LoadForModel(directory));
            var documents = PerplexityEvaluator.ReadDocuments(textPath);
            llm.ActivateSubnetwork(arch);
            try
            {
                var before = evaluator.Evaluate(textPath, documents).TokenPerplexity;
                double after;
                using (llm.QuantizeActive())
                {
                    after = evaluator.Evaluate(textPath, documents).TokenPerplexity;
                }

                o.WriteLine(Invariant($"token perplexity on {Path.GetFileName(textPath)}: {before:G6} float, {after:G6} INT8 ({(after - before) / before:+0.00%;-0.00%;0.00%})"));
            }
            finally
            {
                llm.ActivateFull();
            }

            return 0;
        });
        return command;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
