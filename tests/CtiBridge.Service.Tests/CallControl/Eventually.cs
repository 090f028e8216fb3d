using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Bounded waits of the call-control tests for what PbxSim or the service shows a moment after a request (ARI
/// requests of a call run after it is accepted), and for timers of the call center's fake clock
/// (<c>CallCenterRig.StartAsync(callControlClock:)</c>) while PbxSim keeps real time.
/// </summary>
internal static class Eventually
{
    /// <summary>Waits until <paramref name="condition"/> holds; fails after 15 s saying <paramref name="what"/> was awaited.</summary>
    public static Task TrueAsync(Func<bool> condition, string what, CancellationToken ct) => TrueAsync(() => Task.FromResult(condition()), what, ct);

    /// <inheritdoc cref="TrueAsync(Func{bool}, string, CancellationToken)"/>
    public static async Task TrueAsync(Func<Task<bool>> condition, string what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Still waiting after 15 s for {what}.");
            }

            await Task.Delay(20, ct);
        }
    }

    /// <summary>
    /// Advances the call center's fake clock by <paramref name="step"/> until <paramref name="seen"/> finds what it
    /// looks for (bounded: 20 steps, each given up to 1 s of real time for the loop to act on it). Stepping again
    /// covers a timer armed with a due time read just before the previous step.
    /// </summary>
    public static async Task<T> AdvancingAsync<T>(FakeTimeProvider clock, TimeSpan step, Func<T?> seen, string what, CancellationToken ct)
        where T : class
    {
        for (var i = 0; i < 20; i++)
        {
            clock.Advance(step);
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(1);
            while (DateTime.UtcNow < until)
            {
                if (seen() is { } found)
                {
                    return found;
                }

                await Task.Delay(20, ct);
            }
        }

        Assert.Fail($"{what}: not seen after 20 steps of {step.TotalSeconds} s of the call center's clock");
        return null!;
    }
}
