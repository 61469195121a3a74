using System.Runtime.InteropServices;

namespace LlamaNas.Engine.Native;

/// <summary>
/// Keeps memory that tensors free inside the process. libtorch allocates CPU tensors with the C library's
/// malloc; glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh mapping and unmaps it
/// on free, so each training step or batch pays page faults and kernel zeroing for its large tensors again
/// (logits, embedding gradients, optimizer temporaries): 40–50 % of a SmolLM2-shape training step on a 2-core VM
/// (docs/BENCHMARKS.md). Serving every thread from the main heap with mmap off, trimmed only above 2 GiB, lets
/// later steps reuse it, as jemalloc or tcmalloc would. <c>LLAMANAS_HEAP=system</c> keeps the C library's defaults.
/// </summary>
public static partial class HeapTuning
{
    public const string EnvironmentVariable = "LLAMANAS_HEAP";

    // glibc by its soname: plain "libc" can resolve to the libc.so linker script; other C libraries fail to load it.
    private const string GlibcName = "libc.so.6";

    private const int TrimThresholdParameter = -1; // M_TRIM_THRESHOLD
    private const int MmapMaxParameter = -4; // M_MMAP_MAX
    private const int ArenaMaxParameter = -8; // M_ARENA_MAX

    /// <summary>Applies the tuning unless the environment opts out; returns what was done, for doctor.</summary>
    internal static string Apply()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "not applicable";
        }

        if (string.Equals(Environment.GetEnvironmentVariable(EnvironmentVariable), "system", StringComparison.OrdinalIgnoreCase))
        {
            return $"C library defaults ({EnvironmentVariable}=system)";
        }

        try
        {
            // glibc's mallopt returns 1 on success; musl's is a stub returning 0.
            // One arena: a thread's own arena lives in 64 MiB heaps and maps anything larger regardless of M_MMAP_MAX.
            var ok = MallOpt(ArenaMaxParameter, 1) == 1 && MallOpt(MmapMaxParameter, 0) == 1 && MallOpt(TrimThresholdParameter, int.MaxValue) == 1;
            return ok ? "freed memory kept for reuse (one malloc arena, mmap off, trim above 2 GiB)" : "C library defaults (its malloc has no mallopt)";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "C library defaults (its malloc has no mallopt)";
        }
    }

    /// <summary>Bytes the C library's malloc currently holds in separate memory mappings (glibc), or null elsewhere.</summary>
    public static long? MappedBytes()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            return (long)MallInfo2().MappedBytes;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Allocates a 128 MiB tensor (four times glibc's largest mmap threshold) and returns how many bytes of new
    /// mappings malloc made for it: about 0 when freed memory is reused from the heap, 128 MiB when it is not. Null
    /// where the C library cannot tell. Threads that allocated before the tuning keep their own arena, so this is
    /// meaningful on the thread that runs the work (the main thread of the tool).
    /// </summary>
    public static long? ProbeLargeAllocation()
    {
        TorchRuntime.EnsureInitialized();
        var before = MappedBytes();
        using var probe = TorchSharp.torch.empty(32L << 20, TorchSharp.torch.float32);
        return MappedBytes() - before;
    }

    [LibraryImport(GlibcName, EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport(GlibcName, EntryPoint = "mallinfo2")]
    private static partial MallInfo MallInfo2();

    /// <summary>glibc's <c>struct mallinfo2</c>: ten size_t fields.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallInfo
    {
        public readonly nuint Arena;
        public readonly nuint OrdinaryBlocks;
        public readonly nuint SmallBlocks;
        public readonly nuint MappedBlocks;
        public readonly nuint MappedBytes;
        public readonly nuint MaxTotalAllocated;
        public readonly nuint FreedSmallBytes;
        public readonly nuint AllocatedBytes;
        public readonly nuint FreeBytes;
        public readonly nuint TopReleasable;
    }
}
