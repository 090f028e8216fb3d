using System.Text;
using CtiBridge.Asterisk.Ami;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ami;

public sealed class AmiClientEventTests
{
    public static TheoryData<string> EventSessions =>
        ["call-flow", "queue-call", "queue-members", "queue-ringnoanswer", "originate-agent", "originate-outcomes", "redirect", "blind-transfer", "attended-transfer", "chanspy", "ari-inbound-call", "security-events"];

    [Theory]
    [MemberData(nameof(EventSessions))]
    public async Task SubscribeEvents_RecordedSessionStreamed_DeliversEveryEventInOrder(string session)
    {
        var records = AmiFixtures.Timeline(session).Where(r => r.Dir == "rx").Select(r => r.Data).ToList();
        // Everything after the recorded login answer (the fake server does its own login).
        var loginAnswer = records.FindIndex(r => r.Contains("Authentication accepted", StringComparison.Ordinal));
        var stream = records.Skip(loginAnswer + 1).Where(r => r.EndsWith("\r\n\r\n", StringComparison.Ordinal)).ToList();
        var expected = stream.Where(r => r.StartsWith("Event:", StringComparison.Ordinal)).ToList();
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            await peer.SendAsync(string.Concat(stream), ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options());
        using var events = client.SubscribeEvents();
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        Assert.True((await events.NextAsync()).IsResync);
        foreach (var record in expected)
        {
            var item = await events.NextAsync();
            var want = ExpectedFrame.FromWire(record).Headers;
            Assert.Equal(want, item.Event!.ToList());
        }

        Assert.True(expected.Count >= 3, $"{session} has only {expected.Count} events");
        Assert.False(events.TryRead(out _));
    }

    [Fact]
    public async Task SubscribeEvents_ConsumerAwaitsQueueStatusForEveryQueueCallerJoin_Completes()
    {
        const int callers = 200;
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            var burst = new StringBuilder();
            for (var i = 0; i < callers; i++)
            {
                burst.Append("Event: QueueCallerJoin\r\nQueue: support\r\nPosition: ").Append(i + 1).Append("\r\nCallerIDNum: 55512").Append(i).Append("\r\n\r\n");
            }

            await peer.SendAsync(burst.ToString(), ct);
            while (await peer.ReadActionAsync(ct) is { } action)
            {
                var id = action.ActionId;
                await peer.SendAsync(
                    $"Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Queue status will follow\r\n\r\n" +
                    $"Event: QueueParams\r\nQueue: support\r\nCalls: 1\r\nActionID: {id}\r\n\r\n" +
                    // An unrelated event in the middle of the list goes to subscribers, not to the list.
                    "Event: Newstate\r\nChannel: Local/agent1@agents-00000001;1\r\nChannelStateDesc: Ringing\r\n\r\n" +
                    $"Event: QueueEntry\r\nQueue: support\r\nPosition: 1\r\nActionID: {id}\r\n\r\n" +
                    $"Event: QueueStatusComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n", ct);
            }
        });
        await using var client = new AmiClient(server.Options());
        using var events = client.SubscribeEvents(["QueueCallerJoin"]);
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        var joins = 0;
        await foreach (var item in events.WithCancellation(TestContext.Current.CancellationToken))
        {
            if (item.IsResync)
            {
                continue;
            }

            var status = await client.SendListAsync(new AmiAction("QueueStatus").Add("Queue", item.Event!["Queue"]), TestContext.Current.CancellationToken).Guarded();
            Assert.Equal(["QueueParams", "QueueEntry"], status.Items.Select(i => i.EventName));
            Assert.Equal("QueueStatusComplete", status.Complete!.EventName);
            if (++joins == callers)
            {
                break;
            }
        }

        Assert.Equal(callers, joins);
    }

    [Fact]
    public async Task SubscribeEvents_BurstThenServerCloses_EveryEventDeliveredBeforeDisconnectIsSignalled()
    {
        const int burst = 20_000;
        // The server closes the socket right after the burst, with the burst possibly still in flight.
        // The reader's pause for a consumer that is behind (ReaderLead) is off here: this consumer
        // reads nothing until the disconnect, and the fake clock never ends a pause. The pause with
        // the same burst is the next test.
        await using var rig = await BurstRig.StartAsync(AgentConnectBurst(burst), options => options with { ReaderLead = 0 }, afterBurst: null);
        var (client, events) = (rig.Client, rig.Events);

        var disconnected = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);

        // Nothing has been read yet: all of the burst must already be queued for the consumer.
        Assert.IsType<AmiConnectionException>(disconnected.Reason);
        Assert.True(events.TryRead(out var first) && first.IsResync);
        for (var i = 0; i < burst; i++)
        {
            Assert.True(events.TryRead(out var item), $"event {i} missing at disconnect");
            Assert.Equal($"Agent {i}", item.Event!["MemberName"]);
        }
    }

    [Fact]
    public async Task SubscribeEvents_ConsumerNotReading_ReaderPausesAtItsLeadThenReadsOnAfterTheWait()
    {
        const int burst = 20_000;
        const int lead = 32 * 1024;
        await using var rig = await BurstRig.StartAsync(
            AgentConnectBurst(burst), options => options with { ReaderLead = lead, ReaderLeadWait = TimeSpan.FromMilliseconds(50) }, afterBurst: null);
        var (clock, options, client, events) = (rig.Clock, rig.Options, rig.Client, rig.Events);

        // The reader stops once the unread events pass the lead (plus at most one socket read),
        // although the whole burst (~3 MB) is on its way; the fake clock does not move, so the
        // reader stays paused while we look.
        await WaitUntilAsync(() => events.BacklogBytes > lead);
        for (var look = 0; look < 20; look++)
        {
            Assert.InRange(events.BacklogBytes, 1, lead + (4 * options.ReceiveBufferSize));
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        // The wait elapses: the reader reads on (the consumer may be stuck in a slow handler; the
        // socket must not be held back) and the server's close is seen, every event queued first.
        clock.Advance(options.ReaderLeadWait);
        var disconnected = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);
        Assert.IsType<AmiConnectionException>(disconnected.Reason);
        Assert.True(events.TryRead(out var first) && first.IsResync);
        for (var i = 0; i < burst; i++)
        {
            Assert.True(events.TryRead(out var item), $"event {i} missing at disconnect");
            Assert.Equal($"Agent {i}", item.Event!["MemberName"]);
        }

        Assert.Equal(0, events.BacklogBytes);
    }

    [Fact]
    public async Task SubscribeEvents_ConsumerReadingSlowly_ReaderPausedForItGoesOnWhenItTakesABatch()
    {
        const int burst = 20_000;
        // The clock never moves: every pause of the reader must be ended by the consumer.
        await using var rig = await BurstRig.StartAsync(AgentConnectBurst(burst), options => options with { ReaderLead = 16 * 1024 }, (peer, ct) => peer.EchoUntilClosedAsync(ct));
        var (client, events) = (rig.Client, rig.Events);

        Assert.True((await events.NextAsync()).IsResync);
        for (var i = 0; i < burst; i++)
        {
            var item = await events.NextAsync();
            Assert.Equal($"Agent {i}", item.Event!["MemberName"]);
        }

        Assert.Equal(AmiConnectionState.Connected, (await client.WaitForAsync(AmiConnectionState.Connected, 1)).State);
    }

    [Fact]
    public async Task SubscribeEvents_ConsumerAwaitsActionWhileReaderPaused_ResponseBehindTheBurstArrives()
    {
        const int burst = 20_000;
        // A small lead and a clock that never moves: only the action may end the reader's pause.
        await using var rig = await BurstRig.StartAsync(AgentConnectBurst(burst), options => options with { ReaderLead = 16 * 1024 }, async (peer, ct) =>
        {
            while (await peer.ReadActionAsync(ct) is { } action)
            {
                await peer.SendAsync($"Response: Success\r\nActionID: {action.ActionId}\r\nPing: Pong\r\n\r\n", ct);
            }
        });
        var (client, events) = (rig.Client, rig.Events);
        Assert.True((await events.NextAsync()).IsResync);
        Assert.Equal("Agent 0", (await events.NextAsync()).Event!["MemberName"]);
        await WaitUntilAsync(() => events.BacklogBytes > 16 * 1024);

        // The answer is behind the rest of the burst on the socket; the consumer does not read
        // events while it waits for it.
        var answer = await client.SendAsync(new AmiAction("Ping"), TestContext.Current.CancellationToken).Guarded();

        Assert.True(answer.IsSuccess);
        for (var i = 1; i < burst; i++)
        {
            Assert.Equal($"Agent {i}", (await events.NextAsync()).Event!["MemberName"]);
        }
    }

    [Fact]
    public async Task SubscribeEvents_BacklogPastTheByteLimit_ConnectionBreaksWithTheBytesInTheReason()
    {
        // ~640 KB of events, far fewer than EventBacklogLimit's count, ten times the byte limit.
        var text = new StringBuilder();
        for (var i = 0; i < 2_000; i++)
        {
            text.Append("Event: VarSet\r\nVariable: NOTE\r\nValue: ").Append('x', 250).Append("\r\nSeq: ").Append(i).Append("\r\n\r\n");
        }

        await using var rig = await BurstRig.StartAsync(
            text.ToString(), options => options with { EventBacklogByteLimit = 64 * 1024, ReaderLead = 0 }, (peer, ct) => peer.EchoUntilClosedAsync(ct));
        var (client, events) = (rig.Client, rig.Events);

        var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);

        var reason = Assert.IsType<AmiEventBacklogException>(down.Reason);
        Assert.Contains("65536 bytes", reason.Message, StringComparison.Ordinal);
        Assert.InRange(events.BacklogBytes, 64 * 1024, (64 * 1024) + 1024);
        Assert.True(events.TryRead(out var first) && first.IsResync);
        var seq = 0;
        while (events.TryRead(out var item))
        {
            Assert.Equal(seq++.ToString(System.Globalization.CultureInfo.InvariantCulture), item.Event!["Seq"]);
        }

        Assert.InRange(seq, 100, 400);
        Assert.Equal(0, events.BacklogBytes);
    }

    [Fact]
    public void Options_ReaderLeadAndByteLimitOutOfRange_EachNamedInTheErrors()
    {
        var errors = new AmiClientOptions
        {
            Username = "u",
            Secret = "s",
            EventBacklogByteLimit = 1000,
            ReaderLead = -1,
            ReaderLeadWait = TimeSpan.FromSeconds(-1),
        }.GetValidationErrors();

        Assert.Contains(errors, e => e.StartsWith("EventBacklogByteLimit", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ReaderLead cannot", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("ReaderLeadWait", StringComparison.Ordinal));
    }

    /// <summary>
    /// The set-up the reader-lead and backlog tests share: a server that logs the client in, sends
    /// one burst of events, then does <c>afterBurst</c> (null: closes the socket at once); a client on
    /// a fake clock that never moves unless the test advances it, subscribed before it starts.
    /// </summary>
    private sealed class BurstRig : IAsyncDisposable
    {
        private BurstRig(ScriptedAmiServer server, AmiClientOptions options, FakeTimeProvider clock, AmiClient client, AmiEventSubscription events)
        {
            Server = server;
            Options = options;
            Clock = clock;
            Client = client;
            Events = events;
        }

        public ScriptedAmiServer Server { get; }

        public AmiClientOptions Options { get; }

        public FakeTimeProvider Clock { get; }

        public AmiClient Client { get; }

        public AmiEventSubscription Events { get; }

        public static async Task<BurstRig> StartAsync(string burst, Func<AmiClientOptions, AmiClientOptions> configure, Func<FakeAmiPeer, CancellationToken, Task>? afterBurst)
        {
            var server = new ScriptedAmiServer(async (peer, ct) =>
            {
                await peer.ServeLoginAsync(ct);
                await peer.SendAsync(burst, ct);
                if (afterBurst is not null)
                {
                    await afterBurst(peer, ct);
                }
            });
            var clock = new FakeTimeProvider();
            var options = configure(server.Options());
            var client = new AmiClient(options, timeProvider: clock);
            var events = client.SubscribeEvents();
            var rig = new BurstRig(server, options, clock, client, events);
            try
            {
                await client.StartAsync(TestContext.Current.CancellationToken).Guarded();
                return rig;
            }
            catch
            {
                await rig.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            Events.Dispose();
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    private static string AgentConnectBurst(int count)
    {
        var text = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            text.Append("Event: AgentConnect\r\nQueue: support\r\nMemberName: Agent ").Append(i).Append("\r\nHoldTime: 3\r\n\r\n");
        }

        return text.ToString();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        guard.CancelAfter(AmiTestKit.Guard);
        while (!condition())
        {
            await Task.Delay(5, guard.Token);
        }
    }

    [Fact]
    public async Task SubscribeEvents_ConsumerFallsBehindPastTheLimit_ConnectionBreaksReconnectsAndSignalsResync()
    {
        var text = new StringBuilder();
        for (var i = 0; i < 500; i++)
        {
            text.Append("Event: QueueMemberStatus\r\nQueue: support\r\nSeq: ").Append(i).Append("\r\n\r\n");
        }

        await using var rig = await BurstRig.StartAsync(text.ToString(), options => options with { EventBacklogLimit = 100 }, (peer, ct) => peer.EchoUntilClosedAsync(ct));
        var (clock, client, events) = (rig.Clock, rig.Client, rig.Events);

        var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);
        Assert.IsType<AmiEventBacklogException>(down.Reason);
        // Watch before the reconnect is let go: the second connection gets the same burst and, with the
        // backlog still full, breaks again at once; a watcher started after that would only see
        // Disconnected #2 and wait for a third connection the fake clock never allows (a CI failure).
        var reconnected = client.WaitForAsync(AmiConnectionState.Connected, 2);
        clock.Advance(down.NextAttemptIn!.Value);
        await reconnected;

        // Every event read before the break is delivered, in order, then the resync signal.
        Assert.True((await events.NextAsync()).IsResync);
        var seq = 0;
        AmiEventItem item;
        while (!(item = await events.NextAsync()).IsResync)
        {
            Assert.Equal(seq++.ToString(System.Globalization.CultureInfo.InvariantCulture), item.Event!["Seq"]);
        }

        // The resync plus 100 events fill the limit; the event that went past it is queued too.
        Assert.Equal(100, seq);
        Assert.True(item.Resync!.IsReconnect);
        Assert.IsType<AmiEventBacklogException>(item.Resync.PreviousDisconnectReason);
    }

    [Fact]
    public async Task SubscribeEvents_EventNameFilter_DeliversOnlyThoseEventsInOrder()
    {
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            await peer.SendAsync(
                "Event: Newchannel\r\nChannel: A\r\n\r\nEvent: Hangup\r\nChannel: A\r\n\r\n" +
                "Event: Newchannel\r\nChannel: B\r\n\r\nEvent: hangup\r\nChannel: B\r\n\r\n", ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options());
        using var hangups = client.SubscribeEvents(["Hangup"]);
        using var all = client.SubscribeEvents();
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        Assert.True((await hangups.NextAsync()).IsResync);
        Assert.Equal("A", (await hangups.NextAsync()).Event!["Channel"]);
        Assert.Equal("B", (await hangups.NextAsync()).Event!["Channel"]);
        Assert.True((await all.NextAsync()).IsResync);
        Assert.Equal(["Newchannel", "Hangup", "Newchannel", "hangup"], [
            (await all.NextAsync()).Event!.EventName!, (await all.NextAsync()).Event!.EventName!,
            (await all.NextAsync()).Event!.EventName!, (await all.NextAsync()).Event!.EventName!]);
    }
}
