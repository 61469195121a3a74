using System.Runtime.InteropServices;
using LlamaNas.Core.Diagnostics;
using TorchSharp;

namespace LlamaNas.Engine.Native;

/// <summary>How the native runtime was brought up, for <c>llamanas doctor</c> and tests.</summary>
public sealed record TorchRuntimeStatus(
    string? TorchSharpNativePath,
    string? SystemLibStdCxxPath,
    string SystemNewestGlibcxx,
    string Compat,
    bool CompatShimLoaded,
    string TorchVersion,
    string Heap);

/// <summary>
/// Brings libtorch up exactly once per process. On Linux it first makes TorchSharp's native library loadable
/// against the system libstdc++ (see <see cref="LibStdCxxCompat"/>): the library next to the application is
/// patched in place (atomically, keeping its timestamp so incremental builds do not re-copy it) and the
/// compat shim built with the engine is loaded globally first. Systems whose libstdc++ is new enough are left
/// untouched. It also keeps freed tensor memory in the process (<see cref="HeapTuning"/>). Call
/// <see cref="EnsureInitialized"/> before any TorchSharp use.
/// </summary>
public static class TorchRuntime
{
    public const string TorchSharpNativeName = "libLibTorchSharp.so";
    public const string CompatShimName = "libllamanas_cxxcompat.so";

    private static readonly Lock Gate = new();
    private static TorchRuntimeStatus? _status;
    private static int? _threads;
    private static int _defaultThreads;

    /// <summary>
    /// Intra-op threads for libtorch (null: its default, one per core). Fewer threads help tiny models and machines
    /// shared with other work, where OpenMP threads otherwise wait on each other. Applies now or at bring-up.
    /// </summary>
    public static void ConfigureThreads(int threads)
    {
        if (threads < 1)
        {
            throw new LlamaNasException(DiagnosticCodes.CliInvalidArgument, "--threads must be at least 1.");
        }

        lock (Gate)
        {
            _threads = threads;
            if (_status is not null)
            {
                torch.set_num_threads(threads);
            }
        }
    }

    /// <summary>
    /// Sets the calling thread's intra-op thread count to the configured one (else libtorch's default as first seen).
    /// OpenMP keeps that count per OS thread, and the number of threads can change the last bits of a sum: a thread
    /// that once ran with another count (one of a test host's pooled threads, say) would otherwise measure slightly
    /// differently. Evaluations that must be reproducible call this on the thread that runs them.
    /// </summary>
    public static void ApplyThreads()
    {
        EnsureInitialized();
        lock (Gate)
        {
            torch.set_num_threads(_threads ?? _defaultThreads);
        }
    }

    public static TorchRuntimeStatus Status => EnsureInitialized();

    public static TorchRuntimeStatus EnsureInitialized()
    {
        lock (Gate)
        {
            if (_status is not null)
            {
                return _status;
            }

            var heap = HeapTuning.Apply();
            string? nativePath = null, stdcxxPath = null, newest = "n/a", compat = "not applicable";
            var shimLoaded = false;
            if (OperatingSystem.IsLinux())
            {
                nativePath = FindTorchSharpNative();
                stdcxxPath = FindLoadedLibrary(LibStdCxxCompat.LibraryName);
                var systemVersions = ElfImage.Load(stdcxxPath).VersionDefinitions;
                newest = LibStdCxxCompat.Newest(systemVersions);
                compat = PatchIfNeeded(nativePath, systemVersions);
                if (compat != "not needed")
                {
                    shimLoaded = LoadCompatShim(Path.GetDirectoryName(nativePath)!);
                }
            }

            string version;
            try
            {
                _defaultThreads = torch.get_num_threads();
                if (_threads is { } n)
                {
                    torch.set_num_threads(n);
                }

                using var probe = torch.ones(2, 2).matmul(torch.ones(2, 2));
                version = torch.__version__;
            }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or NotSupportedException or EntryPointNotFoundException)
            {
                throw new LlamaNasException(
                    DiagnosticCodes.NativeLoadFailed,
                    $"libtorch failed to load ({e.GetBaseException().Message}). Run 'llamanas doctor' for details.",
                    nativePath is null ? null : new DiagnosticLocation(nativePath),
                    e);
            }

            return _status = new TorchRuntimeStatus(nativePath, stdcxxPath, newest, compat, shimLoaded, version, heap);
        }
    }

    private static string PatchIfNeeded(string nativePath, IReadOnlyCollection<string> systemVersions)
    {
        var original = File.ReadAllBytes(nativePath);
        var image = ElfImage.Parse(original, nativePath);
        var patch = LibStdCxxCompat.Plan(image, systemVersions, nativePath);
        if (patch.IsEmpty)
        {
            var alreadyPatched = image.VersionNeeds.Any(n => n.File == LibStdCxxCompat.LibraryName && n.IsWeak && !systemVersions.Contains(n.Name));
            return alreadyPatched ? "applied earlier" : "not needed";
        }

        var patched = LibStdCxxCompat.Apply(original, patch);
        var temp = nativePath + $".{Environment.ProcessId}.tmp";
        try
        {
            var timestamp = File.GetLastWriteTimeUtc(nativePath);
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(patched);
                stream.Flush(flushToDisk: true);
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temp, File.GetUnixFileMode(nativePath));
            }

            File.SetLastWriteTimeUtc(temp, timestamp);
            File.Move(temp, nativePath, overwrite: true);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            TryDelete(temp);
            throw new LlamaNasException(
                DiagnosticCodes.NativeDirectoryNotWritable,
                $"the system {LibStdCxxCompat.LibraryName} lacks {string.Join(", ", patch.NeedsToWeaken.Select(n => n.Name))}, and TorchSharp's native library " +
                $"must be adapted once, but it cannot be rewritten ({e.Message}). Run llamanas once as the owner of the installation.",
                new DiagnosticLocation(nativePath),
                e);
        }

        return "applied now: " + string.Join(", ", patch.NeedsToWeaken.Select(n => n.Name + " made weak"));
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    private static string FindTorchSharpNative()
    {
        var candidates = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string dirs)
        {
            candidates.AddRange(dirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }

        var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        candidates.Add(AppContext.BaseDirectory);
        candidates.Add(Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native"));
        foreach (var dir in candidates)
        {
            var path = Path.Combine(dir, TorchSharpNativeName);
            if (File.Exists(path))
            {
                return Path.GetFullPath(path);
            }
        }

        throw new LlamaNasException(
            DiagnosticCodes.NativeLibraryNotFound,
            $"{TorchSharpNativeName} was not found next to the application (searched: {string.Join(", ", candidates.Distinct())}). " +
            "Reinstall llamanas or restore the TorchSharp-cpu package.");
    }

    /// <summary>Loads <paramref name="soname"/> the way the dynamic loader would and returns the file it chose.</summary>
    private static string FindLoadedLibrary(string soname)
    {
        if (!NativeLibrary.TryLoad(soname, out _))
        {
            throw new LlamaNasException(DiagnosticCodes.NativeLibraryNotFound, $"the system {soname} could not be loaded; install libstdc++6.");
        }

        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0 && Path.GetFileName(line[slash..]).StartsWith(soname, StringComparison.Ordinal))
            {
                return line[slash..].Trim();
            }
        }

        throw new LlamaNasException(DiagnosticCodes.NativeLibraryNotFound, $"loaded {soname} but could not tell which file it is.");
    }

    private static unsafe bool LoadCompatShim(string nativeDirectory)
    {
        var shim = new[] { AppContext.BaseDirectory, nativeDirectory }
            .Select(d => Path.Combine(d, CompatShimName))
            .FirstOrDefault(File.Exists);
        if (shim is null)
        {
            return false; // The patch alone suffices (the symbol is never resolved); the shim only guarantees iostream init.
        }

        // RTLD_GLOBAL so that the shim's definition is visible to libraries loaded afterwards.
        const int RtldNow = 2, RtldGlobal = 0x100;
        var libc = NativeLibrary.TryLoad("libc.so.6", out var h) && NativeLibrary.TryGetExport(h, "dlopen", out var dlopen) ? dlopen
            : NativeLibrary.TryLoad("libdl.so.2", out h) && NativeLibrary.TryGetExport(h, "dlopen", out dlopen) ? dlopen : 0;
        if (libc == 0)
        {
            return false;
        }

        var path = System.Text.Encoding.UTF8.GetBytes(shim + "\0");
        fixed (byte* p = path)
        {
            var handle = ((delegate* unmanaged<byte*, int, nint>)libc)(p, RtldNow | RtldGlobal);
            if (handle == 0)
            {
                throw new LlamaNasException(DiagnosticCodes.NativeLoadFailed, "the libstdc++ compat shim failed to load.", new DiagnosticLocation(shim));
            }
        }

        return true;
    }
}
