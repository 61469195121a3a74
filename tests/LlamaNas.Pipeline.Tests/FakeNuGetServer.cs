using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NuGet.Packaging;

namespace LlamaNas.Pipeline.Tests;

/// <summary>
/// A NuGet v3 feed on loopback, as much of one as a client that looks up, downloads and pushes packages uses: the
/// service index, the flat container (PackageBaseAddress/3.0.0) and the push endpoint (PackagePublish/2.0.0, 409 for a
/// package it has). Every request needs HTTP Basic credentials.
/// </summary>
internal sealed class FakeNuGetServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _authorization;
    private readonly Task _loop;

    public FakeNuGetServer(string user, string password)
    {
        _authorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password));
        Port = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    public int Port { get; }

    public string IndexUrl => $"http://127.0.0.1:{Port}/v3/index.json";

    /// <summary>Stored packages by lower-case "id/version".</summary>
    public ConcurrentDictionary<string, byte[]> Packages { get; } = new();

    private int _unauthorized;
    private int _conflicts;

    /// <summary>Requests answered 401 (no or wrong credentials).</summary>
    public int Unauthorized => Volatile.Read(ref _unauthorized);

    /// <summary>Pushes answered 409 (the package was there).</summary>
    public int Conflicts => Volatile.Read(ref _conflicts);

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The listener was closed under a pending GetContext.
        }
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                Answer(context);
            }
            finally
            {
                context.Response.Close();
            }
        }
    }

    private void Answer(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (request.Headers["Authorization"] != _authorization)
        {
            Interlocked.Increment(ref _unauthorized);
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

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
