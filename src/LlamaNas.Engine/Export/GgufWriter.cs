using System.Buffers.Binary;
using System.Text;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Engine.Checkpoints;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Export;

/// <summary>
/// Writes GGUF version 3 files (ggml's docs/gguf.md): header, metadata, tensor infos, then the tensor data, each
/// tensor starting on a multiple of <see cref="Alignment"/>. Hand-written: no NuGet package writes GGUF. Tensors are
/// converted to their GGUF type only while the file is written; the file goes to a temporary sibling and is renamed
/// into place, so a failed write never leaves a half-written file.
/// </summary>
public sealed class GgufWriter
{
    public const uint Version = 3;
    public const int Alignment = 32;
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32

    private readonly List<KeyValuePair<string, GgufValue>> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<(GgufTensorInfo Info, Tensor Tensor)> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);
    private ulong _dataSize;

    /// <summary>The metadata added so far, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata => _metadata;

    /// <summary>The tensor infos added so far, in file order (offsets as they will be written).</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors => [.. _tensors.Select(t => t.Info)];

    public void Add(string key, GgufValue value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (string.IsNullOrEmpty(key) || !_keys.Add(key))
        {
            throw Invalid($"the metadata key '{key}' is empty or added twice; GGUF keys are unique.", key);
        }

        _metadata.Add(new(key, value));
    }

    /// <summary>
    /// Adds <paramref name="tensor"/> (any float dtype, any device; the caller keeps ownership and must keep it alive
    /// until <see cref="Write"/>) to be stored as <paramref name="type"/>. Q8_0 needs rows (the last torch
    /// dimension) whose length is a multiple of 32: anything else is LNAS0265.
    /// </summary>
    public void AddTensor(string name, Tensor tensor, GgmlType type)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (string.IsNullOrEmpty(name) || Encoding.UTF8.GetByteCount(name) > 64 || !_tensorNames.Add(name))
        {
            throw Invalid($"cannot add a tensor named '{name}': names are non-empty, unique and at most 64 bytes.", name);
        }

        if (type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0))
        {
            throw Invalid($"'{name}' cannot be written as {GgmlTypes.Name(type)}; llamanas writes F32, F16, BF16 and Q8_0.", name);
        }

        if (tensor.dim() is < 1 or > 4 || tensor.shape.Any(d => d < 1))
        {
            throw Invalid($"'{name}' has shape [{string.Join(", ", tensor.shape)}]; GGUF tensors have 1 to 4 non-empty dimensions.", name);
        }

        long[] ne = [.. tensor.shape.Reverse()];
        if (type == GgmlType.Q8_0 && ne[0] % GgmlTypes.Q8_0BlockSize != 0)
        {
            throw new LlamaNasException(DiagnosticCodes.GgufRowNotDivisible,
                $"'{name}' has rows of {ne[0]} elements; Q8_0 stores blocks of {GgmlTypes.Q8_0BlockSize}, so its rows must be a multiple of {GgmlTypes.Q8_0BlockSize}. Store it as F16 or F32.",
                new DiagnosticLocation(name));
        }

        var info = new GgufTensorInfo(name, ne, type, _dataSize);
        _tensors.Add((info, tensor));
        _dataSize += Pad((ulong)info.ByteCount);
    }

    /// <summary>Writes the file atomically; I/O failures are LNAS0264.</summary>
    public void Write(string path)
    {
        if (!_keys.Contains("general.alignment"))
        {
            Add("general.alignment", GgufValue.Of((uint)Alignment));
        }

        AtomicFile.Write(path, WriteTo, e => new LlamaNasException(DiagnosticCodes.ExportWriteFailed,
            $"{Path.GetFileName(path)} could not be written ({e.Message}). Check free space and permissions.", new DiagnosticLocation(path), e));
    }

    private void WriteTo(Stream stream)
    {
        using var header = new MemoryStream();
        using (var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_metadata.Count);
            foreach (var (key, value) in _metadata)
            {
                WriteString(w, key);
                w.Write((uint)value.Type);
                WriteValue(w, value.Type, value.Value);
            }

            foreach (var (info, _) in _tensors)
            {
                WriteString(w, info.Name);
                w.Write((uint)info.Dimensions.Count);
                foreach (var d in info.Dimensions)
                {
                    w.Write((ulong)d);
                }

                w.Write((uint)info.Type);
                w.Write(info.Offset);
            }
        }

        while (header.Length % Alignment != 0)
        {
            header.WriteByte(0);
        }

        header.Position = 0;
        header.CopyTo(stream);
        foreach (var (info, tensor) in _tensors)
        {
            var written = WriteData(stream, info, tensor);
            for (var pad = Pad((ulong)written) - (ulong)written; pad > 0; pad--)
            {
                stream.WriteByte(0);
            }
        }
    }

    private static long WriteData(Stream stream, GgufTensorInfo info, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        switch (info.Type)
        {
            case GgmlType.F32:
                TensorBytes.Write(stream, tensor.to(ScalarType.Float32), 4);
                break;
            case GgmlType.F16:
                TensorBytes.Write(stream, tensor.to(ScalarType.Float16), 2);
                break;
            case GgmlType.BF16:
                TensorBytes.Write(stream, tensor.to(ScalarType.BFloat16), 2);
                break;
            default:
                Q8_0.Write(stream, tensor);
                break;
        }

        return info.ByteCount;
    }

    private static ulong Pad(ulong n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object value)
    {
        switch (type)
        {
            case GgufValueType.U8: w.Write((byte)value); break;
            case GgufValueType.I8: w.Write((sbyte)value); break;
            case GgufValueType.U16: w.Write((ushort)value); break;
            case GgufValueType.I16: w.Write((short)value); break;
            case GgufValueType.U32: w.Write((uint)value); break;
            case GgufValueType.I32: w.Write((int)value); break;
            case GgufValueType.F32: w.Write((float)value); break;
            case GgufValueType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.Str: WriteString(w, (string)value); break;
            case GgufValueType.U64: w.Write((ulong)value); break;
            case GgufValueType.I64: w.Write((long)value); break;
            case GgufValueType.F64: w.Write((double)value); break;
            case GgufValueType.Array:
                var array = (GgufArray)value;
                w.Write((uint)array.ElementType);
                w.Write((ulong)array.Items.Count);
                foreach (var item in array.Items)
                {
                    WriteValue(w, array.ElementType, item);
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "not a GGUF value type");
        }
    }

    private static LlamaNasException Invalid(string message, string item) =>
        new(DiagnosticCodes.GgufWriteInvalidInput, message, new DiagnosticLocation("gguf", Item: item));
}

/// <summary>
/// ggml's Q8_0: each run of 32 values of a row is one block, an fp16 scale d = max|x| / 127 followed by 32 int8
/// values round(x / d) (halves away from zero, as C's roundf), so x ≈ d · q. Matches ggml's reference quantizer.
/// </summary>
public static class Q8_0
{
    public const int BlockBytes = 2 + GgmlTypes.Q8_0BlockSize;

    /// <summary>Quantizes <paramref name="values"/> (a multiple of 32 long) into <paramref name="destination"/>.</summary>
    public static void Quantize(ReadOnlySpan<float> values, Span<byte> destination)
    {
        const int n = GgmlTypes.Q8_0BlockSize;
        for (var b = 0; b < values.Length / n; b++)
        {
            var block = values.Slice(b * n, n);
            var target = destination.Slice(b * BlockBytes, BlockBytes);
            var amax = 0f;
            foreach (var x in block)
            {
                amax = Math.Max(amax, Math.Abs(x));
            }

            var d = amax / 127f;
            var id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(target, (Half)d);
            for (var j = 0; j < n; j++)
            {
                target[2 + j] = (byte)(sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero);
            }
        }
    }

    /// <summary>The values the Q8_0 blocks in <paramref name="source"/> stand for.</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        const int n = GgmlTypes.Q8_0BlockSize;
        for (var b = 0; b < source.Length / BlockBytes; b++)
        {
            var block = source.Slice(b * BlockBytes, BlockBytes);
            var d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            for (var j = 0; j < n; j++)
            {
                destination[(b * n) + j] = d * (sbyte)block[2 + j];
            }
        }
    }

    internal static void Write(Stream stream, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var rowLength = tensor.shape[^1];
        var rows = tensor.numel() / rowLength;
        var flat = tensor.to(ScalarType.Float32).cpu().contiguous().view(rows, rowLength);
        var rowsPerChunk = Math.Max(1, (1 << 22) / rowLength);
        for (long start = 0; start < rows; start += rowsPerChunk)
        {
            using var chunk = flat.narrow(0, start, Math.Min(rowsPerChunk, rows - start));
            var values = chunk.data<float>().ToArray();
            var bytes = new byte[values.Length / GgmlTypes.Q8_0BlockSize * BlockBytes];
            Quantize(values, bytes);
            stream.Write(bytes);
        }
    }
}
