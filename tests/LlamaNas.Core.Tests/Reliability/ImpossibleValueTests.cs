using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Evaluation;
using LlamaNas.Core.Evaluation.Tasks;
using LlamaNas.Core.Models;
using LlamaNas.TestSupport;

namespace LlamaNas.Core.Tests.Reliability;

/// <summary>Values no model or task can have are refused with a code naming the field, not run into NaN.</summary>
public sealed class ImpossibleValueTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("rope_theta", "0", "rope_theta")]
    [InlineData("rope_theta", "-10000", "rope_theta")]
    [InlineData("rms_norm_eps", "-1e-6", "rms_norm_eps")]
    [InlineData("hidden_size", "0", "hidden_size")]
    [InlineData("hidden_size", "-64", "hidden_size")]
    [InlineData("hidden_size", "60", "num_attention_heads")]
    [InlineData("num_hidden_layers", "0", "num_hidden_layers")]
    [InlineData("num_hidden_layers", "100000", "num_hidden_layers")]
    [InlineData("num_attention_heads", "0", "num_attention_heads")]
    [InlineData("num_key_value_heads", "3", "num_key_value_heads")]
    [InlineData("intermediate_size", "-172", "intermediate_size")]
    [InlineData("vocab_size", "0", "vocab_size")]
    [InlineData("max_position_embeddings", "0", "max_position_embeddings")]
    [InlineData("bos_token_id", "512", "bos_token_id")]
    [InlineData("eos_token_id", "-1", "eos_token_id")]
    [InlineData("rope_scaling", """{"rope_type": "linear", "factor": 0}""", "rope_scaling.factor")]
    [InlineData("rope_scaling", """{"rope_type": "llama3", "factor": 8, "low_freq_factor": 4, "high_freq_factor": 1}""", "rope_scaling.high_freq_factor")]
    public void Impossible_config_values_are_refused_naming_the_field(string field, string value, string named)
    {
        var config = JsonNode.Parse(File.ReadAllText(SharedData.Path("models", "stories260K", "config.json")))!.AsObject();
        config.Remove("head_dim");
        config[field] = JsonNode.Parse(value);
        var path = _dir.Write("config.json", config.ToJsonString());
        var e = Assert.Throws<LlamaNasException>(() => LlamaConfig.Load(path));
        Assert.Equal(DiagnosticCodes.ConfigInvalidValue, e.Code);
        Assert.Equal(named, e.Diagnostic.Location!.Item);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_rms_norm_eps_is_allowed()
    {
        var config = JsonNode.Parse(File.ReadAllText(SharedData.Path("models", "stories260K", "config.json")))!.AsObject();
        config["rms_norm_eps"] = 0;
        Assert.Equal(0, LlamaConfig.Load(_dir.Write("config.json", config.ToJsonString())).RmsNormEps);
    }

    [Fact]
    public void Duplicate_config_fields_are_invalid_json()
    {
        var path = _dir.Write("config.json", """{"hidden_size": 64, "hidden_size": 32}""");
        Assert.Equal(DiagnosticCodes.ConfigInvalidJson, Assert.Throws<LlamaNasException>(() => LlamaConfig.Load(path)).Code);
    }

    [Fact]
    public void A_user_task_gold_given_as_a_string_is_refused()
    {
        var e = LoadUser("""{"context": "c", "choices": ["a", "b"], "gold": "0"}""");
        Assert.Equal(DiagnosticCodes.EvalRowInvalidValue, e.Code);
        Assert.Equal("gold", e.Diagnostic.Location!.Item);
        Assert.Contains("must be an integer, not the string \"0\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_user_task_row_with_a_key_twice_is_refused()
    {
        var e = LoadUser("""{"context": "c", "choices": ["a", "b"], "gold": 0, "gold": 1}""");
        Assert.Equal(DiagnosticCodes.EvalRowDuplicateField, e.Code);
        Assert.Equal(("gold", 1), (e.Diagnostic.Location!.Item, e.Diagnostic.Location.Line));
    }

    private LlamaNasException LoadUser(string row)
    {
        var file = _dir.Write("quiz.jsonl", row);
        return Assert.Throws<LlamaNasException>(() => TaskLoader.Load("user", _dir.Path, new TaskLoadOptions { UserTaskFile = file }));
    }
}
