using CsCheck;
using CtiBridge.Asterisk.Ami;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Asterisk.Tests.Ami;

public sealed class AmiClientActionTests
{
    public static TheoryData<string> EventsOffSessions =>
        ["ping", "command", "errors", "errors-permission", "core-show-channels", "queue-status", "misc-actions"];

    [Theory]
    [MemberData(nameof(EventsOffSessions))]
    public async Task SendAsync_RecordedEventsOffSession_ReturnsEachRecordedAnswerHeaderForHeader(string session)
    {
        var replay = new FixtureReplay(session);
        await using var server = new ScriptedAmiServer(replay.RunAsync);
        var login = replay.Steps.First(s => s.Action["Action"] == "Login").Action;
        await using var client = new AmiClient(server.Options(login["Secret"]!) with { Username = login["Username"]!, Events = "off" });
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();
        var replayed = 0;

        foreach (var step in replay.ActionsAfterLogin.Where(s => s.Action.ActionId is not null))
        {
            var action = new AmiAction(step.Action["Action"]!);
            foreach (var (key, value) in step.Action.Skip(2))
            {
                action.Add(key, value);
            }

            var expected = step.Replies.Select(r => AmiFixtures.ParseAll(System.Text.Encoding.UTF8.GetBytes(r), []).Single().Message!).ToList();
            if (expected[0]["EventList"] is "start")
            {
                var list = await client.SendListAsync(action, TestContext.Current.CancellationToken).Guarded();
                Assert.Equal(AmiTestKit.WithoutActionId(expected[0]), AmiTestKit.WithoutActionId(list.Response));
                Assert.Equal(expected.Count - 2, list.Items.Count);
                for (var i = 0; i < list.Items.Count; i++)
                {
                    Assert.Equal(AmiTestKit.WithoutActionId(expected[i + 1]), AmiTestKit.WithoutActionId(list.Items[i]));
                }

                Assert.Equal(AmiTestKit.WithoutActionId(expected[^1]), AmiTestKit.WithoutActionId(list.Complete!));
                Assert.Equal(list.Items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), list.Complete!["ListItems"]);
            }
            else
            {
                var response = await client.SendAsync(action, TestContext.Current.CancellationToken).Guarded();
                Assert.Equal(AmiTestKit.WithoutActionId(Assert.Single(expected)), AmiTestKit.WithoutActionId(response));
            }

            replayed++;
        }

        Assert.True(replayed >= 2, $"only {replayed} actions replayed from {session}");
    }

    [Fact]
    public async Task SendAsync_ThousandConcurrentActions_EachGetsItsOwnResponse()
    {
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            // Collect everything first, then answer in reverse with events in between.
            var actions = new List<AmiMessage>();
            while (actions.Count < 1000 && await peer.ReadActionAsync(ct) is { } action)
            {
                actions.Add(action);
            }

            var text = new System.Text.StringBuilder();
            for (var i = actions.Count - 1; i >= 0; i--)
            {
                text.Append(FakeAmiPeer.Response(actions[i]));
                text.Append("Event: QueueMemberStatus\r\nQueue: support\r\nActionID: ").Append(actions[i].ActionId).Append("\r\n\r\n");
            }

            await peer.SendAsync(text.ToString(), ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options());
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        var tasks = Enumerable.Range(0, 1000)
            .Select(i => Task.Run(() => client.SendAsync(new AmiAction("Ping").Add("Echo", $"agent-{i}"), TestContext.Current.CancellationToken)))
            .ToArray();
        var responses = await Task.WhenAll(tasks).Guarded();

        for (var i = 0; i < responses.Length; i++)
        {
            Assert.Equal($"agent-{i}", responses[i]["Echo"]);
        }

        Assert.Equal(1000, responses.Select(r => r.ActionId).Distinct().Count());
    }

    [Fact]
    public async Task SendAsync_ResponsesAndEventsInRandomOrder_MatchTheModel()
    {
        // Model: every action gets exactly the response the server addressed to its ActionID,
        // whatever the order of responses and however many events come in between.
        var plan = Channel<(int[] Order, int[] EventsBefore)>();
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            while (await plan.Reader.WaitToReadAsync(ct))
            {
                var (order, eventsBefore) = await plan.Reader.ReadAsync(ct);
                var actions = new List<AmiMessage>();
                while (actions.Count < order.Length && await peer.ReadActionAsync(ct) is { } action)
                {
                    actions.Add(action);
                }

                var byEcho = actions.ToDictionary(a => a["Echo"]!);
                var text = new System.Text.StringBuilder();
                for (var i = 0; i < order.Length; i++)
                {
                    for (var e = 0; e < eventsBefore[i]; e++)
                    {
                        text.Append("Event: Newstate\r\nChannel: Local/agent").Append(e).Append("@agents-00000001;1\r\nChannelStateDesc: Ringing\r\n\r\n");
                    }

                    text.Append(FakeAmiPeer.Response(byEcho[$"a{order[i]}"]));
                }

                await peer.SendAsync(text.ToString(), ct);
            }
        });
        await using var client = new AmiClient(server.Options());
        using var events = client.SubscribeEvents(["Newstate"]);
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        var genCase = Gen.Int[1, 40].SelectMany(n => Gen.Shuffle(Enumerable.Range(0, n).ToArray()).Select(Gen.Int[0, 3].Array[n, n], (order, ev) => (order, ev)));
        await genCase.SampleAsync(async testCase =>
        {
            var (order, eventsBefore) = testCase;
            await plan.Writer.WriteAsync((order, eventsBefore), TestContext.Current.CancellationToken);
            var tasks = Enumerable.Range(0, order.Length)
                .Select(i => client.SendAsync(new AmiAction("Ping").Add("Echo", $"a{i}"), TestContext.Current.CancellationToken))
                .ToArray();
            var responses = await Task.WhenAll(tasks).Guarded();
            for (var i = 0; i < responses.Length; i++)
            {
                Assert.Equal($"a{i}", responses[i]["Echo"]);
            }

            for (var e = 0; e < eventsBefore.Sum(); e++)
            {
                var item = await events.NextAsync();
                while (item.IsResync)
                {
                    item = await events.NextAsync();
                }

                Assert.Equal("Newstate", item.Event!.EventName);
            }
        }, iter: 60, threads: 1);
        plan.Writer.Complete();
    }

    [Fact]
    public async Task SendAsync_ResponseArrivesAfterTimeout_IsDroppedAndNeverMatchedToTheNextAction()
    {
        var clock = new FakeTimeProvider();
        var logger = new FakeLogger<AmiClient>();
        var firstReceived = new TaskCompletionSource<AmiMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            var first = (await peer.ReadActionAsync(ct))!;
            firstReceived.SetResult(first);
            var second = (await peer.ReadActionAsync(ct))!;
            // The late answer to the first action, then the second action's own answer.
            await peer.SendAsync(FakeAmiPeer.Response(first) + FakeAmiPeer.Response(second), ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options() with { ActionTimeout = TimeSpan.FromSeconds(5) }, logger, clock);
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        var first = client.SendAsync(new AmiAction("QueueStatus").Add("Echo", "first"), TestContext.Current.CancellationToken);
        await firstReceived.Task.Guarded();
        clock.Advance(TimeSpan.FromSeconds(5));
        var timeout = await Assert.ThrowsAsync<AmiActionTimeoutException>(() => first.Guarded());
        var second = await client.SendAsync(new AmiAction("Ping").Add("Echo", "second"), TestContext.Current.CancellationToken).Guarded();

        Assert.Contains("QueueStatus", timeout.Message, StringComparison.Ordinal);
        Assert.Equal("second", second["Echo"]);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == 4105);
    }

    [Fact]
    public async Task SendAsync_ShorterTimeoutWrittenAfterLongerOne_EachExpiresAtItsOwnDeadline()
    {
        // One shared sweep timer serves every action: it must follow the earliest deadline, not
        // the order the actions were written in.
        var clock = new FakeTimeProvider();
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            await peer.ReadActionAsync(ct);
            await peer.ReadActionAsync(ct);
            received.SetResult();
            await peer.ReadActionAsync(ct);
        });
        await using var client = new AmiClient(server.Options(), timeProvider: clock);
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        var slow = client.SendAsync(new AmiAction("QueueStatus") { Timeout = TimeSpan.FromSeconds(60) }, TestContext.Current.CancellationToken);
        var quick = client.SendAsync(new AmiAction("Ping") { Timeout = TimeSpan.FromSeconds(2) }, TestContext.Current.CancellationToken);
        await received.Task.Guarded();
        clock.Advance(TimeSpan.FromSeconds(2));
        var quickTimeout = await Assert.ThrowsAsync<AmiActionTimeoutException>(() => quick.Guarded());
        Assert.False(slow.IsCompleted, "the 60 s action expired with the 2 s one");
        clock.Advance(TimeSpan.FromSeconds(57));
        Assert.False(slow.IsCompleted, "the 60 s action expired a second early");
        clock.Advance(TimeSpan.FromSeconds(1));
        var slowTimeout = await Assert.ThrowsAsync<AmiActionTimeoutException>(() => slow.Guarded());

        Assert.Contains("Ping", quickTimeout.Message, StringComparison.Ordinal);
        Assert.Contains("QueueStatus", slowTimeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendAsync_ManyAnsweredActions_TimeoutBookkeepingStaysBounded()
    {
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options() with { ActionTimeout = TimeSpan.FromHours(1) });
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();

        for (var round = 0; round < 10; round++)
        {
            var batch = new Task<AmiMessage>[1000];
            for (var i = 0; i < batch.Length; i++)
            {
                batch[i] = client.SendAsync(new AmiAction("Ping"), TestContext.Current.CancellationToken);
            }

            await Task.WhenAll(batch).Guarded();
        }

        // 10 000 answered actions whose deadlines are an hour away: compaction keeps only a bounded remainder.
        Assert.InRange(client.TimeoutEntries, 0, 4096 + 1000);
    }

    [Fact]
    public async Task SendAsync_CallerCancels_LaterAnswerIsDroppedAndConnectionStaysUp()
    {
        var received = new TaskCompletionSource<AmiMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new ScriptedAmiServer(async (peer, ct) =>
        {
            await peer.ServeLoginAsync(ct);
            var first = (await peer.ReadActionAsync(ct))!;
            received.SetResult(first);
            await release.Task.WaitAsync(ct);
            await peer.SendAsync(FakeAmiPeer.Response(first), ct);
            await peer.EchoUntilClosedAsync(ct);
        });
        await using var client = new AmiClient(server.Options());
        await client.StartAsync(TestContext.Current.CancellationToken).Guarded();
        using var cancel = new CancellationTokenSource();

        var pending = client.SendAsync(new AmiAction("Ping").Add("Echo", "cancelled"), cancel.Token);
        await received.Task.Guarded();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.Guarded());
        release.SetResult();

        Assert.Equal("next", (await client.SendAsync(new AmiAction("Ping").Add("Echo", "next"), TestContext.Current.CancellationToken).Guarded())["Echo"]);
    }

    [Fact]
    public async Task SendAsync_NotConnected_FailsAtOnceWithTheState()
    {
        await using var client = new AmiClient(new AmiClientOptions { Username = "u", Secret = "s" });

        var error = await Assert.ThrowsAsync<AmiConnectionException>(() => client.SendAsync(new AmiAction("Ping"), TestContext.Current.CancellationToken));

        Assert.Contains("NotStarted", error.Message, StringComparison.Ordinal);
    }

    private static System.Threading.Channels.Channel<T> Channel<T>() => System.Threading.Channels.Channel.CreateUnbounded<T>();
}
