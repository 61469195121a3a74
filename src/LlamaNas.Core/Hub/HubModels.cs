using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using LlamaNas.Core.Diagnostics;
using LlamaNas.Core.IO;

namespace LlamaNas.Core.Hub;

/// <summary>A model on the Hugging Face hub: <c>org/name</c> and a revision (a branch, a tag or a commit; default main).</summary>
public sealed partial record HubReference(string RepoId, string Revision)
{
    public const string DefaultRevision = "main";

    /// <summary>Parses <c>org/name[@revision]</c>; false for anything else (a local path, for one).</summary>
    public static bool TryParse(string text, out HubReference? reference)
    {
        ArgumentNullException.ThrowIfNull(text);
        var m = Pattern().Match(text);
        reference = m.Success ? new HubReference(m.Groups["repo"].Value, m.Groups["rev"].Success ? m.Groups["rev"].Value : DefaultRevision) : null;
        return reference is not null;
    }

    /// <summary>The repository's folder in the hub cache, as huggingface_hub names it.</summary>
    public string CacheFolderName => "models--" + RepoId.Replace("/", "--", StringComparison.Ordinal);

    public override string ToString() => Revision == DefaultRevision ? RepoId : RepoId + "@" + Revision;

    [GeneratedRegex(@"^(?<repo>[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)(@(?<rev>[A-Za-z0-9][A-Za-z0-9._/-]*))?$")]
    private static partial Regex Pattern();
}

/// <summary>Where and how the hub is reached, from the variables huggingface_hub reads, so both share one cache.</summary>
public sealed record HubSettings
{
    public required string Endpoint { get; init; }

    /// <summary>The hub cache (<c>models--org--name/{blobs,refs,snapshots}</c>).</summary>
    public required string CacheDirectory { get; init; }

    public string? Token { get; init; }

    public bool Offline { get; init; }

    /// <summary>
    /// HF_ENDPOINT (default https://huggingface.co); HF_HUB_CACHE, else $HF_HOME/hub, HF_HOME defaulting to
    /// $XDG_CACHE_HOME/huggingface or ~/.cache/huggingface; HF_TOKEN, else the token file huggingface-cli login writes
    /// ($HF_TOKEN_PATH, else $HF_HOME/token); HF_HUB_OFFLINE=1 (or true/yes/on).
    /// </summary>
    public static HubSettings FromEnvironment()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        var xdg = Env("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        var home = Env("HF_HOME") ?? Path.Combine(xdg, "huggingface");
        var tokenFile = Env("HF_TOKEN_PATH") ?? Path.Combine(home, "token");
        var token = Env("HF_TOKEN");
        if (token is null && File.Exists(tokenFile))
        {
            token = File.ReadAllText(tokenFile).Trim() is { Length: > 0 } t ? t : null;
        }

        return new HubSettings
        {
            Endpoint = (Env("HF_ENDPOINT") ?? "https://huggingface.co").TrimEnd('/'),
            CacheDirectory = Path.GetFullPath(Env("HF_HUB_CACHE") ?? Path.Combine(home, "hub")),
            Token = token,
            Offline = Env("HF_HUB_OFFLINE")?.ToLowerInvariant() is "1" or "true" or "yes" or "on",
        };
    }
}

/// <summary>A hub model resolved to a snapshot folder of the cache, at a commit.</summary>
public sealed record HubModel(string Directory, HubReference Reference, string Commit)
{
    /// <summary>The model's identity in stage keys: the repository at its commit (a commit's files never change).</summary>
    public string Key => $"hf:{Reference.RepoId}@{Commit}";
}

/// <summary>
/// Resolves hub ids to model folders through the hub cache layout huggingface_hub uses, so a model either downloaded
/// is reused by the other: <c>blobs/&lt;etag&gt;</c> (the file's SHA-256 for LFS files, its git blob SHA-1 otherwise),
/// <c>refs/&lt;revision&gt;</c> (the commit), <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> (a relative link to the
/// blob). Only what a Llama model needs is fetched: config, tokenizer files, and safetensors weights (one file, or the
/// shards the index names); pickle weights are refused. Downloads resume from <c>blobs/&lt;etag&gt;.incomplete</c> and
/// are checked against the etag before they become a blob.
/// </summary>
public sealed class HubModels(HubSettings settings, Action<string>? progress = null) : IDisposable
{
    public const string IndexFile = "model.safetensors.index.json";
    public const string WeightsFile = "model.safetensors";

    private static readonly string[] Companions = ["config.json", "generation_config.json", "tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    // Redirects are followed by hand: the token must not follow a redirect to a CDN.
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromMinutes(30) };

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// A local folder as it is; otherwise a hub id, resolved (null when <paramref name="model"/> is neither: the
    /// caller reports its own "not found").
    /// </summary>
    public static HubModel? ResolveIfHubId(string model, Action<string>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (Directory.Exists(model) || !HubReference.TryParse(model, out var reference))
        {
            return null;
        }

        using var hub = new HubModels(HubSettings.FromEnvironment(), progress);
        return hub.Resolve(reference!, cancel);
    }

    public HubModel Resolve(HubReference reference, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var repo = Path.Combine(settings.CacheDirectory, reference.CacheFolderName);
        if (settings.Offline)
        {
            return Cached(reference, repo) ?? throw new LlamaNasException(DiagnosticCodes.HubOfflineNotCached,
                $"{reference} is not in the hub cache ({settings.CacheDirectory}) and HF_HUB_OFFLINE is set: download it once online (llamanas or huggingface-cli), or unset HF_HUB_OFFLINE.");
        }

        // A commit's files never change: a complete snapshot of one needs no question to the hub.
        if (IsCommit(reference.Revision) && Cached(reference, repo) is { } pinned)
        {
            return pinned;
        }

        RevisionInfo info;
        try
        {
            info = Revision(reference, cancel);
        }
        catch (LlamaNasException e) when (e.InnerException is HttpRequestException && Cached(reference, repo) is { } cached)
        {
            // As huggingface_hub does: the hub cannot be reached, a complete snapshot of the revision can.
            progress?.Invoke($"{reference}: the hub could not be reached ({e.InnerException.Message}); using the cached snapshot {cached.Commit}");
            return cached;
        }

        if (reference.Revision != info.Commit)
        {
            AtomicFile.WriteAllText(Path.Combine(repo, "refs", reference.Revision), info.Commit);
        }

        var snapshot = Path.Combine(repo, "snapshots", info.Commit);
        foreach (var file in Companions.Where(info.Files.Contains))
        {
            Fetch(reference, info.Commit, repo, file, cancel);
        }

        foreach (var file in Weights(reference, info, repo, snapshot, cancel))
        {
            Fetch(reference, info.Commit, repo, file, cancel);
        }

        return new HubModel(snapshot, reference, info.Commit);
    }

    /// <summary>The weight files: the shards the index names, else model.safetensors; LNAS0805 when there are only pickles.</summary>
    private List<string> Weights(HubReference reference, RevisionInfo info, string repo, string snapshot, CancellationToken cancel)
    {
        if (info.Files.Contains(IndexFile))
        {
            Fetch(reference, info.Commit, repo, IndexFile, cancel);
            return Shards(Path.Combine(snapshot, IndexFile), reference);
        }

        if (info.Files.Contains(WeightsFile))
        {
            return [WeightsFile];
        }

        throw new LlamaNasException(DiagnosticCodes.HubNoSafetensors, info.Files.Any(f => f.EndsWith(".bin", StringComparison.Ordinal) || f.EndsWith(".pt", StringComparison.Ordinal) || f.EndsWith(".pth", StringComparison.Ordinal))
            ? $"{reference} at {info.Commit} has only pickle weights (.bin/.pt), which can run code when loaded: use a revision with safetensors weights (many repositories have a 'refs/pr/…' conversion)."
            : $"{reference} at {info.Commit} has no model.safetensors and no {IndexFile}.");
    }

    private static List<string> Shards(string index, HubReference reference)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(index));
            var shards = doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct().Order(StringComparer.Ordinal).ToList();
            if (shards.Count == 0 || shards.Any(s => s.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(s)))
            {
                throw new JsonException("weight_map names no usable shard");
            }

            return shards;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new LlamaNasException(DiagnosticCodes.HubNotFound, $"{reference}: {IndexFile} is not a shard index ({e.Message}).", new DiagnosticLocation(index), e);
        }
    }

    /// <summary>A complete cached snapshot of the revision (a commit, or a ref the cache knows), or null.</summary>
    private static HubModel? Cached(HubReference reference, string repo)
    {
        var refFile = Path.Combine(repo, "refs", reference.Revision);
        var commit = IsCommit(reference.Revision) ? reference.Revision : File.Exists(refFile) ? File.ReadAllText(refFile).Trim() : null;
        if (commit is null)
        {
            return null;
        }

        var snapshot = Path.Combine(repo, "snapshots", commit);
        var index = Path.Combine(snapshot, IndexFile);
        var complete = File.Exists(Path.Combine(snapshot, "config.json")) && (File.Exists(Path.Combine(snapshot, WeightsFile))
            || (File.Exists(index) && Shards(index, reference).All(s => File.Exists(Path.Combine(snapshot, s)))));
        return complete ? new HubModel(snapshot, reference, commit) : null;
    }

    private static bool IsCommit(string revision) => revision.Length == 40 && revision.All(char.IsAsciiHexDigitLower);

    private sealed record RevisionInfo(string Commit, HashSet<string> Files);

    /// <summary><c>GET /api/models/{repo}/revision/{revision}</c>: the commit and the file list.</summary>
    private RevisionInfo Revision(HubReference reference, CancellationToken cancel)
    {
        var url = $"{settings.Endpoint}/api/models/{reference.RepoId}/revision/{Uri.EscapeDataString(reference.Revision)}";
        using var response = Send(HttpMethod.Get, url, reference, null, cancel);
        try
        {
            using var doc = JsonDocument.Parse(response.Content.ReadAsStream(cancel));
            var commit = doc.RootElement.GetProperty("sha").GetString()!;
            var files = doc.RootElement.GetProperty("siblings").EnumerateArray().Select(s => s.GetProperty("rfilename").GetString()!).ToHashSet(StringComparer.Ordinal);
            return IsCommit(commit) ? new RevisionInfo(commit, files) : throw new JsonException($"'{commit}' is not a commit hash");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new LlamaNasException(DiagnosticCodes.HubDownloadFailed, $"{reference}: the hub's answer about the revision could not be read ({e.Message}); check HF_ENDPOINT.", null, e);
        }
    }

    /// <summary>Makes <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> point at its blob, downloading the blob unless it is there.</summary>
    private void Fetch(HubReference reference, string commit, string repo, string file, CancellationToken cancel)
    {
        var link = Path.Combine(repo, "snapshots", commit, file);
        if (File.Exists(link))
        {
            return;
        }

        var url = $"{settings.Endpoint}/{reference.RepoId}/resolve/{commit}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}";
        string etag;
        long? size;
        using (var head = Send(HttpMethod.Head, url, reference, null, cancel, followRedirects: false))
        {
            // An LFS file answers with a redirect whose X-Linked-Etag is the file's SHA-256; a small one with its git blob id.
            var raw = Header(head, "X-Linked-Etag") ?? head.Headers.ETag?.Tag ?? Header(head, "ETag")
                ?? throw new LlamaNasException(DiagnosticCodes.HubDownloadFailed, $"{reference}: the hub sent no ETag for {file}; check HF_ENDPOINT.");
            etag = raw.StartsWith("W/", StringComparison.Ordinal) ? raw[2..].Trim('"') : raw.Trim('"');
            size = long.TryParse(Header(head, "X-Linked-Size"), out var linked) ? linked : head.Content.Headers.ContentLength;
        }

        if (etag.Length == 0 || etag.Any(c => !char.IsAsciiHexDigit(c)))
        {
            throw new LlamaNasException(DiagnosticCodes.HubDownloadFailed, $"{reference}: the hub's ETag for {file} ('{etag}') is not a hash; check HF_ENDPOINT.");
        }

        var blob = Path.Combine(repo, "blobs", etag);
        if (!File.Exists(blob))
        {
            Download(reference, url, file, blob, etag, size, cancel);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        try
        {
            File.CreateSymbolicLink(link, Path.GetRelativePath(Path.GetDirectoryName(link)!, blob));
        }
        catch (IOException) when (File.Exists(link))
        {
            // Another process linked it first.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            // File systems without links get a copy (huggingface_hub does the same).
            File.Copy(blob, link, overwrite: true);
        }
    }

    /// <summary>Downloads into <c>&lt;blob&gt;.incomplete</c> (resuming what is there), checks the hash, then renames.</summary>
    private void Download(HubReference reference, string url, string file, string blob, string etag, long? size, CancellationToken cancel)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        var incomplete = blob + ".incomplete";
        var have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
        if (have > 0)
        {
            progress?.Invoke($"{reference}: resuming {file} at {have:N0} bytes");
        }

        using (var response = Send(HttpMethod.Get, url, reference, have > 0 ? have : null, cancel))
        {
            var append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
            using var output = new FileStream(incomplete, append ? FileMode.Append : FileMode.Create, FileAccess.Write);
            using var input = response.Content.ReadAsStream(cancel);
            var total = size ?? (response.Content.Headers.ContentLength + (append ? have : 0));
            var done = append ? have : 0;
            var buffer = new byte[1 << 20];
            var reported = -1L;
            int read;
            try
            {
                while ((read = input.Read(buffer, 0, buffer.Length)) > 0)
                {
                    output.Write(buffer, 0, read);
                    done += read;
                    var tenth = total > 0 ? done * 10 / total.Value : -1;
                    if (tenth != reported && total > 0)
                    {
                        reported = tenth;
                        progress?.Invoke($"{reference}: {file} {done * 100 / total:D}% of {total:N0} bytes");
                    }
                }
            }
            catch (IOException e)
            {
                throw new LlamaNasException(DiagnosticCodes.HubDownloadFailed, $"{reference}: the download of {file} broke off after {done:N0} bytes ({e.Message}); run again to resume it.", null, e);
            }
        }

        if (!Matches(incomplete, etag))
        {
            File.Delete(incomplete);
            throw new LlamaNasException(DiagnosticCodes.HubHashMismatch, $"{reference}: the downloaded {file} does not match the hash the hub announced ({etag}); it was deleted. Run again; if it persists, the mirror at HF_ENDPOINT serves a different file.");
        }

        File.Move(incomplete, blob, overwrite: true);
    }

    /// <summary>SHA-256 for an LFS etag (64 digits), the git blob SHA-1 (<c>blob &lt;size&gt;\0</c> + bytes) for a 40-digit one.</summary>
    private static bool Matches(string path, string etag)
    {
        using var stream = File.OpenRead(path);
        if (etag.Length == 64)
        {
            return string.Equals(Convert.ToHexStringLower(SHA256.HashData(stream)), etag, StringComparison.OrdinalIgnoreCase);
        }

        if (etag.Length != 40)
        {
            return true;
        }

        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {stream.Length}\0"));
        var buffer = new byte[1 << 20];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            sha1.AppendData(buffer, 0, read);
        }

        return string.Equals(Convert.ToHexStringLower(sha1.GetHashAndReset()), etag, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>One request, following redirects by hand (the token goes only to the hub's own host); coded errors for refusals.</summary>
    private HttpResponseMessage Send(HttpMethod method, string url, HubReference reference, long? from, CancellationToken cancel, bool followRedirects = true)
    {
        var uri = new Uri(url);
        var hubHost = new Uri(settings.Endpoint).Authority;
        for (var hops = 0; ; hops++)
        {
            using var request = new HttpRequestMessage(method, uri);
            request.Headers.UserAgent.ParseAdd("llamanas");
            if (settings.Token is { } token && uri.Authority == hubHost)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            if (from is { } start)
            {
                request.Headers.Range = new RangeHeaderValue(start, null);
            }

            HttpResponseMessage response;
            try
            {
                response = _http.Send(request, HttpCompletionOption.ResponseHeadersRead, cancel);
            }
            catch (HttpRequestException e)
            {
                throw new LlamaNasException(DiagnosticCodes.HubDownloadFailed, $"{reference}: the hub at {settings.Endpoint} could not be reached ({e.Message}); check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache only.", null, e);
            }

            var status = (int)response.StatusCode;
            // Without followRedirects only relative ones are followed (a renamed repository), as huggingface_hub does for
            // HEAD: an LFS file's metadata is on the redirect to the CDN itself.
            if (status is >= 300 and < 400 && response.Headers.Location is { } location && (followRedirects || !location.IsAbsoluteUri) && hops < 10)
            {
                uri = new Uri(uri, location);
                response.Dispose();
                continue;
            }

            if (status is 401 or 403)
            {
                var why = Header(response, "X-Error-Message") ?? response.ReasonPhrase;
                response.Dispose();
                throw new LlamaNasException(DiagnosticCodes.HubUnauthorized, settings.Token is null
                    ? $"{reference} is gated or private (the hub answered {status}: {why}): accept its conditions on its page at {settings.Endpoint}/{reference.RepoId}, then set HF_TOKEN to an access token (or run huggingface-cli login)."
                    : $"{reference} refused the token in HF_TOKEN (the hub answered {status}: {why}): accept the model's conditions on {settings.Endpoint}/{reference.RepoId} with that account, or use a token with read access.");
            }

            if (status == 404)
            {
                var why = Header(response, "X-Error-Code") ?? "not found";
                response.Dispose();
                throw new LlamaNasException(DiagnosticCodes.HubNotFound, $"{reference}: {why} ({uri.AbsolutePath}); check the repository id and revision.");
            }

            if (status >= 400)
            {
                response.Dispose();
                throw new LlamaNasException(DiagnosticCodes.HubDownloadFailed, $"{reference}: the hub answered {status} for {uri.AbsolutePath}; try again later.");
            }

            return response;
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? values.FirstOrDefault() : null;
}
