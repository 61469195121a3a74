using System.Diagnostics;

namespace LlamaNas.Engine.Modeling;

/// <summary>
/// Helper threads for <see cref="MatVec"/>'s products, which come every few tens of microseconds in a decoding step:
/// a helper spins for the next job for up to <see cref="SpinSeconds"/> before it sleeps, since waking a sleeping
/// thread (or a thread-pool task) per product costs about as much as the product itself. Parts are claimed one at a
/// time, so a helper the system deschedules (a busy machine) delays its own part only, not a fixed share.
/// </summary>
internal static class RowWorkers
{
    private const double SpinSeconds = 0.002;

    private static readonly object Gate = new(); // a Monitor: sleeping helpers wait on it
    private static readonly long SpinTicks = (long)(SpinSeconds * Stopwatch.Frequency);
    private static int _busy;
    private static int _helpers;
    private static long _generation;
    private static int _sleepers;
    private static Job? _current;

    /// <summary>
    /// Runs <paramref name="body"/>(0 … parts − 1) on the calling thread and up to <paramref name="threads"/> − 1
    /// helpers, and returns when all parts are done. While another thread's run is in progress, all parts run on the caller.
    /// </summary>
    public static void Run(int parts, int threads, Action<int> body)
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
            Dispatch(new Job(parts, body), threads - 1);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void Dispatch(Job job, int helpers)
    {
        lock (Gate)
        {
            while (_helpers < helpers)
            {
                var index = ++_helpers;
                var current = Volatile.Read(ref _generation);
                new Thread(() => Help(current)) { IsBackground = true, Name = $"matvec-{index}" }.Start();
            }
        }

        Volatile.Write(ref _current, job);
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (Gate)
            {
                Monitor.PulseAll(Gate);
            }
        }

        job.Work();
        var spins = 0;
        while (!job.Finished)
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
    }

    private static void Help(long seen)
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
            // A helper that wakes late may hold an earlier, finished job: it finds no part left to claim.
            Volatile.Read(ref _current)?.Work();
        }
    }

    private sealed class Job(int parts, Action<int> body)
    {
        private int _next;
        private int _done;

        public bool Finished => Volatile.Read(ref _done) == parts;

        public void Work()
        {
            int p;
            while ((p = Interlocked.Increment(ref _next) - 1) < parts)
            {
                body(p);
                Interlocked.Increment(ref _done);
            }
        }
    }
}
