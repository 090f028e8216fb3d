using System.Net;
using System.Net.Sockets;
using System.Text;
using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;
using CtiBridge.Service.Live;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// Slow event consumers while customers call: an event-stream client that never reads its socket,
/// a webhook receiver that accepts and never answers, and an in-process subscriber that never reads.
/// None of them may stall call control or make memory grow without bound: the live hub cuts a
/// subscriber off when it falls its capacity behind, and calls, agents and records go on as usual.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class SlowConsumerTests
{
    private const int AgentCount = 3;
    private const int SlowCapacity = 40;

    [Fact]
    public async Task SlowSseClientHungWebhookAndStuckSubscriber_CallControlGoesOn_SlowSubscriberIsCutOffAtItsCapacity()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        using var hungReceiver = new HungHttpReceiver();
        await using var rig = await CallTraffic.StartAsync(database, AgentCount, ct, configureService: s => s.Webhooks =
        [
            new WebhookSettings { Name = "hung-crm", Url = hungReceiver.Url, Secret = "slow-consumer-secret-0123456789", Timeout = TimeSpan.FromSeconds(2), RetryDelay = TimeSpan.FromMilliseconds(50), MaxAttempts = 2 },
        ]);
        var hub = rig.Services.GetRequiredService<LiveEventHub>();

        // An in-process subscriber that never reads, with a small capacity.
        using var stuck = hub.Subscribe(capacity: SlowCapacity);
        // An event-stream client with a 1 KB receive buffer that never reads after its request.
        var token = (await new ApiKeyStore(database.DataSource, TimeProvider.System).CreateAsync("slow-sse", ApiRole.Integration, null, "fault test", ct)).Token;
        using var sse = await OpenEventStreamWithoutReadingAsync(rig, token, ct);
        await CallTraffic.EventuallyAsync(() => hub.SubscriberCount >= 3, () => $"the slow subscribers to connect ({hub.SubscriberCount})", ct);

        var most = 0;
        await CallTraffic.CallInAsync(rig, 16, TimeSpan.FromMilliseconds(150), ct, _ =>
        {
            most = Math.Max(most, stuck.Reader.CanCount ? stuck.Reader.Count : 0);
            return Task.CompletedTask;
        });

        // Call control was not held up: every call ended, agents Ready, records stored once.
        await CallTraffic.AssertSettledAsync(rig, [.. CallTraffic.Agents(AgentCount).Select(a => a.AgentId)], ct);
        Assert.True(rig.AcdEvents.Snapshot().OfType<CallAnswered>().Count() >= 16, "every customer should have been answered");

        // The stuck subscriber was cut off once it fell its capacity behind; it never held more.
        Assert.True(hub.SubscribersCutOff >= 1, "the stuck subscriber should have been cut off");
        Assert.True(most <= SlowCapacity, $"the stuck subscriber held {most} events, more than its capacity {SlowCapacity}");
        var drained = 0;
        while (stuck.Reader.TryRead(out _))
        {
            drained++;
        }

        Assert.Equal(SlowCapacity, drained);
        await Assert.ThrowsAsync<LiveSubscriberTooSlowException>(() => stuck.Reader.Completion);
        Assert.True(hungReceiver.Connections >= 1, "the webhook receiver should have been tried");

        // Time to recover (measured, never asserted): call handling never stopped, so there is nothing to recover
        // from; what the slow consumers could have cost is the callers' wait, enqueue to answer.
        var waits = rig.AcdEvents.Snapshot().OfType<CallAnswered>().Select(e => e.Wait).ToList();
        TestContext.Current.SendDiagnosticMessage(RecoveryReport.Write(
            "slow consumers (stuck subscriber, unread event stream, hung webhook)",
            "0 (not interrupted)",
            $"call handling never stopped: {waits.Count} callers answered, their wait from enqueue to answer {RecoveryReport.Seconds(waits.Min())} – {RecoveryReport.Seconds(waits.Max())}; the stuck subscriber cut off at its capacity ({SlowCapacity} events); 16 callers at 150 ms, {AgentCount} agents"));

        await CallTraffic.AssertRecordsKeptAsync(rig, database, ct);
    }

    private static async Task<TcpClient> OpenEventStreamWithoutReadingAsync(Service.Tests.CallControl.CallCenterRig rig, string token, CancellationToken ct)
    {
        var address = new Uri(rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        var client = new TcpClient { ReceiveBufferSize = 1024 };
        await client.ConnectAsync(IPAddress.Loopback, address.Port, ct);
        var request = $"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n";
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(request), ct);
        return client;
    }

    /// <summary>A loopback HTTP "receiver" that accepts connections and never answers (a hung CRM).</summary>
    private sealed class HungHttpReceiver : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly List<Socket> _held = [];
        private readonly CancellationTokenSource _stop = new();
        private int _connections;

        public HungHttpReceiver()
        {
            _listener.Start();
            _ = AcceptAsync();
        }

        public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/hook";

        public int Connections => Volatile.Read(ref _connections);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    Interlocked.Increment(ref _connections);
                    lock (_held)
                    {
                        _held.Add(socket);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_held)
            {
                _held.ForEach(s => s.Dispose());
            }

            _stop.Dispose();
        }
    }
}
