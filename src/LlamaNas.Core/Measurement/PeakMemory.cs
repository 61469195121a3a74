using System.Globalization;

namespace LlamaNas.Core.Measurement;

/// <summary>
/// The process's peak resident set size (Linux <c>VmHWM</c>), which native allocations (libtorch) count toward unlike
/// the GC's figures. <see cref="TryReset"/> restarts the high-water mark (writing 5 to <c>/proc/self/clear_refs</c>),
/// so one process can measure several runs one after another.
/// </summary>
public static class PeakMemory
{
    /// <summary>Peak resident bytes since the start or the last reset; null where /proc is not available.</summary>
    public static long? ResidentBytes()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            var kb = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            return kb is null ? null : long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Restarts the peak at the current resident size; false where the kernel does not allow it.</summary>
    public static bool TryReset()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
