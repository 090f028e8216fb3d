using CtiBridge.Asterisk.Ami;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.PbxSim;
using CtiBridge.Service.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// Callback conversations across a restart (issues 11 and 14), against PbxSim and PostgreSQL: the service is
/// stopped while a callback's customer talks to the agent (or answers the queue's survey), its calls staying up
/// in PbxSim, and a new service started on the same PbxSim and database. Before <c>live_callback_calls</c> the
/// new instance released both legs as unknown channels: the talk was cut and the survey lost. Now the
/// conversation goes on under the same call id, the agent stays on the call, the customer is dialled once,
/// the callback is connected once, and the attempt has one <c>calls</c> row (and one recording) spanning the restart.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class CallbackRestartTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue() => new()
    {
        Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(10), WrapUp = TimeSpan.FromSeconds(0.3), MusicOnHold = "default",
    };

    [Fact]
    public async Task AgentFirst_TheConversationGoesOnAfterARestart_CustomerDialledOnce_ConnectedOnce_OneRowAndOneRecording()
    {
        var db = database.Database;
        await using var rig = await StartAsync(survey: false);
        var callbacks = rig.Services.GetRequiredService<CallbackService>();
        var ticket = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550601", "support", DateTimeOffset.UtcNow, null, "restart mid-talk", "api:test"), Ct);
        var (callId, customer, agentLeg) = await ConnectedAsync(rig, ticket.Callback.Id);

        // Stored for an adopter, the recording included, before the stop.
        await WaitForAsync(db, $"SELECT count(*) FROM live_callback_calls WHERE call_id = '{callId}' AND stage = 'talking' AND recording_started_at IS NOT NULL", 1);
        var connectedAt = await db.ScalarAsync<DateTime>($"SELECT connected_at FROM live_callback_calls WHERE call_id = '{callId}'", Ct);

        await rig.StopServiceAsync();
        Assert.Equal(0, rig.PbxEvents.Count("Hangup", e => e["Channel"] == customer || e["Channel"] == agentLeg));
        await rig.StartServiceAgainAsync(Ct);
        var restartedAt = DateTime.UtcNow;

        // Adopted with its agent: 2001 is on the call, not offered anything else.
        var adopted = await rig.AcdEvents.WaitForAsync<CallAdopted>(e => e.CallId == callId, "the callback call adopted", Ct);
        Assert.Equal("2001", adopted.AgentId);
        Assert.Equal(AgentState.OnCall, (await rig.Center.GetAgentAsync("2001", Ct))!.State);
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT takeovers::bigint FROM live_callback_calls WHERE call_id = '{callId}'", Ct));

        // The talk goes on after the restart: still bridged, nothing hung up; then the agent ends it.
        await Task.Delay(TimeSpan.FromMilliseconds(300), Ct);
        Assert.Equal(0, rig.PbxEvents.Count("Hangup", e => e["Channel"] == customer || e["Channel"] == agentLeg));
        rig.Pbx.Phone("1001").Hangup();
        await rig.PbxEvents.WaitAsync("Hangup", customer, Ct);
        await rig.AgentWentAsync("2001", AgentState.WrapUp, AgentState.Ready, Ct);
        await rig.StopServiceAsync();

        await AssertKeptOnceAsync(db, rig, ticket.Callback.Id, callId, connectedAt, restartedAt, "agent");
    }

    [Fact]
    public async Task ACallbackCustomerInTheSurvey_IsAdoptedAtARestart_AskedAgain_TheAnswerStoredOnce_WithTheRow()
    {
        var db = database.Database;
        await using var rig = await StartAsync(survey: true);
        var callbacks = rig.Services.GetRequiredService<CallbackService>();
        var ticket = await callbacks.CreateAsync(CallbackRequest.AgentScheduled("5550602", "support", DateTimeOffset.UtcNow, null, "restart in the survey", "api:test"), Ct);
        var (callId, customer, _) = await ConnectedAsync(rig, ticket.Callback.Id);
        await WaitForAsync(db, $"SELECT count(*) FROM live_callback_calls WHERE call_id = '{callId}' AND recording_started_at IS NOT NULL", 1);
        var connectedAt = await db.ScalarAsync<DateTime>($"SELECT connected_at FROM live_callback_calls WHERE call_id = '{callId}'", Ct);

        // The agent hangs up first: the customer stays on for the survey; where they are is stored.
        rig.Pbx.Phone("1001").Hangup();
        await rig.PbxEvents.WaitAsync("BridgeLeave", customer, Ct);
        await WaitForAsync(db, $"SELECT count(*) FROM live_callback_calls WHERE call_id = '{callId}' AND stage = 'survey' AND conversation_ended_at IS NOT NULL AND agent_leg_id IS NULL", 1);

        await rig.StopServiceAsync();
        Assert.Equal(0, rig.PbxEvents.Count("Hangup", e => e["Channel"] == customer));
        await rig.StartServiceAgainAsync(Ct);
        var restartedAt = DateTime.UtcNow;

        // The new instance took the conversation over (its events wait for the adoption, so the key below is the adopter's survey's).
        await WaitForAsync(db, $"SELECT count(*) FROM live_callback_calls WHERE call_id = '{callId}' AND takeovers = 1", 1);
        rig.Trunk.PressDigits(customer, "7");
        await rig.PbxEvents.WaitAsync("Hangup", customer, Ct); // no thanks prompt: released after the key
        await WaitForAsync(db, $"SELECT count(*) FROM live_callback_calls WHERE call_id = '{callId}'", 0);
        await rig.StopServiceAsync();

        await AssertKeptOnceAsync(db, rig, ticket.Callback.Id, callId, connectedAt, restartedAt, "agent");
        Assert.Equal("7", await db.ScalarAsync<string>($"SELECT survey_score::text FROM calls WHERE call_id = '{callId}' ORDER BY revision DESC LIMIT 1", Ct));
        Assert.Equal("satisfaction|7|2001|support|1", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', max(question), max(score), max(agent_id), max(queue), count(*)) FROM survey_answers WHERE call_id = '{callId}'", Ct));
    }

    /// <summary>The rig: one agent (2001 on 1001, answering after 200 ms), PbxSim's carrier whose customers talk for 10 minutes, calls kept at stop.</summary>
    private async Task<CallCenterRig> StartAsync(bool survey)
    {
        var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct,
            configure: c =>
            {
                c.Shutdown.HandBackCalls = false; // the calls stay in the Stasis app for the next instance
                if (survey)
                {
                    c.Queues[0].Survey = new SurveySettings { Prompt = "ctibridge-survey", Timeout = TimeSpan.FromMinutes(5) };
                }
            },
            configureService: s => s.Callbacks.CallerId = "4008001");
        try
        {
            rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));
            _ = rig.Trunk;
            rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3, TalkSeconds = 600 };
            var callbacks = rig.Services.GetRequiredService<CallbackService>();
            for (var i = 0; i < 600 && !callbacks.Actor.StartsWith("scheduler:", StringComparison.Ordinal); i++)
            {
                await Task.Delay(50, Ct);
            }

            await rig.LoginAsync("2001", Ct);
            return rig;
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits for the callback to connect: its task's call id, the customer's and the agent's channels in PbxSim.</summary>
    private static async Task<(string CallId, string Customer, string AgentLeg)> ConnectedAsync(CallCenterRig rig, Guid callbackId)
    {
        var agentLeg = (await rig.PbxEvents.DialToAsync("1001", Ct))["DestChannel"]!;
        var dial = await rig.PbxEvents.WaitForAsync<AmiMessage>(
            e => e.EventName == "DialBegin" && (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal), "the customer to be dialled", Ct);
        var customer = dial["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", customer, Ct);
        var callbacks = rig.Services.GetRequiredService<CallbackService>();
        for (var i = 0; i < 400 && (await callbacks.GetAsync(callbackId, Ct))?.State != CallbackState.Connected; i++)
        {
            await Task.Delay(50, Ct);
        }

        var history = await callbacks.HistoryAsync(callbackId, Ct);
        return (history.Single(h => h.To == CallbackState.Connected).CallId!, customer, agentLeg);
    }

    /// <summary>
    /// What "kept once" means for a callback conversation cut by a restart: the customer dialled once in PbxSim's
    /// log, the callback connected once, one outbound row answered before the stop and ended after the restart, one
    /// recording row linked to it, nothing left in <c>live_callback_calls</c>.
    /// </summary>
    private static async Task AssertKeptOnceAsync(TestDatabase db, CallCenterRig rig, Guid callbackId, string callId, DateTime connectedAt, DateTime restartedAt, string releasedBy)
    {
        Assert.Equal(1, rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? string.Empty).StartsWith("PJSIP/carrier-", StringComparison.Ordinal)));
        Assert.Equal("connected|1|1", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', c.state, c.attempts, (SELECT count(*) FROM callback_events e WHERE e.callback_id = c.callback_id AND e.to_state = 'connected')) FROM callbacks c WHERE callback_id = '{callbackId}'", Ct));
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(DISTINCT call_id) FROM calls WHERE callback_id = '{callbackId}'", Ct));
        var row = $"SELECT * FROM calls WHERE call_id = '{callId}' ORDER BY revision DESC LIMIT 1";
        Assert.Equal($"outbound|answered|2001|{releasedBy}|call-{callId}-1", await db.ScalarAsync<string>(
            $"SELECT concat_ws('|', direction, disposition, agent_id, released_by, recording_id) FROM ({row}) r", Ct));
        Assert.Equal(connectedAt.Ticks / 10, (await db.ScalarAsync<DateTime>($"SELECT answered_at FROM ({row}) r", Ct)).Ticks / 10);
        Assert.True(await db.ScalarAsync<DateTime>($"SELECT ended_at FROM ({row}) r", Ct) > restartedAt, "the talk ended before the restart");
        Assert.Equal(1L, await db.ScalarAsync<long>($"SELECT count(*) FROM recordings WHERE call_id = '{callId}' AND recording_id = 'call-{callId}-1' AND ended_at > started_at", Ct));
        Assert.Equal(0L, await db.ScalarAsync<long>("SELECT count(*) FROM live_callback_calls", Ct));
    }

    private static async Task WaitForAsync(TestDatabase db, string sql, long expected)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        long seen;
        while ((seen = await db.ScalarAsync<long>(sql, Ct)) != expected)
        {
            Assert.True(DateTime.UtcNow < until, $"Still {seen} (not {expected}) after 20 s: {sql}");
            await Task.Delay(50, Ct);
        }
    }
}
