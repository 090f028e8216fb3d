using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Asterisk.Tests.Ami;

/// <summary>The typed helpers, replayed against the recorded sessions: what they send must equal what was recorded.</summary>
public sealed class AmiCallControlTests
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    [Fact]
    public async Task Helpers_RecordedCallFlow_SendTheRecordedActionsAndReadTheAnswers()
    {
        var (replay, peer, server, client) = await StartAsync("call-flow");
        await using (server)
        await using (client)
        {
            var originate = await client.OriginateAsync(new OriginateRequest
            {
                Channel = "Local/1@inbound",
                Context = "customer",
                Exten = "dtmf",
                Priority = 1,
                CallerId = "\"Jane Customer\" <5551234567>",
                Timeout = TimeSpan.FromSeconds(30),
                Variables = [new("CTI_CALL_ID", "call-flow-1")],
            }, Ct).Guarded();
            Assert.True(originate.Answered);
            Assert.Equal(OriginateReason.Answered, originate.Reason);

            await client.PlayDtmfAsync("Local/agent1@agents-00000014;1", '5', TimeSpan.FromMilliseconds(200), cancellationToken: Ct).Guarded();
            await client.SetVariableAsync("Local/1@inbound-00000013;2", "CTI_DISPOSITION", "sale", Ct).Guarded();
            Assert.Equal("call-flow-1", await client.GetVariableAsync("Local/1@inbound-00000013;2", "CTI_CALL_ID", Ct).Guarded());
            await client.UserEventAsync("CtiNote", [new("Channel", "Local/1@inbound-00000013;2"), new("Note", "customer asked for a callback")], Ct).Guarded();
            await client.HangupAsync("Local/agent1@agents-00000014;1", 16, Ct).Guarded();

            AssertSentAsRecorded(replay, peer());
        }
    }

    [Fact]
    public async Task Helpers_RecordedQueueMembers_SendTheRecordedActions()
    {
        var (replay, peer, server, client) = await StartAsync("queue-members");
        await using (server)
        await using (client)
        {
            const string agent4 = "Local/agent4@agents";
            await client.QueueAddAsync("sales", agent4, "Agent Four", "Custom:agent4", 1, false, cancellationToken: Ct).Guarded();
            await client.QueuePauseAsync(agent4, true, "sales", "Lunch", Ct).Guarded();
            await client.QueuePauseAsync(agent4, false, cancellationToken: Ct).Guarded();
            await client.QueuePenaltyAsync(agent4, 3, "sales", Ct).Guarded();
            await client.SendAsync(new AmiAction("QueueMemberRingInUse").Add("Queue", "sales").Add("Interface", agent4).Add("RingInUse", true), Ct).Guarded();
            Assert.Equal(["Changing agent4 to INUSE"], await client.CommandAsync("devstate change Custom:agent4 INUSE", Ct).Guarded());
            await client.CommandAsync("devstate change Custom:agent4 NOT_INUSE", Ct).Guarded();
            await client.QueueLogAsync("sales", "CTI_NOTE", memberInterface: agent4, message: "added by fixture recorder", cancellationToken: Ct).Guarded();
            await client.QueueRemoveAsync("sales", agent4, Ct).Guarded();
            var abandoned = await client.OriginateAsync(new OriginateRequest
            {
                Channel = "Local/sales@queues",
                Context = "customer",
                Exten = "abandon",
                Priority = 1,
                CallerId = "\"Impatient Caller\" <5559998888>",
            }, Ct).Guarded();
            Assert.NotNull(abandoned.Uniqueid);

            AssertSentAsRecorded(replay, peer());
        }
    }

    [Fact]
    public async Task OriginateAsync_RecordedDialerOutcomes_ReportsEachReasonCode()
    {
        var (replay, peer, server, client) = await StartAsync("originate-outcomes");
        await using (server)
        await using (client)
        {
            var outcomes = new List<OriginateReason?>();
            foreach (var step in replay.ActionsAfterLogin)
            {
                var recorded = step.Action;
                outcomes.Add((await client.OriginateAsync(new OriginateRequest
                {
                    Channel = recorded["Channel"]!,
                    Application = recorded["Application"],
                    Data = recorded["Data"],
                    CallerId = recorded["CallerID"],
                    Timeout = TimeSpan.FromMilliseconds(int.Parse(recorded["Timeout"]!, System.Globalization.CultureInfo.InvariantCulture)),
                    Variables = [.. recorded.GetValues("Variable").Select(v => new KeyValuePair<string, string>(v.Split('=')[0], v.Split('=')[1]))],
                }, Ct).Guarded()).Reason);
            }

            Assert.Equal(
                [OriginateReason.Busy, OriginateReason.Congestion, OriginateReason.NoAnswer, OriginateReason.Failed, OriginateReason.Failed, OriginateReason.Failed, OriginateReason.Answered, OriginateReason.Answered],
                outcomes);
            AssertSentAsRecorded(replay, peer());
        }
    }

    [Fact]
    public async Task Helpers_RecordedQueueCall_MixMonitorAndLists()
    {
        var (replay, peer, server, client) = await StartAsync("queue-call");
        await using (server)
        await using (client)
        {
            var call = await client.OriginateAsync(new OriginateRequest
            {
                Channel = "Local/support@queues",
                Context = "customer",
                Exten = "talk",
                Priority = 1,
                CallerId = "\"Queue Caller\" <5557654321>",
                Variables = [new("CTI_CALL_ID", "queue-0001")],
            }, Ct).Guarded();
            Assert.True(call.Answered);
            await client.MixMonitorAsync("Local/support@queues-00000015;2", "queue-0001.wav", "b", cancellationToken: Ct).Guarded();
            await client.StopMixMonitorAsync("Local/support@queues-00000015;2", cancellationToken: Ct).Guarded();
            await client.HangupAsync("Local/support@queues-00000015;1", cancellationToken: Ct).Guarded();

            AssertSentAsRecorded(replay, peer());
        }
    }

    [Fact]
    public async Task Helpers_RecordedErrors_ThrowWithAsteriskMessage()
    {
        var (_, _, server, client) = await StartAsync("errors", events: "off");
        await using (server)
        await using (client)
        {
            await client.SendAsync(new AmiAction("NoSuchAction"), Ct).Guarded();
            var error = await Assert.ThrowsAsync<AmiActionException>(() => client.HangupAsync("", cancellationToken: Ct).Guarded());
            Assert.Equal("No channel specified", error.Response!.Text);
            error = await Assert.ThrowsAsync<AmiActionException>(() => client.HangupAsync("Local/nobody@nowhere-00000000;1", cancellationToken: Ct).Guarded());
            Assert.Contains("No such channel", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Lists_RecordedCoreShowChannelsAndStatus_ReturnItemsInOrder()
    {
        var (_, _, server, client) = await StartAsync("core-show-channels", events: "off");
        await using (server)
        await using (client)
        {
            var none = await client.CoreShowChannelsAsync(Ct).Guarded();
            var two = await client.CoreShowChannelsAsync(Ct).Guarded();
            var status = await client.StatusAsync(cancellationToken: Ct).Guarded();

            Assert.Empty(none.Items);
            Assert.Equal("0", none.Complete!["ListItems"]);
            Assert.Equal(8, two.Items.Count);
            Assert.All(two.Items, i => Assert.Equal("CoreShowChannel", i.EventName));
            Assert.Equal(status.Items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), status.Complete!["Items"] ?? status.Complete["ListItems"]);
        }
    }

    private static void AssertSentAsRecorded(FixtureReplay replay, FakeAmiPeer peer)
    {
        var recorded = replay.ActionsAfterLogin.Select(s => AmiTestKit.WithoutActionId(s.Action)).ToList();
        List<AmiMessage> received;
        lock (peer.Received)
        {
            received = [.. peer.Received.SkipWhile(a => a["Action"] != "Login").Skip(1)];
        }

        Assert.Equal(recorded.Count, received.Count);
        for (var i = 0; i < recorded.Count; i++)
        {
            Assert.Equal(recorded[i], AmiTestKit.WithoutActionId(received[i]));
        }
    }

    private static async Task<(FixtureReplay Replay, Func<FakeAmiPeer> Peer, ScriptedAmiServer Server, AmiClient Client)> StartAsync(string session, string events = "on")
    {
        var replay = new FixtureReplay(session);
        FakeAmiPeer? peer = null;
        var server = new ScriptedAmiServer((p, ct) =>
        {
            peer = p;
            return replay.RunAsync(p, ct);
        });
        var client = new AmiClient(server.Options() with { Events = events });
        await client.StartAsync(Ct).Guarded();
        return (replay, () => peer!, server, client);
    }
}
