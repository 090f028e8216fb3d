using System.Diagnostics;

namespace CtiBridge.Asterisk.Tests.Ari;

/// <summary>Waits for a condition another task makes true, yielding instead of sleeping, bounded in time.</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        while (!condition())
        {
            ct.ThrowIfCancellationRequested();
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"Still waiting after 30 s for {what}.");
            }

            await Task.Yield();
        }
    }
}
