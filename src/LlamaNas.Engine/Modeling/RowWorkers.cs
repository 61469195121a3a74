using System.Diagnostics;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Helper threads for <see cref="MatVec"/>'s products, which come every few tens of microseconds in a decoding step:
/// a helper spins for the next job for up to <see cref="SpinSeconds"/> before it sleeps, since waking a sleeping
/// thread (or a thread-pool task) per product costs about as much as the product itself.
/// </summary>
internal static class RowWorkers
{
    private const double SpinSeconds = 0.002;

    private static readonly object Gate = new(); // a Monitor: sleeping helpers wait on it
    private static readonly long SpinTicks = (long)(SpinSeconds * Stopwatch.Frequency);
    private static int _busy;
    private static int _helpers;
    private static long _generation;
    private static int _pending;
    private static int _sleepers;
    private static int _parts;
    private static Action<int>? _job;

    /// <summary>
    /// Runs <paramref name="body"/>(0 … parts − 1), part 0 on the calling thread and the others on helpers, and
    /// returns when all are done. Every helper takes part in every run (those past the parts only count themselves
    /// done), so none can fall a run behind. While another thread's run is in progress, all parts run on the caller.
    /// </summary>
    public static void Run(int parts, Action<int> body)
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (var p = 0; p < parts; p++)
            {
                body(p);
            }

            return;
        }

        try
        {
            Dispatch(parts, body);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void Dispatch(int parts, Action<int> body)
    {
        lock (Gate)
        {
            while (_helpers < parts - 1)
            {
                var index = ++_helpers;
                var current = Volatile.Read(ref _generation);
                new Thread(() => Help(index, current)) { IsBackground = true, Name = $"matvec-{index}" }.Start();
            }
        }

        _job = body;
        _parts = parts;
        Volatile.Write(ref _pending, _helpers);
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (Gate)
            {
                Monitor.PulseAll(Gate);
            }
        }

        body(0);
        var spins = 0;
        while (Volatile.Read(ref _pending) > 0)
        {
            if (++spins % 64 == 0)
            {
                Thread.Yield(); // a helper descheduled on a busy machine needs this core back
            }
            else
            {
                Thread.SpinWait(8);
            }
        }

        _job = null;
    }

    private static void Help(int index, long seen)
    {
        while (true)
        {
            var start = Stopwatch.GetTimestamp();
            while (Volatile.Read(ref _generation) == seen)
            {
                if (Stopwatch.GetTimestamp() - start < SpinTicks)
                {
                    Thread.SpinWait(8);
                    continue;
                }

                lock (Gate)
                {
                    Interlocked.Increment(ref _sleepers);
                    while (Volatile.Read(ref _generation) == seen)
                    {
                        Monitor.Wait(Gate);
                    }

                    Interlocked.Decrement(ref _sleepers);
                }
            }

            seen = Volatile.Read(ref _generation);
            if (index < _parts)
            {
                _job!(index);
            }

            Interlocked.Decrement(ref _pending);
        }
    }
}
