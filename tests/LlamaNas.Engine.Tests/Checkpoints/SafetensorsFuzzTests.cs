using System.Buffers.Binary;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Checkpoints;
using LlamaNas.TestSupport.Fuzzing;
using TorchSharp;
using static LlamaNas.Engine.Tests.Checkpoints.CheckpointFixtures;

namespace LlamaNas.Engine.Tests.Checkpoints;

/// <summary>
/// Mutates the header of the real stories260K file thousands of times (seeded) and opens each result as a
/// checkpoint through the suite's <see cref="FuzzRun"/>: every attempt must either succeed (and then load every
/// tensor) or fail with a coded <see cref="LlamaNasException"/>; any other exception, or a hang, fails the test. It
/// takes about 6 s. Its mutations know the length prefix; the shared <see cref="Mutator"/> covers the header's JSON.
/// </summary>
public class SafetensorsFuzzTests(Xunit.Abstractions.ITestOutputHelper output) : CheckpointTest
{
    private const int Cases = 3000;
    private static readonly byte[] Interesting = [.. "{}[]\",:0123456789-.eE \\u"u8, 0, 0xFF];

    [Fact]
    public void Mutated_headers_open_or_fail_with_a_coded_error_and_never_hang()
    {
        var original = File.ReadAllBytes(Stories260KWeights);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        File.Copy(Path.Combine(Stories260K, "config.json"), Dir.File("config.json"));
        var path = Dir.File(CheckpointFiles.SingleFile);
        var leaked = 0L;

        var report = FuzzRun.Run("safetensors length prefix and header bytes", Cases, seed => Mutate(original, headerLength, new Random(seed)), bytes =>
        {
            // Tensors are counted per thread, and each case runs on one.
            var before = LiveTensors;
            try
            {
                File.WriteAllBytes(path, bytes);
                using var checkpoint = LlamaCheckpoint.Open(Dir.Path);
                foreach (var name in checkpoint.Tensors.Keys)
                {
                    using var t = checkpoint.Load(name, torch.ScalarType.BFloat16);
                }
            }
            finally
            {
                Interlocked.Add(ref leaked, LiveTensors - before);
            }
        }).EnsureClean();

        output.WriteLine(report.Summary);
        Assert.Equal(0, leaked);
        var coded = report.Codes.Values.Sum();
        Assert.True(report.Accepted > 0 && coded > Cases / 2, $"the mutations should mostly break the file, not always: {report.Summary}");
        string[] expected =
        [
            DiagnosticCodes.SafetensorsHeaderLength, DiagnosticCodes.SafetensorsHeaderInvalid,
            DiagnosticCodes.SafetensorsInvalidOffsets, DiagnosticCodes.SafetensorsSizeMismatch, DiagnosticCodes.CheckpointMissingTensor,
        ];
        Assert.All(expected, c => Assert.True(report.Codes.ContainsKey(c), $"no mutation reached {c} ({report.Summary})"));
    }

    private static (byte[] Bytes, string What) Mutate(byte[] original, int headerLength, Random random)
    {
        var header = original.AsSpan(8, headerLength).ToArray().ToList();
        var data = original.AsSpan(8 + headerLength);
        var fixLength = random.Next(2) == 0;
        string what;
        switch (random.Next(8))
        {
            case 0:
                var flips = random.Next(1, 5);
                for (var i = 0; i < flips; i++)
                {
                    header[random.Next(header.Count)] ^= (byte)(1 << random.Next(8));
                }

                what = $"flip {flips} bits";
                break;
            case 1:
                header[random.Next(header.Count)] = Interesting[random.Next(Interesting.Length)];
                what = "replace a byte";
                break;
            case 2:
                header.Insert(random.Next(header.Count + 1), Interesting[random.Next(Interesting.Length)]);
                what = "insert a byte";
                break;
            case 3:
                header.RemoveAt(random.Next(header.Count));
                what = "delete a byte";
                break;
            case 4:
                var digits = header.Select((b, i) => (b, i)).Where(p => p.b is >= (byte)'0' and <= (byte)'9').ToList();
                header[digits[random.Next(digits.Count)].i] = (byte)('0' + random.Next(10));
                what = "change a digit";
                fixLength = true;
                break;
            case 5:
                var start = random.Next(header.Count);
                var length = random.Next(1, Math.Min(64, header.Count - start) + 1);
                header.InsertRange(random.Next(header.Count + 1), header.GetRange(start, length));
                what = "duplicate a run";
                break;
            case 6:
                var total = 8 + header.Count + data.Length;
                var cut = random.Next(total);
                return (Assemble(header, data, (ulong)header.Count)[..cut], $"truncate at {cut}");
            default:
                var declared = random.Next(3) switch
                {
                    0 => (ulong)random.NextInt64(),
                    1 => (ulong)(header.Count + random.Next(-16, 17)),
                    _ => (ulong)header.Count ^ (1UL << random.Next(64)),
                };
                return (Assemble(header, data, declared), $"declare header length {declared}");
        }

        return (Assemble(header, data, fixLength ? (ulong)header.Count : (ulong)headerLength), what + (fixLength ? " (length fixed)" : string.Empty));
    }

    private static byte[] Assemble(List<byte> header, ReadOnlySpan<byte> data, ulong declared)
    {
        var bytes = new byte[8 + header.Count + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declared);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes.AsSpan(8 + header.Count));
        return bytes;
    }
}
