using System.Collections.Concurrent;
using System.Net;
using System.Text;
using LlamaNas.TestSupport;
using NuGet.Packaging;

namespace LlamaNas.Pipeline.Tests;

/// <summary>
/// A NuGet v3 feed on loopback, as much of one as a client that looks up, downloads and pushes packages uses: the
/// service index, the flat container (PackageBaseAddress/3.0.0) and the push endpoint (PackagePublish/2.0.0, 409 for a
/// package it has). Every request needs HTTP Basic credentials.
/// </summary>
internal sealed class FakeNuGetServer : LoopbackHttpServer
{
    private readonly string _authorization;

    public FakeNuGetServer(string user, string password)
    {
        _authorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
        Start();
    }

    public string IndexUrl => $"http://127.0.0.1:{Port}/v3/index.json";

    /// <summary>Stored packages by lower-case "id/version".</summary>
    public ConcurrentDictionary<string, byte[]> Packages { get; } = new();

    private int _unauthorized;
    private int _conflicts;

    /// <summary>Requests answered 401 (no or wrong credentials).</summary>
    public int Unauthorized => Volatile.Read(ref _unauthorized);

    /// <summary>Pushes answered 409 (the package was there).</summary>
    public int Conflicts => Volatile.Read(ref _conflicts);

    protected override void Answer(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (request.Headers["Authorization"] != _authorization)
        {
            Interlocked.Increment(ref _unauthorized);

            // Read what was sent (a push's body) so that the connection stays in step for the retry with credentials.
            request.InputStream.CopyTo(Stream.Null);
            response.StatusCode = 401;
            response.AddHeader("WWW-Authenticate", "Basic realm=\"feed\"");
            return;
        }

        var path = request.Url!.AbsolutePath;
        var flat = $"http://127.0.0.1:{Port}/flat/";
        if (path == "/v3/index.json")
        {
            Write(response, $$"""{"version":"3.0.0","resources":[{"@id":"{{flat}}","@type":"PackageBaseAddress/3.0.0"},{"@id":"http://127.0.0.1:{{Port}}/api/v2/package","@type":"PackagePublish/2.0.0"}]}""");
        }
        else if (path.StartsWith("/flat/", StringComparison.Ordinal) && path.EndsWith("/index.json", StringComparison.Ordinal))
        {
            var id = path.Split('/')[2];
            var versions = Packages.Keys.Where(k => k.StartsWith(id + "/", StringComparison.Ordinal)).Select(k => "\"" + k[(id.Length + 1)..] + "\"").ToList();
            if (versions.Count == 0)
            {
                response.StatusCode = 404;
                return;
            }

            Write(response, "{\"versions\":[" + string.Join(",", versions) + "]}");
        }
        else if (path.StartsWith("/flat/", StringComparison.Ordinal) && path.EndsWith(".nupkg", StringComparison.Ordinal))
        {
            var parts = path.Split('/');
            if (Packages.TryGetValue(parts[2] + "/" + parts[3], out var bytes))
            {
                response.OutputStream.Write(bytes);
            }
            else
            {
                response.StatusCode = 404;
            }
        }
        else if (request.HttpMethod == "PUT" && path.StartsWith("/api/v2/package", StringComparison.Ordinal))
        {
            var nupkg = MultipartFile(request);
            using var reader = new PackageArchiveReader(new MemoryStream(nupkg));
            var identity = reader.GetIdentity();
            var key = identity.Id.ToLowerInvariant() + "/" + identity.Version.ToNormalizedString().ToLowerInvariant();
            if (Packages.TryAdd(key, nupkg))
            {
                response.StatusCode = 201;
            }
            else
            {
                Interlocked.Increment(ref _conflicts);
                response.StatusCode = 409;
            }
        }
        else
        {
            response.StatusCode = 404;
        }
    }

    private static void Write(HttpListenerResponse response, string json)
    {
        response.ContentType = "application/json";
        response.OutputStream.Write(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>The one file of a multipart/form-data body: between the first blank line and the closing boundary.</summary>
    private static byte[] MultipartFile(HttpListenerRequest request)
    {
        using var body = new MemoryStream();
        request.InputStream.CopyTo(body);
        var bytes = body.ToArray();
        var boundary = "--" + request.ContentType!.Split("boundary=")[1].Trim('"');
        var start = IndexOf(bytes, "\r\n\r\n"u8.ToArray(), 0) + 4;
        var end = IndexOf(bytes, Encoding.ASCII.GetBytes("\r\n" + boundary), start);
        return bytes[start..end];
    }

    private static int IndexOf(byte[] haystack, byte[] needle, int from) =>
        haystack.AsSpan(from).IndexOf(needle) is var i and >= 0 ? from + i : throw new InvalidDataException("malformed multipart body");
}
