using System.Globalization;

namespace LlamaNas.Engine.Export;

/// <summary>The metadata value types of GGUF (ggml's docs/gguf.md, <c>gguf_metadata_value_type</c>).</summary>
public enum GgufValueType : uint
{
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    Str = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

/// <summary>ggml tensor types by their GGUF id. llamanas writes F32, F16, BF16 and Q8_0; the reader knows the sizes of the others listed.</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
}

/// <summary>Block layout of the ggml types: a row of ne[0] elements is ne[0] / BlockSize blocks of TypeSize bytes.</summary>
public static class GgmlTypes
{
    /// <summary>Elements per Q8_0 block: a row quantized to Q8_0 needs a length divisible by this.</summary>
    public const int Q8_0BlockSize = 32;

    /// <summary>(elements per block, bytes per block), or null for an id this reader does not know.</summary>
    public static (int BlockSize, int TypeSize)? Layout(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.I32 => (1, 4),
        GgmlType.F16 or GgmlType.BF16 or GgmlType.I16 => (1, 2),
        GgmlType.I8 => (1, 1),
        GgmlType.I64 or GgmlType.F64 => (1, 8),
        GgmlType.Q4_0 => (32, 18),
        GgmlType.Q4_1 => (32, 20),
        GgmlType.Q5_0 => (32, 22),
        GgmlType.Q5_1 => (32, 24),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q8_1 => (32, 36),
        GgmlType.Q2_K => (256, 84),
        GgmlType.Q3_K => (256, 110),
        GgmlType.Q4_K => (256, 144),
        GgmlType.Q5_K => (256, 176),
        GgmlType.Q6_K => (256, 210),
        GgmlType.Q8_K => (256, 292),
        _ => null,
    };

    /// <summary>Bytes of a tensor of <paramref name="type"/> with ggml dims <paramref name="ne"/> (ne[0] a multiple of the block size).</summary>
    public static long ByteCount(GgmlType type, IReadOnlyList<long> ne)
    {
        ArgumentNullException.ThrowIfNull(ne);
        var (block, size) = Layout(type) ?? throw new ArgumentOutOfRangeException(nameof(type), type, "unknown ggml type");
        var rows = ne.Skip(1).Aggregate(1L, (a, d) => checked(a * d));
        return checked(ne[0] / block * size * rows);
    }

    public static string Name(GgmlType type) => Enum.IsDefined(type) ? type.ToString() : "type " + ((uint)type).ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// One GGUF metadata value. <see cref="Value"/> is the .NET value of <see cref="Type"/> (byte, sbyte, ushort,
/// short, uint, int, float, bool, string, ulong, long, double), or for an array a <see cref="GgufArray"/>.
/// </summary>
public sealed record GgufValue(GgufValueType Type, object Value)
{
    public static GgufValue Of(uint value) => new(GgufValueType.U32, value);

    public static GgufValue Of(int value) => new(GgufValueType.I32, value);

    public static GgufValue Of(float value) => new(GgufValueType.F32, value);

    public static GgufValue Of(bool value) => new(GgufValueType.Bool, value);

    public static GgufValue Of(string value) => new(GgufValueType.Str, value);

    public static GgufValue Of(ulong value) => new(GgufValueType.U64, value);

    public static GgufValue Array(GgufValueType elementType, IReadOnlyList<object> items) => new(GgufValueType.Array, new GgufArray(elementType, items));

    public static GgufValue Strings(IEnumerable<string> items) => Array(GgufValueType.Str, [.. items]);

    public static GgufValue UInt32s(IEnumerable<int> items) => Array(GgufValueType.U32, [.. items.Select(i => (object)checked((uint)i))]);

    public static GgufValue Int32s(IEnumerable<int> items) => Array(GgufValueType.I32, [.. items.Select(i => (object)i)]);

    public static GgufValue Float32s(IEnumerable<float> items) => Array(GgufValueType.F32, [.. items.Select(f => (object)f)]);

    public GgufArray AsArray => (GgufArray)Value;

    public string AsString => (string)Value;

    /// <summary>An unsigned or signed integer value of any width as a long.</summary>
    public long AsInteger => Value switch
    {
        byte v => v,
        sbyte v => v,
        ushort v => v,
        short v => v,
        uint v => v,
        int v => v,
        ulong v => checked((long)v),
        long v => v,
        _ => throw new InvalidOperationException($"a {Type} value is not an integer"),
    };
}

/// <summary>A GGUF array: every item has <see cref="ElementType"/> (nested arrays are <see cref="GgufArray"/> items).</summary>
public sealed record GgufArray(GgufValueType ElementType, IReadOnlyList<object> Items);

/// <summary>
/// A tensor's entry in a GGUF file: its name, ggml dims (<see cref="Dimensions"/>[0] is the row length, the
/// reverse of torch's shape), type, and offset from the start of the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, IReadOnlyList<long> Dimensions, GgmlType Type, ulong Offset)
{
    public long ByteCount => GgmlTypes.ByteCount(Type, Dimensions);

    /// <summary>The torch shape: <see cref="Dimensions"/> reversed.</summary>
    public long[] Shape => [.. Dimensions.Reverse()];
}
