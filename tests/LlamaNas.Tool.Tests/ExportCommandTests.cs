using LlamaNas.Engine.Export;
using LlamaNas.TestSupport;

namespace LlamaNas.Tool.Tests;

public class ExportCommandTests
{
    private static string Stories => SharedData.Stories260K;

    [Fact]
    public async Task Exports_a_per_layer_subnetwork_as_gguf_and_the_folder_every_verb_loads()
    {
        using var temp = new TempDir();
        var gguf = temp.File("small.gguf");
        var (rc, output, error) = await CliRunner.Run("export", Stories, "--output", gguf, "--depth", "4", "--mlp", "172,128,96,64", "--heads", "8,6,8,4", "--dtype", "q8_0");
        Assert.True(rc == 0, error);
        Assert.Contains("exported depth 4, hidden 64, mlp [172,128,96,64], heads [8,6,8,4], kv [4,3,4,2] (161,600 parameters) as gguf q8_0 (deci)", output, StringComparison.Ordinal);
        Assert.Contains("kept F16 (rows not a multiple of 32, as llama.cpp does): blk.0.ffn_down.weight", output, StringComparison.Ordinal);
        var file = GgufFile.Open(gguf);
        Assert.Equal("deci", file["general.architecture"].AsString);
        Assert.Equal("stories260K", file["general.name"].AsString);

        var folder = temp.File("small");
        (rc, output, error) = await CliRunner.Run("export", Stories, "--output", folder, "--depth", "3", "--mlp", "86", "--dtype", "bf16");
        Assert.True(rc == 0, error);
        Assert.Contains("as safetensors bf16", output, StringComparison.Ordinal);
        (rc, output, error) = await CliRunner.Run("inspect", folder);
        Assert.True(rc == 0, error);
        Assert.Contains("3 layers, hidden 64, 8 heads / 4 KV heads × 8, MLP 86, vocab 512", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Quantize_writes_an_int8_folder_every_verb_loads_and_compares_the_perplexities()
    {
        using var temp = new TempDir();
        var text = temp.Write("valid.txt", File.ReadAllText(SharedData.Path("data", "tinystories", "valid-head-a.txt"))[..2000]);
        var folder = temp.File("int8");
        var (rc, output, error) = await CliRunner.Run("quantize", Stories, "--output", folder, "--depth", "4", "--mlp", "172", "--perplexity", text);
        Assert.True(rc == 0, error);
        Assert.Contains("214,592 parameters, 252,736 bytes of weights (fp32 858,368, fp16 429,184)", output, StringComparison.Ordinal);
        Assert.Matches(@"token perplexity on valid\.txt: [\d.]+ float, [\d.]+ INT8 \([+-]\d+\.\d\d%\)", output);
        (rc, output, error) = await CliRunner.Run("inspect", folder);
        Assert.True(rc == 0, error);
        Assert.Contains("parameters    214,592", output, StringComparison.Ordinal);
        Assert.Contains("quantization  int8 weights with per-channel scales in 28 linear layers", output, StringComparison.Ordinal);
        (rc, output, error) = await CliRunner.Run("generate", folder, "--prompt", "Once upon a time", "--max-new-tokens", "8");
        Assert.True(rc == 0, error);
        Assert.StartsWith("Once upon a time", output, StringComparison.Ordinal);

        // export --dtype int8 writes the same bytes.
        (rc, output, error) = await CliRunner.Run("export", Stories, "--output", temp.File("exported"), "--depth", "4", "--mlp", "172", "--dtype", "int8");
        Assert.True(rc == 0, error);
        Assert.Contains("252,736 bytes of weights) as safetensors int8", output, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), File.ReadAllBytes(temp.File("exported/model.safetensors")));
    }

    [Theory]
    [InlineData("LNAS0100", "--depth", "9")]
    [InlineData("LNAS0100", "--depth", "4", "--mlp", "172,128")]
    [InlineData("LNAS0532", "--mlp", "17x")]
    [InlineData("LNAS0404", "--heads", "7")]
    [InlineData("LNAS0403", "--mlp", "200")]
    [InlineData("LNAS0261", "--format", "onnx")]
    [InlineData("LNAS0261", "--dtype", "int4")]
    [InlineData("LNAS0261", "--dtype", "q8_0")]
    [InlineData("LNAS0261", "--format", "gguf", "--dtype", "int8")]
    public async Task Bad_options_are_coded_errors_and_write_nothing(string code, params string[] options)
    {
        using var temp = new TempDir();
        var (rc, _, error) = await CliRunner.Run(["export", Stories, "--output", temp.File("out"), .. options]);
        Assert.Equal(1, rc);
        Assert.Contains($"error {code}", error, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
    }

    [Fact]
    public async Task A_folder_llamanas_did_not_write_is_refused()
    {
        using var temp = new TempDir();
        temp.Write("mine/readme.txt", "keep");
        var (rc, _, error) = await CliRunner.Run("export", Stories, "--output", temp.File("mine"));
        Assert.Equal(1, rc);
        Assert.Contains("error LNAS0260", error, StringComparison.Ordinal);
        Assert.Equal(["readme.txt"], Directory.EnumerateFileSystemEntries(temp.File("mine")).Select(Path.GetFileName));
    }
}
