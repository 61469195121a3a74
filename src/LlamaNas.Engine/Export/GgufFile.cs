using System.Buffers.Binary;
using System.Text;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Engine.Export;

/// <summary>
/// A parsed GGUF file (ggml's docs/gguf.md, versions 2 and 3): header, every metadata value (all value types,
/// arrays nested or not) and the tensor infos, checked against the spec when it is opened: magic, version, counts
/// and lengths that fit the file, known value and tensor types, UTF-8 strings, unique keys and tensor names, a
/// power-of-two alignment, 1 to 4 positive dims whose row length fits the type's blocks, and tensor data that is
/// aligned, inside the file and not overlapping. Every problem is a coded error (LNAS0270-0282) naming the file.
/// Hand-written: no NuGet package reads GGUF.
/// </summary>
public sealed class GgufFile
{
    private const int MaxDims = 4;

    private readonly Dictionary<string, GgufValue> _byKey;
    private readonly Dictionary<string, GgufTensorInfo> _byName;

    private GgufFile(string path, uint version, List<KeyValuePair<string, GgufValue>> metadata, List<GgufTensorInfo> tensors, int alignment, long dataOffset)
    {
        Path = path;
        Version = version;
        Metadata = metadata;
        Tensors = tensors;
        Alignment = alignment;
        DataOffset = dataOffset;
        _byKey = metadata.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path { get; }

    public uint Version { get; }

    /// <summary>The metadata in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata { get; }

    /// <summary>The tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary><c>general.alignment</c>, or 32 when absent.</summary>
    public int Alignment { get; }

    /// <summary>Absolute file offset of the data section (tensor offsets are relative to it).</summary>
    public long DataOffset { get; }

    public bool Has(string key) => _byKey.ContainsKey(key);

    /// <summary>The value of <paramref name="key"/>; LNAS0282 when the file has none.</summary>
    public GgufValue this[string key] => _byKey.TryGetValue(key, out var v) ? v
        : throw new LlamaNasException(DiagnosticCodes.GgufNotFound, $"{System.IO.Path.GetFileName(Path)} has no metadata key '{key}'.", new DiagnosticLocation(Path, Item: key));

    /// <summary>The info of tensor <paramref name="name"/>; LNAS0282 when the file has none.</summary>
    public GgufTensorInfo Tensor(string name) => _byName.TryGetValue(name, out var t) ? t
        : throw new LlamaNasException(DiagnosticCodes.GgufNotFound, $"{System.IO.Path.GetFileName(Path)} has no tensor '{name}'.", new DiagnosticLocation(Path, Item: name));

    public static GgufFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        path = System.IO.Path.GetFullPath(path);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LlamaNasException(DiagnosticCodes.GgufCannotOpen, $"{System.IO.Path.GetFileName(path)} cannot be read ({e.Message}).", new DiagnosticLocation(path), e);
        }

        using (stream)
        {
            using var parser = new Parser(stream, path);
            return parser.Parse();
        }
    }

    /// <summary>The raw bytes of <paramref name="tensor"/>'s data.</summary>
    public byte[] ReadData(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var bytes = new byte[tensor.ByteCount];
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        stream.Position = DataOffset + (long)tensor.Offset;
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The values of a F32, F16, BF16 or Q8_0 tensor in row-major (torch) order.</summary>
    public float[] ReadFloats(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var bytes = ReadData(tensor);
        var count = tensor.Dimensions.Aggregate(1L, (a, d) => a * d);
        var values = new float[count];
        switch (tensor.Type)
        {
            case GgmlType.F32:
                for (var i = 0; i < count; i++)
                {
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
                }

                break;
            case GgmlType.F16:
                for (var i = 0; i < count; i++)
                {
                    values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(i * 2));
                }

                break;
            case GgmlType.BF16:
                for (var i = 0; i < count; i++)
                {
                    values[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i * 2)) << 16);
                }

                break;
            case GgmlType.Q8_0:
                Q8_0.Dequantize(bytes, values);
                break;
            default:
                throw new LlamaNasException(DiagnosticCodes.GgufUnknownTensorType, $"'{tensor.Name}' is {GgmlTypes.Name(tensor.Type)}; llamanas dequantizes F32, F16, BF16 and Q8_0 only.", new DiagnosticLocation(Path, Item: tensor.Name));
        }

        return values;
    }

    private sealed class Parser(FileStream stream, string path) : IDisposable
    {
        private readonly long _length = stream.Length;
        private readonly BinaryReader _r = new(stream, Encoding.UTF8, leaveOpen: true);
        private readonly string _file = System.IO.Path.GetFileName(path);

        public void Dispose() => _r.Dispose();

        public GgufFile Parse()
        {
            Need(8, "the magic and version");
            var magic = _r.ReadUInt32();
            if (magic != GgufWriter.Magic)
            {
                throw Error(DiagnosticCodes.GgufBadMagic, $"{_file} does not start with the GGUF magic (found 0x{magic:X8}); it is not a GGUF file.");
            }

            var version = _r.ReadUInt32();
            if (version is not (2 or 3))
            {
                throw Error(DiagnosticCodes.GgufUnsupportedVersion, $"{_file} is GGUF version {version}; llamanas reads versions 2 and 3.");
            }

            Need(16, "the tensor and metadata counts");
            var tensorCount = _r.ReadUInt64();
            var kvCount = _r.ReadUInt64();
            // Every metadata entry and tensor info takes more than 8 bytes, which bounds the counts by the file size.
            if (kvCount > (ulong)Remaining / 8 || tensorCount > (ulong)Remaining / 8)
            {
                throw Error(DiagnosticCodes.GgufTruncated, $"{_file} declares {tensorCount} tensors and {kvCount} metadata entries, more than its {_length} bytes can hold.");
            }

            var metadata = new List<KeyValuePair<string, GgufValue>>();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            for (ulong i = 0; i < kvCount; i++)
            {
                var key = ReadString("a metadata key");
                if (!keys.Add(key))
                {
                    throw Error(DiagnosticCodes.GgufDuplicateKey, $"{_file} defines the metadata key '{key}' twice.", key);
                }

                Need(4, "a value type");
                var type = ReadType(_r.ReadUInt32(), key);
                metadata.Add(new(key, new GgufValue(type, ReadValue(type, key, depth: 0))));
            }

            var alignment = 32;
            if (metadata.FirstOrDefault(m => m.Key == "general.alignment").Value is { } a)
            {
                if (a.Value is not uint align || align == 0 || (align & (align - 1)) != 0 || align > (1 << 20))
                {
                    throw Error(DiagnosticCodes.GgufInvalidAlignment, $"general.alignment in {_file} must be a uint32 power of two (at most 1 MiB), not {a.Type} {a.Value}.", "general.alignment");
                }

                alignment = (int)align;
            }

            var tensors = new List<GgufTensorInfo>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (ulong i = 0; i < tensorCount; i++)
            {
                tensors.Add(ReadTensorInfo(names));
            }

            var dataOffset = (_r.BaseStream.Position + alignment - 1) / alignment * alignment;
            CheckData(tensors, alignment, dataOffset);
            return new GgufFile(path, version, metadata, tensors, alignment, dataOffset);
        }

        private long Remaining => _length - _r.BaseStream.Position;

        private GgufTensorInfo ReadTensorInfo(HashSet<string> names)
        {
            var name = ReadString("a tensor name");
            if (!names.Add(name))
            {
                throw Error(DiagnosticCodes.GgufDuplicateTensor, $"{_file} lists the tensor '{name}' twice.", name);
            }

            Need(4, "a tensor's dimension count");
            var nDims = _r.ReadUInt32();
            if (nDims is 0 or > MaxDims)
            {
                throw Error(DiagnosticCodes.GgufInvalidTensorInfo, $"'{name}' in {_file} has {nDims} dimensions; GGUF tensors have 1 to {MaxDims}.", name);
            }

            Need(8L * nDims, "a tensor's dimensions");
            var dims = new long[nDims];
            long elements = 1;
            for (var d = 0; d < nDims; d++)
            {
                var n = _r.ReadUInt64();
                if (n == 0 || n > long.MaxValue / 8 || elements > long.MaxValue / 8 / (long)n)
                {
                    throw Error(DiagnosticCodes.GgufInvalidTensorInfo, $"'{name}' in {_file} has dimension {d} of {n}; dimensions are positive and the tensor must fit in a file.", name);
                }

                dims[d] = (long)n;
                elements *= (long)n;
            }

            Need(12, "a tensor's type and offset");
            var type = (GgmlType)_r.ReadUInt32();
            if (GgmlTypes.Layout(type) is not { } layout)
            {
                throw Error(DiagnosticCodes.GgufUnknownTensorType, $"'{name}' in {_file} has ggml type id {(uint)type}, which llamanas does not know.", name);
            }

            if (dims[0] % layout.BlockSize != 0)
            {
                throw Error(DiagnosticCodes.GgufInvalidTensorInfo, $"'{name}' in {_file} has rows of {dims[0]} elements, not a multiple of the {layout.BlockSize}-element blocks of {type}.", name);
            }

            return new GgufTensorInfo(name, dims, type, _r.ReadUInt64());
        }

        private void CheckData(List<GgufTensorInfo> tensors, int alignment, long dataOffset)
        {
            var dataLength = _length - dataOffset;
            GgufTensorInfo? previous = null;
            foreach (var t in tensors.OrderBy(t => t.Offset))
            {
                if (t.Offset % (ulong)alignment != 0)
                {
                    throw Error(DiagnosticCodes.GgufInvalidTensorOffset, $"'{t.Name}' in {_file} starts at data offset {t.Offset}, not a multiple of the alignment {alignment}.", t.Name);
                }

                if (t.Offset > (ulong)Math.Max(0, dataLength) || t.ByteCount > dataLength - (long)t.Offset)
                {
                    throw Error(DiagnosticCodes.GgufTruncated, $"'{t.Name}' in {_file} needs bytes {t.Offset} to {(long)t.Offset + t.ByteCount} of the data, which holds {Math.Max(0, dataLength)}: the file is truncated.", t.Name);
                }

                if (previous is not null && (long)previous.Offset + previous.ByteCount > (long)t.Offset)
                {
                    throw Error(DiagnosticCodes.GgufInvalidTensorOffset, $"'{t.Name}' in {_file} overlaps '{previous.Name}'; each tensor needs its own bytes.", t.Name);
                }

                previous = t;
            }
        }

        private GgufValueType ReadType(uint raw, string key) =>
            Enum.IsDefined((GgufValueType)raw) ? (GgufValueType)raw
                : throw Error(DiagnosticCodes.GgufInvalidValueType, $"'{key}' in {_file} has value type {raw}, which GGUF does not define.", key);

        private object ReadValue(GgufValueType type, string key, int depth)
        {
            switch (type)
            {
                case GgufValueType.U8: Need(1, key); return _r.ReadByte();
                case GgufValueType.I8: Need(1, key); return _r.ReadSByte();
                case GgufValueType.U16: Need(2, key); return _r.ReadUInt16();
                case GgufValueType.I16: Need(2, key); return _r.ReadInt16();
                case GgufValueType.U32: Need(4, key); return _r.ReadUInt32();
                case GgufValueType.I32: Need(4, key); return _r.ReadInt32();
                case GgufValueType.F32: Need(4, key); return _r.ReadSingle();
                case GgufValueType.U64: Need(8, key); return _r.ReadUInt64();
                case GgufValueType.I64: Need(8, key); return _r.ReadInt64();
                case GgufValueType.F64: Need(8, key); return _r.ReadDouble();
                case GgufValueType.Bool:
                    Need(1, key);
                    return _r.ReadByte() switch
                    {
                        0 => false,
                        1 => true,
                        var b => throw Error(DiagnosticCodes.GgufInvalidValueType, $"'{key}' in {_file} holds the bool byte {b}; GGUF bools are 0 or 1.", key),
                    };
                case GgufValueType.Str:
                    return ReadString(key);
                default:
                    if (depth > 8)
                    {
                        throw Error(DiagnosticCodes.GgufInvalidValueType, $"'{key}' in {_file} nests arrays more than 8 deep.", key);
                    }

                    Need(12, key);
                    var elementType = ReadType(_r.ReadUInt32(), key);
                    var count = _r.ReadUInt64();
                    // Every element takes at least one byte, which bounds the count by what is left of the file.
                    if (count > (ulong)Remaining)
                    {
                        throw Error(DiagnosticCodes.GgufTruncated, $"'{key}' in {_file} declares {count} array items, more than the {Remaining} bytes left.", key);
                    }

                    var items = new object[count];
                    for (ulong i = 0; i < count; i++)
                    {
                        items[i] = ReadValue(elementType, key, depth + 1);
                    }

                    return new GgufArray(elementType, items);
            }
        }

        private string ReadString(string what)
        {
            Need(8, what);
            var length = _r.ReadUInt64();
            if (length > (ulong)Remaining || length > int.MaxValue)
            {
                throw Error(DiagnosticCodes.GgufTruncated, $"{what} in {_file} is a string of {length} bytes, more than the {Remaining} bytes left.", what);
            }

            var bytes = _r.ReadBytes((int)length);
            try
            {
                return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw Error(DiagnosticCodes.GgufInvalidString, $"{what} in {_file} is not valid UTF-8.", what);
            }
        }

        private void Need(long bytes, string what)
        {
            if (Remaining < bytes)
            {
                throw Error(DiagnosticCodes.GgufTruncated, $"{_file} ends inside {what} (needs {bytes} more bytes, {Remaining} left): the file is truncated.", what);
            }
        }

        private LlamaNasException Error(string code, string message, string? item = null) => new(code, message, new DiagnosticLocation(path, Item: item));
    }
}
