using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.Models;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.Engine.Native;
using LlamaNas.TestSupport;
using TorchSharp;

namespace LlamaNas.Engine.Tests.Checkpoints;

/// <summary>A fresh directory under the system temp folder, removed on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "llamanas-ckpt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Base of the checkpoint tests: libtorch is up and each test gets its own temporary directory.</summary>
public abstract class CheckpointTest : IDisposable
{
    protected CheckpointTest() => TorchRuntime.EnsureInitialized();

    protected TempDirectory Dir { get; } = new();

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Builders for hand-made files and checkpoints, and the real stories260K paths.</summary>
internal static class CheckpointFixtures
{
    public static string Stories260K => SharedData.Stories260K;

    public static string Stories260KWeights => SharedData.Path("models", "stories260K", "model.safetensors");

    /// <summary>Tensors alive on this thread (TorchSharp counts creations and disposals per thread).</summary>
    public static long LiveTensors => DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;

    /// <summary>Writes a raw safetensors file: the length prefix (the header's own unless given), the header, the data.</summary>
    public static string WriteRaw(string path, string header, byte[]? data = null, ulong? declaredLength = null)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        return WriteRaw(path, headerBytes, data ?? [], declaredLength ?? (ulong)headerBytes.Length);
    }

    public static string WriteRaw(string path, byte[] header, byte[] data, ulong declaredLength)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A tiny Llama architecture: 2 layers, hidden 8, 2 heads / 1 KV head, MLP 12, vocab 16.</summary>
    public static LlamaConfig TinyConfig(bool tied = false) => new()
    {
        HiddenSize = 8,
        NumHiddenLayers = 2,
        NumAttentionHeads = 2,
        NumKeyValueHeads = 1,
        HeadDim = 4,
        IntermediateSizes = [12, 12],
        VocabSize = 16,
        TieWordEmbeddings = tied,
    };

    /// <summary>Seeded random tensors with exactly the shapes <paramref name="config"/> expects.</summary>
    public static Dictionary<string, torch.Tensor> RandomWeights(LlamaConfig config, torch.ScalarType dtype = torch.ScalarType.Float32, long seed = 7)
    {
        var generator = new torch.Generator((ulong)seed);
        return config.ExpectedTensors().ToDictionary(p => p.Key, p => torch.randn(p.Value, dtype: torch.ScalarType.Float32, generator: generator).to_type(dtype), StringComparer.Ordinal);
    }

    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> for <paramref name="config"/> into <paramref name="directory"/>,
    /// after <paramref name="edit"/> has had its say over the tensors.
    /// </summary>
    public static void WriteCheckpoint(string directory, LlamaConfig config, Action<Dictionary<string, torch.Tensor>>? edit = null)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = torch.NewDisposeScope();
        var weights = RandomWeights(config);
        edit?.Invoke(weights);
        File.WriteAllText(Path.Combine(directory, CheckpointFiles.Config), config.ToJson().ToJsonString());
        SafetensorsWriter.Write(Path.Combine(directory, CheckpointFiles.SingleFile), weights);
    }

    /// <summary>Asserts the coded error and that its rendered message names the file and (when given) the tensor.</summary>
    public static LlamaNasException AssertCode(string code, Action action, string? file = null, string? item = null)
    {
        var e = Assert.Throws<LlamaNasException>(action);
        Assert.Equal(code, e.Code);
        if (file is not null)
        {
            Assert.Contains(file, e.Message, StringComparison.Ordinal);
        }

        if (item is not null)
        {
            Assert.Equal(item, e.Diagnostic.Location?.Item);
            Assert.Contains(item, e.Message, StringComparison.Ordinal);
        }

        return e;
    }

    /// <summary>Asserts equal type, shape and elements.</summary>
    public static void AssertSameTensor(torch.Tensor expected, torch.Tensor actual, string? because = null)
    {
        using var scope = torch.NewDisposeScope();
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.eq(actual).all().item<bool>(), because);
    }

    /// <summary>Header entry JSON for one tensor.</summary>
    public static string Entry(string dtype, string shape, long begin, long end) =>
        $$"""{"dtype":"{{dtype}}","shape":{{shape}},"data_offsets":[{{begin}},{{end}}]}""";

    /// <summary>Reads a header independently of the code under test: length prefix, then JSON.</summary>
    public static (JsonObject Header, long DataStart, byte[] Bytes) ReadIndependently(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, (int)n))!.AsObject();
        return (header, 8 + n, bytes);
    }
}
