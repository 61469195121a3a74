using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Core.IO;

/// <summary>
/// One writer per output folder: an advisory lock file, <c>.llamanas.lock</c>, created with
/// <see cref="FileMode.CreateNew"/> (atomic: exactly one process creates it) and holding the owner's pid, process start
/// time, host and command. A second process gets LNAS0111 at once, naming the holder. The file is removed on
/// <see cref="Dispose"/>; a holder killed without that leaves it behind, and the next <see cref="Acquire"/> on the same
/// host takes it over when that pid no longer runs (or runs a different process, by its start time). A lock of another
/// host is never judged stale (its pids mean nothing here): remove the file by hand when that run is gone.
/// </summary>
public sealed class OutputLock : IDisposable
{
    public const string FileName = ".llamanas.lock";

    /// <summary>A lock file this young may still be being written by its creator; unreadable older ones are stale.</summary>
    private static readonly TimeSpan WriteGrace = TimeSpan.FromSeconds(10);

    private readonly string _content;
    private bool _released;

    private OutputLock(string path, string content)
    {
        Path = path;
        _content = content;
    }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    /// <summary>
    /// Creates <paramref name="folder"/> if needed and locks it for <paramref name="command"/> (shown to a second
    /// process, e.g. "finetune"). Throws LNAS0111 when another live process holds it; LNAS0110 when the folder cannot
    /// be written.
    /// </summary>
    public static OutputLock Acquire(string folder, string command)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(command);
        var path = System.IO.Path.Combine(System.IO.Path.GetFullPath(folder), FileName);
        var content = Describe(command);
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);

            // Twice at most: a stale lock is set aside once, then the folder is ours or someone else's.
            for (var attempt = 0; ; attempt++)
            {
                if (TryCreate(path, content))
                {
                    return new OutputLock(path, content);
                }

                var holder = ReadHolder(path);
                if (attempt > 0 || !IsStale(holder, path) || !TrySetAside(path, holder))
                {
                    throw Held(path, holder);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LlamaNasException(DiagnosticCodes.OutputWriteFailed, $"the output folder cannot be locked ({e.Message}). Check free space and permissions.", new DiagnosticLocation(path), e);
        }
    }

    /// <summary>
    /// LNAS0111 when a live process holds <paramref name="folder"/>; for checks made before <see cref="Acquire"/>, so a
    /// later second run names the holder rather than tripping over its half-written outputs.
    /// </summary>
    public static void ThrowIfHeld(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var path = System.IO.Path.Combine(System.IO.Path.GetFullPath(folder), FileName);
        if (File.Exists(path) && ReadHolder(path) is var holder && !IsStale(holder, path))
        {
            throw Held(path, holder);
        }
    }

    /// <summary>Whether process <paramref name="pid"/> of this host is running and started at <paramref name="started"/> (when given).</summary>
    public static bool IsAlive(int pid, DateTime? started = null)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited && (started is not { } s || Math.Abs((process.StartTime.ToUniversalTime() - s).TotalSeconds) < 2);
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        catch (InvalidOperationException)
        {
            return false; // exited while we looked
        }
    }

    /// <summary>Removes the lock file if it is still this lock's.</summary>
    public void Dispose()
    {
        if (_released)
        {
            return;
        }

        _released = true;
        try
        {
            if (File.Exists(Path) && File.ReadAllText(Path) == _content)
            {
                File.Delete(Path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind, it is judged stale by the next run (this pid will be gone).
        }
    }

    private static string Describe(string command)
    {
        using var self = Process.GetCurrentProcess();
        return new JsonObject
        {
            ["pid"] = Environment.ProcessId,
            ["host"] = Environment.MachineName,
            ["started"] = self.StartTime.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
            ["command"] = command,
        }.ToJsonString() + "\n";
    }

    private static bool TryCreate(string path, string content)
    {
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }

        using (stream)
        {
            try
            {
                stream.Write(Encoding.UTF8.GetBytes(content));
                stream.Flush(flushToDisk: true);
            }
            catch (IOException)
            {
                stream.Dispose();
                File.Delete(path); // a lock without its owner would block the next run for the grace period
                throw;
            }
        }

        return true;
    }

    /// <summary>The holder as recorded; null when the file is gone, empty or torn.</summary>
    private static Holder? ReadHolder(string path)
    {
        try
        {
            if (JsonNode.Parse(File.ReadAllText(path)) is not JsonObject o)
            {
                return null;
            }

            T Field<T>(string name) => (o[name] ?? throw new JsonException($"'{name}' is missing")).GetValue<T>();
            return new Holder(
                Field<int>("pid"),
                Field<string>("host"),
                DateTime.Parse(Field<string>("started"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
                Field<string>("command"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static bool IsStale(Holder? holder, string path)
    {
        if (holder is null)
        {
            return DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > WriteGrace;
        }

        return holder.Host == Environment.MachineName && !IsAlive(holder.Pid, holder.Started);
    }

    /// <summary>
    /// Moves the stale lock aside under a unique name and removes it. If another process took it over between our
    /// look and the move, the moved file is no longer the stale one: it is put back and the folder counts as held.
    /// </summary>
    private static bool TrySetAside(string path, Holder? stale)
    {
        var aside = $"{path}.stale-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";
        try
        {
            File.Move(path, aside, overwrite: true);
        }
        catch (FileNotFoundException)
        {
            return true; // released meanwhile: try again
        }

        if (ReadHolder(aside) != stale)
        {
            File.Move(aside, path, overwrite: false);
            return false;
        }

        File.Delete(aside);
        return true;
    }

    private static LlamaNasException Held(string path, Holder? holder)
    {
        var who = holder is null
            ? "another process (its lock file is being written)"
            : string.Create(CultureInfo.InvariantCulture, $"'{holder.Command}' (pid {holder.Pid} on {holder.Host}, since {holder.Started:u})");
        var remedy = holder is not null && holder.Host != Environment.MachineName
            ? $" It runs on another host, so it is never taken over automatically: delete {FileName} when that run is gone."
            : string.Empty;
        return new LlamaNasException(DiagnosticCodes.OutputFolderLocked,
            $"the output folder is in use by {who}; wait for it to finish or choose another output folder.{remedy}",
            new DiagnosticLocation(path));
    }

    private sealed record Holder(int Pid, string Host, DateTime Started, string Command);
}
