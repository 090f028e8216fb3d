using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Asterisk.Tests.Ami;

internal static class AmiTestKit
{
    /// <summary>A real-time guard for awaiting outcomes; a test that needs it has failed (nothing sleeps).</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    public static async Task<AmiConnectionStateChange> WaitForStateAsync(this AmiClient client, Func<AmiConnectionStateChange, bool> predicate)
    {
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        guard.CancelAfter(Guard);
        await foreach (var change in client.WatchStateAsync(guard.Token))
        {
            if (predicate(change))
            {
                return change;
            }
        }

        throw new InvalidOperationException("The client stopped before reaching the awaited state.");
    }

    public static Task<AmiConnectionStateChange> WaitForAsync(this AmiClient client, AmiConnectionState state, int connectionNumber) =>
        client.WaitForStateAsync(s => s.State == state && s.ConnectionNumber >= connectionNumber);

    public static async Task<AmiEventItem> NextAsync(this AmiEventSubscription subscription)
    {
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        guard.CancelAfter(Guard);
        while (await subscription.WaitToReadAsync(guard.Token))
        {
            if (subscription.TryRead(out var item))
            {
                return item;
            }
        }

        throw new InvalidOperationException("The subscription ended.");
    }

    public static async Task<T> Guarded<T>(this Task<T> task) => await task.WaitAsync(Guard, TestContext.Current.CancellationToken);

    public static async Task Guarded(this Task task) => await task.WaitAsync(Guard, TestContext.Current.CancellationToken);

    public static List<KeyValuePair<string, string>> WithoutActionId(AmiMessage message) =>
        [.. message.Where(h => !h.Key.Equals("ActionID", StringComparison.OrdinalIgnoreCase))];
}
