namespace CtiBridge.Benchmarks;

/// <summary>Waits until the process's standard input is closed (how the bench scripts stop a server process).</summary>
internal static class StandardInputClosed
{
    /// <summary>
    /// Completes when standard input reaches its end. Console.In's ReadToEndAsync reads synchronously, so awaited
    /// from a thread-pool continuation it held a pool thread for the whole run; pinned to one core (a pool of one
    /// thread) every call then waited for the pool's starvation injector, which showed as 0.5-1 s stalls in the
    /// 200-in-flight p99. A thread of its own keeps the pool free.
    /// </summary>
    public static Task WaitAsync() =>
        Task.Factory.StartNew(() => Console.In.ReadToEnd(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
