using System.Buffers.Binary;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Export;
using LlamaNas.TestSupport;
using LlamaNas.TestSupport.Fuzzing;
using Xunit.Abstractions;

namespace LlamaNas.Engine.Tests.Export;

/// <summary>
/// Seeded mutations of a real exported GGUF (a small random-weight model with stories260K's tokenizer, Q8_0 with
/// F16 and F32 tensors) through the suite's <see cref="FuzzRun"/>: every case must open and dequantize every tensor
/// or fail with a coded <see cref="LlamaNasException"/>, never crash or hang. Its own mutations know the binary
/// layout (counts, lengths, type ids, offsets); the shared <see cref="Mutator"/> covers the rest.
/// </summary>
public sealed class GgufFuzzTests(ITestOutputHelper output)
{
    private const int Cases = 2000;
    private static readonly ulong[] Interesting = [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 30, 31, 32, 33, 64, 255, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1ul << 32, 1ul << 62, long.MaxValue, ulong.MaxValue];

    [Fact]
    public void Mutated_gguf_files_open_or_fail_with_a_coded_error_and_never_hang()
    {
        TorchTest.Init();
        using var temp = new TempDir();
        var original = temp.File("original.gguf");
        using (var model = TorchTest.RandomModel(TorchTest.TinyConfig(layers: 2, vocab: 512), seed: 3))
        {
            ModelExporter.Export(model, StoriesModel.Directory, original, new ExportOptions { Format = ExportFormat.Gguf, DType = ExportDType.Q8_0 });
        }

        var bytes = File.ReadAllBytes(original);
        var headerLength = (int)GgufFile.Open(original).DataOffset;
        var report = FuzzRun.Run("GGUF header, metadata, tensor infos and data", Cases, seed => Mutate(bytes, headerLength, seed), mutated =>
        {
            var path = temp.File($"case-{Environment.CurrentManagedThreadId}.gguf");
            File.WriteAllBytes(path, mutated);
            var file = GgufFile.Open(path);
            foreach (var tensor in file.Tensors)
            {
                file.ReadFloats(tensor);
            }
        }).EnsureClean();

        output.WriteLine(report.Summary);
        Assert.True(report.Accepted > 0 && report.Codes.Values.Sum() > Cases / 2, $"the mutations should mostly break the file, not always: {report.Summary}");
        string[] expected =
        [
            DiagnosticCodes.GgufBadMagic, DiagnosticCodes.GgufUnsupportedVersion, DiagnosticCodes.GgufTruncated, DiagnosticCodes.GgufInvalidValueType,
            DiagnosticCodes.GgufInvalidString, DiagnosticCodes.GgufInvalidTensorInfo, DiagnosticCodes.GgufUnknownTensorType, DiagnosticCodes.GgufInvalidTensorOffset,
        ];
        Assert.All(expected, c => Assert.True(report.Codes.ContainsKey(c), $"no mutation reached {c} ({report.Summary})"));
    }

    private static (byte[] Bytes, string What) Mutate(byte[] original, int headerLength, int seed)
    {
        var random = new Random(seed);
        var bytes = (byte[])original.Clone();
        switch (random.Next(6))
        {
            case 0:
                var flips = random.Next(1, 5);
                for (var i = 0; i < flips; i++)
                {
                    bytes[random.Next(headerLength)] ^= (byte)(1 << random.Next(8));
                }

                return (bytes, $"flip {flips} header bits");
            case 1:
            case 2:
                // Counts, lengths, type ids and offsets are little-endian integers: replace one with an edge value.
                var at = random.Next(headerLength - 8);
                var value = Interesting[random.Next(Interesting.Length)];
                if (random.Next(2) == 0)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)value);
                    return (bytes, $"uint32 {(uint)value} at {at}");
                }

                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(at), value);
                return (bytes, $"uint64 {value} at {at}");
            case 3:
                var cut = random.Next(original.Length);
                return (original[..cut], $"truncate to {cut} bytes");
            case 4:
                var start = random.Next(headerLength);
                var length = random.Next(1, 16);
                return ([.. original[..start], .. original[Math.Min(original.Length, start + length)..]], $"delete {length} bytes at {start}");
            default:
                var (header, what) = new Mutator(seed).Mutate(original[..headerLength]);
                return ([.. header, .. original[headerLength..]], what);
        }
    }
}
