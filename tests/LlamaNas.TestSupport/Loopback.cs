using System.Net;
using System.Net.Sockets;

namespace LlamaNas.TestSupport;

/// <summary>
/// A fake HTTP server for one test on 127.0.0.1 (never another address): a free port, one request at a time answered
/// by <see cref="Answer"/>, stopped on dispose.
/// </summary>
public abstract class LoopbackHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private Task? _loop;

    protected LoopbackHttpServer()
    {
        Port = FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>A TCP port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    /// <summary>Starts answering (call at the end of the derived constructor, once its state is set).</summary>
    protected void Start()
    {
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    /// <summary>Answers one request; the response is closed afterwards.</summary>
    protected abstract void Answer(HttpListenerContext context);

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // Closed under a pending GetContext.
        }

        GC.SuppressFinalize(this);
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                Answer(context);
            }
            catch (HttpListenerException)
            {
                // The client went away.
            }
            finally
            {
                context.Response.Close();
            }
        }
    }
}
