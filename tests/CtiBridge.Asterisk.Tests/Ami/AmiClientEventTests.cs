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
        var clock = new FakeTimeProvider();
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            var text = new StringBuilder();
            for (var i = 0; i < burst; i++)
            {
                text.Append("Event: AgentConnect\r\nQueue: support\r\nMemberName: Agent ").Append(i).Append("\r\nHoldTime: 3\r\n\r\n");
            }

            await peer.SendAsync(text.ToString(), ct);
            // Returning closes the socket at once, with the burst possibly still in flight.
        });
        await using var client = new AmiClient(server.Options(), timeProvider: clock);
        using var events = client.SubscribeEvents();
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

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
    public async Task SubscribeEvents_ConsumerFallsBehindPastTheLimit_ConnectionBreaksReconnectsAndSignalsResync()
    {
        var clock = new FakeTimeProvider();
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            var text = new StringBuilder();
            for (var i = 0; i < 500; i++)
            {
                text.Append("Event: QueueMemberStatus\r\nQueue: support\r\nSeq: ").Append(i).Append("\r\n\r\n");
            }

            await peer.SendAsync(text.ToString(), ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options() with { EventBacklogLimit = 100 }, timeProvider: clock);
        using var events = client.SubscribeEvents();
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        var down = await client.WaitForAsync(AmiConnectionState.Disconnected, 1);
        Assert.IsType<AmiEventBacklogException>(down.Reason);
        clock.Advance(down.NextAttemptIn!.Value);
        await client.WaitForAsync(AmiConnectionState.Connected, 2);

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
