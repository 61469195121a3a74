using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;
using LlamaNas.Core.Project;
using LlamaNas.Pipeline.Build;
using NuGet.Common;
using NuGet.Configuration;
using NuGet.Packaging;
using NuGet.Packaging.Core;
using NuGet.Packaging.Signing;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;

namespace LlamaNas.Pipeline.Cache;

/// <summary>
/// Fine-tuned super-networks shared through NuGet feeds (folders or servers): looked up by their stage key before
/// fine-tuning and restored instead of trained; pushed after a build trained one (docs/CACHING.md). NuGet's own client
/// does the work, with its sources, credentials (NuGet.config <c>packageSourceCredentials</c>) and API keys; nothing
/// here logs a credential or a URL's user part. A feed that cannot be read is a warning (LNAS1110) and the build
/// trains; a package that fails its hashes is an error (LNAS1111).
/// </summary>
internal sealed class SupernetFeeds
{
    /// <summary>The environment variable a push's API key may come from when NuGet.config has none for the feed.</summary>
    public const string ApiKeyVariable = "LLAMANAS_CACHE_API_KEY";

    private readonly ISettings _settings;
    private readonly List<PackageSource> _sources;
    private readonly HashSet<PackageSource> _unreachable = [];
    private readonly BuildLog _buildLog;
    private readonly NuGetLog _log;

    private SupernetFeeds(ISettings settings, List<PackageSource> sources, BuildLog log)
    {
        (_settings, _sources, _buildLog, _log) = (settings, sources, log, new NuGetLog(log.Progress));
    }

    public IReadOnlyList<PackageSource> Sources => _sources;

    /// <summary>
    /// The project's feeds: LlamaNasCacheFeeds (each a NuGet.config source name, a URL or a folder relative to the
    /// project), else the enabled sources that the NuGet.config files in the project's folder and above add (not the
    /// user's or the machine's, nor nuget.org, which is public and takes no packages of this kind). None when the
    /// cache is off.
    /// </summary>
    public static SupernetFeeds Open(NasProject project, BuildLog log)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(log);
        ISettings settings = NullSettings.Instance;
        var configured = new List<PackageSource>();
        var userWide = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (project.CacheMode != "off")
        {
            try
            {
                settings = Settings.LoadDefaultSettings(project.ProjectDirectory);
                configured = [.. PackageSourceProvider.LoadPackageSources(settings).Where(s => s.IsEnabled)];

                // The user's and the machine's own sources (package mirrors, mostly) are feeds only when named.
                userWide = [.. PackageSourceProvider.LoadPackageSources(Settings.LoadDefaultSettings(root: null)).Select(s => s.Source)];
            }
            catch (NuGetConfigurationException e)
            {
                log.Report(new Diagnostic(DiagnosticCodes.CacheFeedUnreachable, DiagnosticSeverity.Warning, $"NuGet.config could not be read, so its feeds and credentials are not used: {e.Message}", project.Where("LlamaNasCacheFeeds")));
            }
        }

        var sources = project.CacheMode == "off" ? []
            : project.CacheFeeds.Count > 0 ? project.CacheFeeds.Select(f => Resolve(f, configured, project.ProjectDirectory)).ToList()
            : configured.Where(s => !userWide.Contains(s.Source) && !IsNuGetOrg(s)).ToList();
        return new SupernetFeeds(settings, sources, log);
    }

    private static PackageSource Resolve(string feed, List<PackageSource> configured, string projectDirectory)
    {
        var named = configured.FirstOrDefault(s => string.Equals(s.Name, feed, StringComparison.OrdinalIgnoreCase) || string.Equals(s.Source, feed, StringComparison.OrdinalIgnoreCase));
        if (named is not null)
        {
            return named;
        }

        if (!feed.Contains("://", StringComparison.Ordinal))
        {
            return new PackageSource(Path.GetFullPath(feed, projectDirectory));
        }

        // A file:// URL is a folder feed like any other.
        return new PackageSource(Uri.TryCreate(feed, UriKind.Absolute, out var uri) && uri.IsFile ? uri.LocalPath : feed);
    }

    private static bool IsNuGetOrg(PackageSource s) => s.IsHttp && s.TrySourceAsUri?.Host.EndsWith("nuget.org", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>How a feed is named in messages: its URL without user information, or its folder.</summary>
    public static string Display(PackageSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.TrySourceAsUri is { IsFile: false } uri && uri.UserInfo.Length > 0)
        {
            return new UriBuilder(uri) { UserName = string.Empty, Password = string.Empty }.Uri.ToString();
        }

        return source.Source;
    }

    /// <summary>
    /// Restores the super-network of <paramref name="key"/> into <paramref name="target"/> from the first feed that has
    /// it; false when none has it (or none could be read). The files appear at <paramref name="target"/> all at once.
    /// </summary>
    public bool TryRestore(string key, string target, CancellationToken cancel)
    {
        var main = SupernetPackage.Main(key);
        foreach (var source in _sources)
        {
            var feed = Display(source);
            var temp = Path.Combine(Path.GetDirectoryName(target)!, ".restore-" + Guid.NewGuid().ToString("N"));
            try
            {
                if (!Reachable(source))
                {
                    continue;
                }

                using var cache = NewCacheContext();
                var find = Repository.Factory.GetCoreV3(source).GetResourceAsync<FindPackageByIdResource>(cancel).GetAwaiter().GetResult()
                    ?? throw new FatalProtocolException("it offers no package lookup");
                if (!find.DoesPackageExistAsync(main.Id, main.Version, cache, _log, cancel).GetAwaiter().GetResult())
                {
                    _buildLog.Progress($"super-network {key} is not on {feed}");
                    continue;
                }

                Directory.CreateDirectory(temp);
                var mainFile = Download(find, main, temp, cache, feed, cancel);
                var manifest = SupernetPackage.ReadManifest(mainFile, main, key, feed);
                var packages = new List<(PackageIdentity, string)> { (main, mainFile) };
                for (var p = 0; p < manifest.Parts.Count; p++)
                {
                    var part = SupernetPackage.Part(key, p + 2);
                    if (manifest.Parts[p].Id != part.Id)
                    {
                        throw SupernetPackage.Corrupt(main, feed, "its manifest names unexpected parts");
                    }

                    var file = Download(find, part, temp, cache, feed, cancel);
                    SupernetPackage.CheckPart(file, part, manifest.Parts[p], feed);
                    packages.Add((part, file));
                }

                var files = Path.Combine(temp, "supernet");
                SupernetPackage.Extract(manifest, packages, files, feed);
                Install(files, target);
                _buildLog.Headline($"stage finetune: restored the super-network from {feed} ({main.Id} {main.Version.ToNormalizedString()}, {packages.Count} package(s)); fine-tuning skipped");
                return true;
            }
            catch (Exception e) when (IsFeedFailure(e, cancel))
            {
                Unreachable(source, e.Message);
            }
            finally
            {
                TryDelete(temp);
            }
        }

        return false;
    }

    /// <summary>
    /// Pushes the packages of a super-network this build trained to the first feed that answered (skipping a package
    /// the feed already has, so machines that trained the same key at once all succeed). A failure is a warning
    /// (LNAS1112): the build has its super-network either way.
    /// </summary>
    public void Push(string key, string supernetDir, string description, IEnumerable<string> tags, long limit, CancellationToken cancel)
    {
        var source = _sources.FirstOrDefault(s => !_unreachable.Contains(s));
        if (source is null)
        {
            return;
        }

        var feed = Display(source);
        var staging = Path.Combine(Path.GetDirectoryName(supernetDir)!, ".pack-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(staging);
            var packages = SupernetPackage.Pack(supernetDir, key, description, tags, limit, staging);
            var tooLarge = packages.FirstOrDefault(p => new FileInfo(p).Length > limit);
            if (tooLarge is not null)
            {
                throw new InvalidDataException($"{Path.GetFileName(tooLarge)} came out larger than LlamaNasCachePackageLimit ({limit} bytes)");
            }

            if (source.IsLocal)
            {
                PushToFolder(source, packages, cancel);
            }
            else
            {
                var update = Repository.Factory.GetCoreV3(source).GetResourceAsync<PackageUpdateResource>(cancel).GetAwaiter().GetResult()
                    ?? throw new FatalProtocolException("it takes no pushes");
                update.PushAsync(
                    [.. packages], symbolSource: string.Empty, timeoutInSecond: 3600, disableBuffering: false, getApiKey: s => ApiKey(s) ?? string.Empty, getSymbolApiKey: _ => string.Empty,
                    noServiceEndpoint: false, skipDuplicate: true, allowSnupkg: false, allowInsecureConnections: source.AllowInsecureConnections, _log).GetAwaiter().GetResult();
            }

            _buildLog.Headline($"stage finetune: pushed the super-network to {feed} ({packages.Count} package(s), {packages.Sum(p => new FileInfo(p).Length):N0} bytes)");
        }
        catch (Exception e) when (IsFeedFailure(e, cancel) || e is InvalidDataException or LlamaNasException)
        {
            _buildLog.Report(new Diagnostic(DiagnosticCodes.CachePushFailed, DiagnosticSeverity.Warning, $"the super-network {key} was not pushed to {feed}: {(e is LlamaNasException l ? l.Diagnostic.Message : e.Message)}"));
        }
        finally
        {
            TryDelete(staging);
        }
    }

    /// <summary>
    /// NuGet's hierarchical folder layout (what <c>nuget add</c> writes): a package is extracted beside its final place
    /// and moved in, and one already there is left alone. (PackageUpdateResource copies into an empty or flat folder in
    /// place, overwriting, so a build reading the feed meanwhile could see half a package.)
    /// </summary>
    private void PushToFolder(PackageSource source, IReadOnlyList<string> packages, CancellationToken cancel)
    {
        var extraction = new PackageExtractionContext(PackageSaveMode.Nupkg | PackageSaveMode.Nuspec, XmlDocFileSaveMode.None, ClientPolicyContext.GetClientPolicy(_settings, _log), _log);
        foreach (var package in packages)
        {
            var context = new OfflineFeedAddContext(package, source.Source, _log, throwIfSourcePackageIsInvalid: true, throwIfPackageExistsAndInvalid: false, throwIfPackageExists: false, extraction);
            OfflineFeedUtility.AddPackageToSource(context, cancel).GetAwaiter().GetResult();
        }
    }

    private string? ApiKey(string source)
    {
        try
        {
            if (SettingsUtility.GetDecryptedValueForAddItem(_settings, ConfigurationConstants.ApiKeys, source) is { Length: > 0 } key)
            {
                return key;
            }
        }
        catch (Exception e) when (e is NotSupportedException or System.Security.Cryptography.CryptographicException)
        {
            // An encrypted key of another OS: fall back to the environment.
        }

        return Environment.GetEnvironmentVariable(ApiKeyVariable);
    }

    /// <summary>A folder that is not there counts as unreachable (an unmounted share, a typo): warned about, never created.</summary>
    private bool Reachable(PackageSource source)
    {
        if (source.IsLocal && !Directory.Exists(source.Source))
        {
            Unreachable(source, "the folder does not exist (create it once to start a folder feed)");
            return false;
        }

        return true;
    }

    private void Unreachable(PackageSource source, string why)
    {
        _unreachable.Add(source);
        _buildLog.Report(new Diagnostic(DiagnosticCodes.CacheFeedUnreachable, DiagnosticSeverity.Warning, $"the super-network feed {Display(source)} could not be read ({why}); fine-tuning runs as if it had no copy."));
    }

    private string Download(FindPackageByIdResource find, PackageIdentity id, string folder, SourceCacheContext cache, string feed, CancellationToken cancel)
    {
        var path = Path.Combine(folder, SupernetPackage.FileName(id));
        bool found;
        using (var stream = File.Create(path))
        {
            found = find.CopyNupkgToStreamAsync(id.Id, id.Version, stream, cache, _log, cancel).GetAwaiter().GetResult();
        }

        return found ? path : throw SupernetPackage.Corrupt(id, feed, "the package is missing from the feed");
    }

    /// <summary>Moves the verified folder into place; a half-trained folder of an interrupted run of this key gives way.</summary>
    private static void Install(string files, string target)
    {
        if (Directory.Exists(target))
        {
            OutputLock.ThrowIfHeld(target);
            var old = target + ".old-" + Guid.NewGuid().ToString("N");
            Directory.Move(target, old);
            TryDelete(old);
        }

        Directory.Move(files, target);
    }

    /// <summary>
    /// Always fresh: a package pushed a minute ago by another machine must be found, so NuGet's HTTP cache (which keeps
    /// a feed's answers for 30 minutes) is bypassed.
    /// </summary>
    private static SourceCacheContext NewCacheContext() => new() { NoCache = true, DirectDownload = true };

    /// <summary>What a feed that cannot be reached, refuses us or times out throws (never our own cancellation).</summary>
    private static bool IsFeedFailure(Exception e, CancellationToken cancel) =>
        e is FatalProtocolException or HttpRequestException or IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException or TaskCanceledException
        && !cancel.IsCancellationRequested;

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Temporary files only: a later build's restore uses a new name.
        }
    }

    /// <summary>NuGet's warnings and errors become progress lines (its information is noise in a build log).</summary>
    private sealed class NuGetLog(Action<string> write) : LoggerBase
    {
        public override void Log(ILogMessage message)
        {
            if (message.Level >= LogLevel.Warning)
            {
                write("nuget: " + message.Message);
            }
        }

        public override Task LogAsync(ILogMessage message)
        {
            Log(message);
            return Task.CompletedTask;
        }
    }
}
