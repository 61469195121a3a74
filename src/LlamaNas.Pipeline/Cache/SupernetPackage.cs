using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using NuGet.Packaging;
using NuGet.Packaging.Core;
using NuGet.Versioning;

namespace LlamaNas.Pipeline.Cache;

/// <summary>What a super-network package says about itself: the stage key, its metadata, and where each file's bytes are.</summary>
internal sealed record SupernetManifest
{
    public const int CurrentFormat = 1;

    public required int Format { get; init; }

    public required string Key { get; init; }

    /// <summary>Every file of the super-network folder, by path relative to it ('/'-separated), size and SHA-256.</summary>
    public required IReadOnlyList<ManifestFile> Files { get; init; }

    /// <summary>The files' bytes in order: package 0 is the main package, 1… its parts.</summary>
    public required IReadOnlyList<ManifestPiece> Pieces { get; init; }

    /// <summary>The parts after the main package with their NuGet content hashes (pushed first, so the main package is the last to appear).</summary>
    public required IReadOnlyList<ManifestPart> Parts { get; init; }
}

internal sealed record ManifestFile(string Path, long Size, string Sha256);

internal sealed record ManifestPiece(int Package, string Entry, int File, long Offset, long Length, string Sha256);

internal sealed record ManifestPart(string Id, string ContentHash);

/// <summary>
/// A fine-tuned super-network as NuGet packages. The identity carries the full 64-hex stage key: nuget.org and most
/// servers cap a version string at 64 characters, so <c>0.0.0-&lt;64 hex&gt;</c> (70) does not fit; the id takes the first
/// 16 digits (<c>LlamaNas.Supernet.&lt;16 hex&gt;</c>) and the version the other 48 (<c>0.0.0-h&lt;48 hex&gt;</c>; the
/// <c>h</c> keeps a label that happens to be all digits valid SemVer). Bytes beyond the size limit go to part packages
/// <c>&lt;id&gt;.part2</c>, <c>.part3</c>… of the same version; the main package holds the manifest of every file's and
/// piece's SHA-256.
/// </summary>
internal static class SupernetPackage
{
    public const string IdPrefix = "LlamaNas.Supernet.";
    public const string ManifestEntry = "llamanas/manifest.json";

    /// <summary>Room left in each package for its nuspec, the manifest and the zip's own records (deflate can grow stored data slightly).</summary>
    private static long Reserve(long limit) => Math.Min(limit / 2, 64 * 1024 + (limit / 1000));

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static PackageIdentity Main(string key) => new(IdPrefix + key[..16], NuGetVersion.Parse("0.0.0-h" + key[16..]));

    /// <summary>Part <paramref name="number"/> (2, 3, …; the main package is part 1).</summary>
    public static PackageIdentity Part(string key, int number)
    {
        var main = Main(key);
        return new PackageIdentity(main.Id + ".part" + number.ToString(System.Globalization.CultureInfo.InvariantCulture), main.Version);
    }

    public static string FileName(PackageIdentity id) => $"{id.Id}.{id.Version.ToNormalizedString()}.nupkg";

    /// <summary>The files a package holds: the finished super-network, not the trainer's resume state, lock or temporaries.</summary>
    public static List<string> Contents(string supernetDir) => [.. Directory.EnumerateFiles(supernetDir, "*", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(supernetDir, f).Replace('\\', '/'))
        .Where(f => !f.StartsWith(Engine.Training.SupernetFineTuning.CheckpointFolder + "/", StringComparison.Ordinal)
            && Path.GetFileName(f) != OutputLock.FileName && !f.Contains(".tmp-", StringComparison.Ordinal))
        .Order(StringComparer.Ordinal)];

    /// <summary>
    /// Writes the packages of <paramref name="supernetDir"/> into <paramref name="staging"/>, each at most
    /// <paramref name="limit"/> bytes; returns their paths, the parts first and the main package last (the push order).
    /// </summary>
    public static IReadOnlyList<string> Pack(string supernetDir, string key, string description, IEnumerable<string> tags, long limit, string staging)
    {
        var files = Contents(supernetDir);
        var budget = limit - Reserve(limit);
        var manifestFiles = new List<ManifestFile>();
        var pieces = new List<ManifestPiece>();
        var sources = new List<string>();
        var (package, used) = (0, 0L);
        for (var f = 0; f < files.Count; f++)
        {
            var path = Path.Combine(supernetDir, files[f]);
            var size = new FileInfo(path).Length;
            manifestFiles.Add(new ManifestFile(files[f], size, Hex(FileFingerprint.Of(path))));
            var offset = 0L;
            do
            {
                if (used == budget)
                {
                    (package, used) = (package + 1, 0);
                }

                var length = Math.Min(size - offset, budget - used);
                var entry = "data/" + pieces.Count.ToString("D5", System.Globalization.CultureInfo.InvariantCulture);

                // A whole file goes in as it is; a slice of one is written out first.
                var source = length == size ? path : Path.Combine(staging, "piece" + pieces.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (source != path)
                {
                    CopyRange(path, offset, length, source);
                }

                pieces.Add(new ManifestPiece(package, entry, f, offset, length, Hex(FileFingerprint.Of(source))));
                sources.Add(source);
                (offset, used) = (offset + length, used + length);
            }
            while (offset < size);
        }

        var paths = new List<string>();
        var parts = new List<ManifestPart>();
        for (var p = 1; p <= package; p++)
        {
            var id = Part(key, p + 1);
            var nupkg = Build(id, description, tags, pieces.Select((piece, i) => (piece, sources[i])).Where(x => x.piece.Package == p), null, staging);
            using (var reader = new PackageArchiveReader(nupkg))
            {
                parts.Add(new ManifestPart(id.Id, reader.GetContentHash(CancellationToken.None)));
            }

            paths.Add(nupkg);
        }

        var manifest = new SupernetManifest { Format = SupernetManifest.CurrentFormat, Key = key, Files = manifestFiles, Pieces = pieces, Parts = parts };
        paths.Add(Build(Main(key), description, tags, pieces.Select((piece, i) => (piece, sources[i])).Where(x => x.piece.Package == 0), manifest, staging));
        return paths;
    }

    private static string Build(PackageIdentity id, string description, IEnumerable<string> tags, IEnumerable<(ManifestPiece Piece, string Source)> pieces, SupernetManifest? manifest, string staging)
    {
        // Deterministic: two machines packing the same super-network write the same bytes.
        var builder = new PackageBuilder(deterministic: true)
        {
            Id = id.Id,
            Version = id.Version,
            Description = description,
        };
        builder.Authors.Add("llamanas");
        builder.Tags.AddRange(tags);
        foreach (var (piece, source) in pieces)
        {
            builder.Files.Add(new PhysicalPackageFile { SourcePath = source, TargetPath = piece.Entry });
        }

        if (manifest is not null)
        {
            builder.Files.Add(new PhysicalPackageFile(new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(manifest, Json))) { TargetPath = ManifestEntry });
        }

        var path = Path.Combine(staging, FileName(id));
        using (var stream = File.Create(path))
        {
            builder.Save(stream);
        }

        return path;
    }

    /// <summary>Reads and checks the main package's manifest; LNAS1111 when it is unreadable or of another key.</summary>
    public static SupernetManifest ReadManifest(string nupkg, PackageIdentity expected, string key, string feed)
    {
        try
        {
            using var reader = new PackageArchiveReader(nupkg);
            var identity = reader.GetIdentity();
            SupernetManifest? manifest;
            using (var stream = reader.GetStream(ManifestEntry))
            {
                manifest = JsonSerializer.Deserialize<SupernetManifest>(stream, Json);
            }

            if (!PackageIdentityComparer.Default.Equals(identity, expected) || manifest is null || manifest.Format != SupernetManifest.CurrentFormat || manifest.Key != key
                || manifest.Pieces.Any(p => p.Package < 0 || p.Package > manifest.Parts.Count || p.File < 0 || p.File >= manifest.Files.Count))
            {
                throw Corrupt(expected, feed, "its manifest does not describe this super-network");
            }

            return manifest;
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or IOException or PackagingException or FileNotFoundException or NotSupportedException)
        {
            throw Corrupt(expected, feed, e.Message, e);
        }
    }

    /// <summary>LNAS1111 unless the part's NuGet content hash is the one the manifest recorded.</summary>
    public static void CheckPart(string nupkg, PackageIdentity id, ManifestPart expected, string feed)
    {
        try
        {
            using var reader = new PackageArchiveReader(nupkg);
            if (!PackageIdentityComparer.Default.Equals(reader.GetIdentity(), id) || reader.GetContentHash(CancellationToken.None) != expected.ContentHash)
            {
                throw Corrupt(id, feed, "its content hash is not the one the main package recorded");
            }
        }
        catch (Exception e) when (e is InvalidDataException or IOException or PackagingException)
        {
            throw Corrupt(id, feed, e.Message, e);
        }
    }

    /// <summary>
    /// Writes the super-network's files into <paramref name="target"/> (a fresh temporary folder) from the downloaded
    /// packages (index: main 0, parts 1…), checking every piece's and every file's SHA-256 (LNAS1111 on a mismatch).
    /// </summary>
    public static void Extract(SupernetManifest manifest, IReadOnlyList<(PackageIdentity Id, string Nupkg)> packages, string target, string feed)
    {
        var readers = packages.Select(p => new PackageArchiveReader(p.Nupkg)).ToList();
        try
        {
            for (var f = 0; f < manifest.Files.Count; f++)
            {
                var file = manifest.Files[f];
                var path = Path.GetFullPath(Path.Combine(target, file.Path));
                if (!path.StartsWith(Path.GetFullPath(target) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                {
                    throw Corrupt(packages[0].Id, feed, $"its manifest names a file outside the super-network folder ('{file.Path}')");
                }

                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                using (var output = File.Create(path))
                {
                    foreach (var piece in manifest.Pieces.Where(p => p.File == f).OrderBy(p => p.Offset))
                    {
                        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                        using var input = readers[piece.Package].GetStream(piece.Entry);
                        var copied = Copy(input, output, hash);
                        if (copied != piece.Length || Convert.ToHexStringLower(hash.GetHashAndReset()) != piece.Sha256)
                        {
                            throw Corrupt(packages[piece.Package].Id, feed, $"the bytes of {file.Path} at offset {piece.Offset} do not match their SHA-256");
                        }
                    }
                }

                if (new FileInfo(path).Length != file.Size || Hex(FileFingerprint.Of(path)) != file.Sha256)
                {
                    throw Corrupt(packages[0].Id, feed, $"{file.Path} does not match its SHA-256");
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or PackagingException or FileNotFoundException)
        {
            throw Corrupt(packages[0].Id, feed, e.Message, e);
        }
        finally
        {
            readers.ForEach(r => r.Dispose());
        }
    }

    public static LlamaNasException Corrupt(PackageIdentity id, string feed, string why, Exception? inner = null) => new(
        DiagnosticCodes.CachePackageCorrupt,
        $"the super-network package {id.Id} {id.Version.ToNormalizedString()} on {feed} is corrupt ({why}); delete it from the feed (the next build that trains this super-network pushes it again), or set LlamaNasCacheMode to off.",
        null,
        inner);

    private static string Hex(string fingerprint) => fingerprint["sha256:".Length..];

    private static long Copy(Stream input, Stream output, IncrementalHash hash)
    {
        var buffer = new byte[1 << 20];
        long total = 0;
        int read;
        while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            output.Write(buffer, 0, read);
            total += read;
        }

        return total;
    }

    private static void CopyRange(string path, long offset, long length, string target)
    {
        using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var output = File.Create(target);
        input.Position = offset;
        var buffer = new byte[1 << 20];
        while (length > 0)
        {
            var read = input.Read(buffer, 0, (int)Math.Min(buffer.Length, length));
            if (read == 0)
            {
                throw new EndOfStreamException($"{path} changed while it was packed");
            }

            output.Write(buffer, 0, read);
            length -= read;
        }
    }
}
