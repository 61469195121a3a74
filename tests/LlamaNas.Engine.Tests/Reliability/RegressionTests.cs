using System.Text;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Tests.Checkpoints;
using LlamaNas.Engine.Tokenization;
using LlamaNas.Engine.Training.Data;
using LlamaNas.TestSupport;
using static LlamaNas.Engine.Tests.Checkpoints.CheckpointFixtures;

namespace LlamaNas.Engine.Tests.Reliability;

/// <summary>The engine's share of the known crashes and silent misreads, each now a coded error.</summary>
public sealed class RegressionTests : CheckpointTest
{
    private const string A = "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";

    [Theory]
    [InlineData("{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "'b' starts at byte 8 of the data, but the bytes from 4 belong to no tensor")]
    [InlineData("{" + A + "}", 8, "cover 4 bytes, but its data section holds 8")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "'a' starts at byte 4 of the data, but the bytes from 0 belong to no tensor")]
    public void A_safetensors_data_section_with_a_hole_is_refused(string header, int dataBytes, string message)
    {
        var path = WriteRaw(Dir.File("holes.safetensors"), header, new byte[dataBytes]);
        var e = Assert.Throws<LlamaNasException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(DiagnosticCodes.SafetensorsDataNotContiguous, e.Code);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Contiguous_tensors_and_an_empty_one_still_open()
    {
        var path = WriteRaw(Dir.File("ok.safetensors"), "{" + A + ",\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(3, file.Tensors.Count);
    }

    [Fact]
    public void A_lone_surrogate_in_safetensors_metadata_is_LNAS0112()
    {
        var path = WriteRaw(Dir.File("meta.safetensors"), "{\"__metadata__\":{\"format\":\"\\ud800\"}," + A + "}", new byte[4]);
        Assert.Equal(DiagnosticCodes.JsonInvalidText, Assert.Throws<LlamaNasException>(() => SafetensorsFile.Open(path).Dispose()).Code);
    }

    [Fact]
    public void Bad_text_in_tokenizer_files_and_training_data_is_LNAS0112()
    {
        File.Copy(SharedData.Path("models", "stories260K", "tokenizer.model"), Dir.File("tokenizer.model"));
        File.WriteAllBytes(Dir.File("tokenizer_config.json"), [.. "{\"bos_token\": \"<s"u8, 0xFF, .. ">\"}"u8]);
        var e = Assert.Throws<LlamaNasException>(() => TokenizerLoader.Load(Dir.Path));
        Assert.Equal((DiagnosticCodes.JsonInvalidText, 1, 15), (e.Code, e.Diagnostic.Location!.Line, e.Diagnostic.Location.Column));

        File.WriteAllText(Dir.File("tokenizer_config.json"), "{}");
        File.Delete(Dir.File("tokenizer.model"));
        File.WriteAllText(Dir.File("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\\udc00\": 0}, \"merges\": []}}");
        Assert.Equal(DiagnosticCodes.JsonInvalidText, Assert.Throws<LlamaNasException>(() => TokenizerLoader.Load(Dir.Path)).Code);

        var alpaca = Dir.File("data.json");
        File.WriteAllText(alpaca, "[{\"instruction\": \"say \\ud800\", \"output\": \"x\"}]");
        Assert.Equal(DiagnosticCodes.JsonInvalidText, Assert.Throws<LlamaNasException>(() => InstructionData.Load(alpaca)).Code);
        var jsonl = Dir.File("data.jsonl");
        File.WriteAllBytes(jsonl, [.. "{\"text\": \"a"u8, 0xC3, .. "\"}"u8]);
        Assert.Equal(DiagnosticCodes.JsonInvalidText, Assert.Throws<LlamaNasException>(() => TextCorpus.Load(jsonl)).Code);
    }

    [Fact]
    public void A_shard_index_with_bad_text_is_LNAS0112()
    {
        File.WriteAllText(Dir.File(CheckpointFiles.Config), TinyConfig().ToJson().ToJsonString());
        File.WriteAllText(Dir.File(CheckpointFiles.Index), "{\"weight_map\": {\"model.norm.weight\": \"\\ud800.safetensors\"}}");
        Assert.Equal(DiagnosticCodes.JsonInvalidText, Assert.Throws<LlamaNasException>(() => LlamaCheckpoint.Open(Dir.Path).Dispose()).Code);
    }

    [Fact]
    public void A_tokenizer_larger_than_the_models_vocabulary_is_LNAS0310_naming_both_sizes()
    {
        File.Copy(SharedData.Path("models", "stories260K", "config.json"), Dir.File("config.json"));
        File.Copy(SharedData.Path("models", "smollm2-135m", "tokenizer.json"), Dir.File("tokenizer.json"));
        var e = Assert.Throws<LlamaNasException>(() => TokenizerLoader.LoadForModel(Dir.Path));
        Assert.Equal(DiagnosticCodes.TokenizerLargerThanModel, e.Code);
        Assert.Contains("49152 token ids but the model's embedding has 512 rows", e.Message, StringComparison.Ordinal);

        File.Delete(Dir.File("tokenizer.json"));
        File.Copy(SharedData.Path("models", "stories260K", "tokenizer.model"), Dir.File("tokenizer.model"));
        Assert.Equal(512, TokenizerLoader.LoadForModel(Dir.Path).VocabSize);
    }

    [Fact]
    public void Text_with_a_byte_order_mark_still_loads()
    {
        var jsonl = Dir.File("bom.jsonl");
        File.WriteAllBytes(jsonl, [.. Encoding.UTF8.Preamble, .. "{\"text\": \"Once upon a time\"}"u8]);
        Assert.Equal(["Once upon a time"], TextCorpus.Load(jsonl));
    }
}
