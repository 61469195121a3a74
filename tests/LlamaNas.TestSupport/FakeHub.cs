using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace LlamaNas.TestSupport;

/// <summary>
/// The Hugging Face hub's download API on loopback, serving one repository from the stories260K folder: the revision
/// API (<c>/api/models/{id}/revision/{rev}</c>: <c>sha</c>, <c>siblings</c>) and <c>/{id}/resolve/{rev}/{file}</c>
/// answering as the hub does: small files directly with their git blob id as ETag, the safetensors file (LFS) with a
/// redirect that carries <c>X-Linked-Etag</c> (its SHA-256) and <c>X-Linked-Size</c>, downloaded from a CDN path that
/// honours Range. Every resolve answer carries <c>X-Repo-Commit</c>.
/// </summary>
public sealed class FakeHub : LoopbackHttpServer
{
    public const string Repo = "karpathy/stories260K";
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";

    private readonly Dictionary<string, byte[]> _files;

    /// <param name="files">The repository's files by name; default stories260K's.</param>
    public FakeHub(Dictionary<string, byte[]>? files = null)
    {
        _files = files ?? Stories();
        Start();
    }

    public string Endpoint => BaseUrl;

    /// <summary>When set, every request must carry <c>Authorization: Bearer</c> this token (a gated model).</summary>
    public string? RequiredToken { get; set; }

    /// <summary>When set, the CDN serves these bytes for the safetensors file (a corrupted mirror).</summary>
    public byte[]? ServedWeights { get; set; }

    /// <summary>Every request as "METHOD path [Range]".</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public byte[] Weights => _files["model.safetensors"];

    public static Dictionary<string, byte[]> Stories() => Directory.GetFiles(SharedData.Stories260K).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    protected override void Answer(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = Uri.UnescapeDataString(request.Url!.AbsolutePath);
        Requests.Enqueue($"{request.HttpMethod} {path}" + (request.Headers["Range"] is { } range ? " " + range : string.Empty));
        if (RequiredToken is not null && request.Headers["Authorization"] != "Bearer " + RequiredToken && !path.StartsWith("/cdn/", StringComparison.Ordinal))
        {
            response.StatusCode = 401;
            response.AddHeader("X-Error-Code", "GatedRepo");
            response.AddHeader("X-Error-Message", "Access to model " + Repo + " is restricted. You must have access to it and be authenticated to access it. Please log in.");
            return;
        }

        if (path == $"/api/models/{Repo}/revision/main" || path == $"/api/models/{Repo}/revision/{Commit}")
        {
            var siblings = string.Join(",", _files.Keys.Order(StringComparer.Ordinal).Select(f => $$"""{"rfilename":"{{f}}"}"""));
            Write(response, Encoding.UTF8.GetBytes($$"""{"id":"{{Repo}}","sha":"{{Commit}}","siblings":[{{siblings}}]}"""), "application/json");
            return;
        }

        var resolve = $"/{Repo}/resolve/{Commit}/";
        if (path.StartsWith(resolve, StringComparison.Ordinal) && _files.TryGetValue(path[resolve.Length..], out var bytes))
        {
            response.AddHeader("X-Repo-Commit", Commit);
            if (path.EndsWith(".safetensors", StringComparison.Ordinal))
            {
                response.StatusCode = 302;
                response.AddHeader("X-Linked-Etag", "\"" + Sha256(bytes) + "\"");
                response.AddHeader("X-Linked-Size", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
                response.AddHeader("ETag", "\"" + GitBlobId(bytes) + "\"");
                response.RedirectLocation = $"{Endpoint}/cdn/{Sha256(bytes)}";
                return;
            }

            response.AddHeader("ETag", "\"" + GitBlobId(bytes) + "\"");
            Write(response, bytes, "application/octet-stream", head: request.HttpMethod == "HEAD");
            return;
        }

        var lfs = _files.Where(f => f.Key.EndsWith(".safetensors", StringComparison.Ordinal) && path == "/cdn/" + Sha256(f.Value)).ToList();
        if (lfs.Count == 1)
        {
            var served = lfs[0].Key == "model.safetensors" && ServedWeights is { } bad ? bad : lfs[0].Value;
            var from = request.Headers["Range"] is { } r && r.StartsWith("bytes=", StringComparison.Ordinal) ? long.Parse(r[6..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture) : 0;
            if (from > 0)
            {
                response.StatusCode = 206;
                response.AddHeader("Content-Range", $"bytes {from}-{served.Length - 1}/{served.Length}");
            }

            Write(response, served[(int)from..], "application/octet-stream", head: request.HttpMethod == "HEAD");
            return;
        }

        response.StatusCode = 404;
        response.AddHeader("X-Error-Code", "EntryNotFound");
    }

    private static void Write(HttpListenerResponse response, byte[] bytes, string type, bool head = false)
    {
        response.ContentType = type;
        response.ContentLength64 = bytes.Length;
        if (!head)
        {
            response.OutputStream.Write(bytes);
        }
    }

    /// <summary>What git names a file's content: SHA-1 of "blob &lt;size&gt;\0" and the bytes.</summary>
    private static string GitBlobId(byte[] bytes)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {bytes.Length}\0"));
        sha1.AppendData(bytes);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }
}
