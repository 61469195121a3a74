using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using LlamaNas.Core.Diagnostics;

namespace LlamaNas.Core.IO;

/// <summary>
/// Writes outputs to a temporary sibling and renames it into place, so an interrupted or failed write never leaves
/// a half-written file (and never destroys the previous version).
/// </summary>
public static class AtomicFile
{
    private const int TempSuffixLength = 12;

    /// <summary>
    /// Bytes the writes of this async flow may still take before failing as a full disk does ("No space left on
    /// device"); null: no limit. For tests where a small filesystem cannot be mounted; other tests are unaffected.
    /// </summary>
    internal static readonly AsyncLocal<StrongBox<long>?> SpaceLimit = new();

    /// <param name="path">Destination; its directory is created.</param>
    /// <param name="write">Writes the whole content to the stream.</param>
    /// <param name="onIoFailure">Turns an I/O failure into the caller's coded error; default LNAS0110.</param>
    public static void Write(string path, Action<Stream> write, Func<IOException, LlamaNasException>? onIoFailure = null)
    {
        ArgumentNullException.ThrowIfNull(write);
        path = Path.GetFullPath(path);
        var temp = $"{path}.tmp-{RandomNumberGenerator.GetHexString(TempSuffixLength, lowercase: true)}";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            using (var stream = SpaceLimit.Value is { } space ? new LimitedStream(file, space) : (Stream)file)
            {
                write(stream);
                stream.Flush();
                file.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
            {
                var io = e as IOException ?? new IOException(e.Message, e);
                throw onIoFailure?.Invoke(io) ?? new LlamaNasException(
                    DiagnosticCodes.OutputWriteFailed,
                    $"{Path.GetFileName(path)} could not be written ({e.Message}). Check free space and permissions.",
                    new DiagnosticLocation(path),
                    e);
            }

            throw;
        }
    }

    /// <summary>
    /// Deletes the temporary files of writes into <paramref name="folder"/> that never finished (a killed process or a
    /// full disk before the rename). Only for a folder held with <see cref="OutputLock"/>: no other writer is there.
    /// </summary>
    public static int SweepTemporaries(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return 0;
        }

        var swept = 0;
        foreach (var file in Directory.EnumerateFiles(folder, "*.tmp-*").Where(f => IsTemporaryName(Path.GetFileName(f))))
        {
            TryDelete(file);
            swept += File.Exists(file) ? 0 : 1;
        }

        return swept;
    }

    private static bool IsTemporaryName(string name)
    {
        var at = name.LastIndexOf(".tmp-", StringComparison.Ordinal);
        var suffix = at < 0 ? string.Empty : name[(at + 5)..];
        return suffix.Length == TempSuffixLength && suffix.All(char.IsAsciiHexDigitLower);
    }

    public static void WriteAllText(string path, string text, Func<IOException, LlamaNasException>? onIoFailure = null) =>
        Write(path, s => s.Write(new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text)), onIoFailure);

    /// <summary>Counts written bytes against <see cref="SpaceLimit"/>.</summary>
    private sealed class LimitedStream(Stream inner, StrongBox<long> space) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.Length > space.Value)
            {
                space.Value = 0;
                throw new IOException("No space left on device");
            }

            space.Value -= buffer.Length;
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
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
        catch (UnauthorizedAccessException)
        {
        }
    }
}
