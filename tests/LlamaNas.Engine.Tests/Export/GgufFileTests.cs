using System.Text;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Engine.Export;
using LlamaNas.TestSupport;
using static TorchSharp.torch;

namespace LlamaNas.Engine.Tests.Export;

public sealed class GgufFileTests
{
    [Fact]
    public void Every_value_type_round_trips_through_the_writer_and_the_reader()
    {
        TorchTest.Init();
        using var temp = new TempDir();
        var values = new Dictionary<string, GgufValue>
        {
            ["u8"] = new(GgufValueType.U8, (byte)200),
            ["i8"] = new(GgufValueType.I8, (sbyte)-100),
            ["u16"] = new(GgufValueType.U16, (ushort)60000),
            ["i16"] = new(GgufValueType.I16, (short)-30000),
            ["u32"] = GgufValue.Of(4_000_000_000u),
            ["i32"] = GgufValue.Of(-2_000_000_000),
            ["f32"] = GgufValue.Of(1.5e-5f),
            ["bool"] = GgufValue.Of(true),
            ["str"] = GgufValue.Of("ünïcode ▁piece"),
            ["u64"] = GgufValue.Of(ulong.MaxValue),
            ["i64"] = new(GgufValueType.I64, long.MinValue),
            ["f64"] = new(GgufValueType.F64, Math.PI),
            ["u32s"] = GgufValue.UInt32s([1, 2, 3]),
            ["empty"] = GgufValue.Strings([]),
            ["nested"] = GgufValue.Array(GgufValueType.Array, [new GgufArray(GgufValueType.Str, ["a", "b"]), new GgufArray(GgufValueType.Str, [])]),
        };
        var writer = new GgufWriter();
        foreach (var (key, value) in values)
        {
            writer.Add(key, value);
        }

        using var t = arange(0, 96, dtype: ScalarType.Float32).reshape(3, 32);
        writer.AddTensor("t", t, GgmlType.F32);
        writer.AddTensor("v", t[0], GgmlType.F16);
        var path = temp.File("all.gguf");
        writer.Write(path);

        var file = GgufFile.Open(path);
        Assert.Equal([.. values.Keys, "general.alignment"], file.Metadata.Select(m => m.Key));
        foreach (var (key, value) in values.Where(v => v.Value.Type != GgufValueType.Array))
        {
            Assert.Equal(value, file[key]);
        }

        Assert.Equal([1u, 2u, 3u], file["u32s"].AsArray.Items.Cast<uint>());
        Assert.Empty(file["empty"].AsArray.Items);
        var nested = file["nested"].AsArray;
        Assert.Equal(GgufValueType.Array, nested.ElementType);
        Assert.Equal(["a", "b"], ((GgufArray)nested.Items[0]).Items.Cast<string>());
        Assert.Equal(new long[] { 32, 3 }, file.Tensor("t").Dimensions);
        Assert.Equal(0ul, file.Tensor("t").Offset);
        Assert.Equal(384ul, file.Tensor("v").Offset);
        Assert.Equal(Enumerable.Range(0, 96).Select(i => (float)i), file.ReadFloats(file.Tensor("t")));
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (float)i), file.ReadFloats(file.Tensor("v")));
        var missing = Assert.Throws<LlamaNasException>(() => file["nope"]);
        Assert.Equal(DiagnosticCodes.GgufNotFound, missing.Code);
    }

    [Fact]
    public void A_truncated_file_fails_with_a_gguf_code_wherever_it_is_cut()
    {
        TorchTest.Init();
        using var temp = new TempDir();
        var writer = new GgufWriter();
        writer.Add("general.architecture", GgufValue.Of("llama"));
        writer.Add("tokens", GgufValue.Strings(["<unk>", "<s>", "▁a"]));
        using var t = ones(2, 64);
        writer.AddTensor("a", t, GgmlType.Q8_0);
        writer.AddTensor("b", t, GgmlType.F32);
        var path = temp.File("whole.gguf");
        writer.Write(path);
        var bytes = File.ReadAllBytes(path);
        var file = GgufFile.Open(path);
        var end = file.DataOffset + (long)file.Tensor("b").Offset + file.Tensor("b").ByteCount;
        for (var cut = 0; cut < end; cut++)
        {
            File.WriteAllBytes(path, bytes[..cut]);
            var error = Assert.Throws<LlamaNasException>(() => GgufFile.Open(path));
            Assert.Equal(DiagnosticCodes.GgufTruncated, error.Code);
        }
    }

    [Fact]
    public void A_file_that_is_not_gguf_or_of_another_version_is_refused()
    {
        Assert.Equal(DiagnosticCodes.GgufBadMagic, Open(new Raw().Bytes(Encoding.ASCII.GetBytes("GGML")).U32(3).U64(0).U64(0)));
        Assert.Equal(DiagnosticCodes.GgufUnsupportedVersion, Open(Header(version: 1)));
        Assert.Equal(DiagnosticCodes.GgufUnsupportedVersion, Open(Header(version: 4)));
        Assert.Equal(DiagnosticCodes.GgufTruncated, Open(Header(kvs: 1_000_000)));
        using var temp = new TempDir();
        Assert.Equal(DiagnosticCodes.GgufCannotOpen, Assert.Throws<LlamaNasException>(() => GgufFile.Open(temp.File("absent.gguf"))).Code);
    }

    [Fact]
    public void Bad_metadata_is_refused_with_its_own_code()
    {
        Assert.Equal(DiagnosticCodes.GgufDuplicateKey, Open(Header(kvs: 2).Str("k").U32(4).U32(1).Str("k").U32(4).U32(2)));
        Assert.Equal(DiagnosticCodes.GgufInvalidValueType, Open(Header(kvs: 1).Str("k").U32(13).U32(1)));
        Assert.Equal(DiagnosticCodes.GgufInvalidValueType, Open(Header(kvs: 1).Str("k").U32(7).Bytes([2])));
        Assert.Equal(DiagnosticCodes.GgufInvalidValueType, Open(Header(kvs: 1).Str("k").U32(9).U32(42).U64(1)));
        Assert.Equal(DiagnosticCodes.GgufInvalidString, Open(Header(kvs: 1).U64(2).Bytes([0xC3, 0x28]).U32(4).U32(1)));
        Assert.Equal(DiagnosticCodes.GgufTruncated, Open(Header(kvs: 1).Str("k").U32(9).U32(4).U64(1_000_000)));
        Assert.Equal(DiagnosticCodes.GgufInvalidAlignment, Open(Header(kvs: 1).Str("general.alignment").U32(4).U32(24)));
        Assert.Equal(DiagnosticCodes.GgufInvalidAlignment, Open(Header(kvs: 1).Str("general.alignment").U32(5).I32(32)));
    }

    [Fact]
    public void Bad_tensor_infos_and_offsets_are_refused_with_their_own_codes()
    {
        Assert.Equal(DiagnosticCodes.GgufDuplicateTensor, Open(Tensors(("a", [32], 0, 0), ("a", [32], 0, 128))));
        Assert.Equal(DiagnosticCodes.GgufInvalidTensorInfo, Open(Tensors(("a", [1, 1, 1, 1, 1], 0, 0))));
        Assert.Equal(DiagnosticCodes.GgufInvalidTensorInfo, Open(Tensors(("a", [0], 0, 0))));
        Assert.Equal(DiagnosticCodes.GgufInvalidTensorInfo, Open(Tensors(("a", [33], 8, 0))));
        Assert.Equal(DiagnosticCodes.GgufUnknownTensorType, Open(Tensors(("a", [32], 99, 0))));
        Assert.Equal(DiagnosticCodes.GgufInvalidTensorOffset, Open(Tensors(("a", [32], 0, 8))));
        Assert.Equal(DiagnosticCodes.GgufInvalidTensorOffset, Open(Tensors(("a", [32], 0, 0), ("b", [32], 0, 96))));
        Assert.Equal(DiagnosticCodes.GgufTruncated, Open(Tensors(("a", [32], 0, 256))));
        Assert.Null(Record.Exception(() => OpenValid(Tensors(("a", [32], 0, 0), ("b", [32], 0, 128)))));
    }

    private static Raw Header(uint version = 3, ulong tensors = 0, ulong kvs = 0) => new Raw().U32(GgufWriter.Magic).U32(version).U64(tensors).U64(kvs);

    /// <summary>A file with the given tensor infos (name, ggml dims, type id, offset) and 256 bytes of data.</summary>
    private static Raw Tensors(params (string Name, long[] Dims, uint Type, ulong Offset)[] infos)
    {
        var raw = Header(tensors: (ulong)infos.Length);
        foreach (var (name, dims, type, offset) in infos)
        {
            raw.Str(name).U32((uint)dims.Length);
            foreach (var d in dims)
            {
                raw.U64((ulong)d);
            }

            raw.U32(type).U64(offset);
        }

        return raw.Align(32).Bytes(new byte[256]);
    }

    private static string Open(Raw raw)
    {
        using var temp = new TempDir();
        var path = temp.File("raw.gguf");
        File.WriteAllBytes(path, raw.ToArray());
        return Assert.Throws<LlamaNasException>(() => GgufFile.Open(path)).Code;
    }

    private static void OpenValid(Raw raw)
    {
        using var temp = new TempDir();
        var path = temp.File("raw.gguf");
        File.WriteAllBytes(path, raw.ToArray());
        GgufFile.Open(path);
    }

    /// <summary>GGUF bytes written by hand, for files the writer refuses to produce.</summary>
    private sealed class Raw
    {
        private readonly List<byte> _bytes = [];

        public Raw U32(uint v) => Bytes(BitConverter.GetBytes(v));

        public Raw I32(int v) => Bytes(BitConverter.GetBytes(v));

        public Raw U64(ulong v) => Bytes(BitConverter.GetBytes(v));

        public Raw Str(string s) => U64((ulong)Encoding.UTF8.GetByteCount(s)).Bytes(Encoding.UTF8.GetBytes(s));

        public Raw Align(int n)
        {
            while (_bytes.Count % n != 0)
            {
                _bytes.Add(0);
            }

            return this;
        }

        public Raw Bytes(byte[] bytes)
        {
            _bytes.AddRange(bytes);
            return this;
        }

        public byte[] ToArray() => [.. _bytes];
    }
}
