using CtiBridge.PbxSim;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// An agent whose phone is ringing when the active <c>ctibridge run</c> process is killed with <c>kill -9</c> (issue 14,
/// "agents' states restored"; docs/reliability.md). The standby does not carry the ring on: it hangs the previous
/// owner's leg up before it rings anyone and offers the call again (so the caller is never rung at two agents at once).
/// What it restores is the agent's time: one <c>ringing</c> interval from the ring's real start until the takeover
/// (before: from the ring's start to the takeover the agent was in no interval at all), then available; a ring cut by
/// the takeover is not the agent's miss (withdrawn, no RINGNOANSWER), as app_queue counts a ring it cancels. The caller
/// keeps its place, is answered once and stored once. Bounded: every wait has a limit; the processes are killed on
/// the way out whatever happens.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class KillHardRingingAgentTests
{
    // Long enough that the ring cut by the kill does not reach its timeout before the standby restores it even at load 100
    // (the takeover then takes up to ~13 s); the test says so if it did.
    private static readonly TimeSpan RingTimeout = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task ActiveProcessKilledHard_WhileAnAgentRings_TheRingIsInTheAgentsIntervals_NotAMiss_TheCallerIsAnsweredOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var rig = await KillHardRig.StartAsync("kill-ringing", [("2001", "1001"), ("2002", "1002")], TimeSpan.FromSeconds(90), ct, settings =>
        {
            settings.CallControl.Queues[0].RingTimeout = RingTimeout;
            settings.CallControl.ExternalEndpoint = "PJSIP/carrier/{number}";
        });
        var (database, pbx, active, standby) = (rig.Database, rig.Pbx, rig.Active, rig.Standby);
        pbx.Phone("1001").NeverAnswers(); // 2001's phone rings through the kill
        pbx.Phone("1002").AnswersAfter(TimeSpan.FromMilliseconds(100));

        // 2001 alone logged in when the caller calls: rung. Then 2002 logs in (ready: the call rings 2001 only).
        await rig.AgentsOn(active).LoginAsync("2001", ct);
        var caller = rig.Carrier.CallIn("4008001", "5550001", "Ringing caller");
        var ringing = await rig.AgentsOn(active).WaitAsync("2001", a => a.State == "Ringing", "2001 ringing", ct);
        await rig.AgentsOn(active).LoginAsync("2002", ct);
        await rig.EventuallyAsync(async () =>
            await database.ScalarAsync<long>($"SELECT count(*) FROM live_agents WHERE agent_id = '2001' AND state = 'Ringing' AND ringing_call_id = '{ringing.CallId}'", ct) == 1
            && await database.ScalarAsync<long>("SELECT count(*) FROM live_agents WHERE agent_id = '2002' AND state = 'Ready'", ct) == 1
            && await database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct) == 1
            // 2001's time before the ring stored by the active's record writer (a record still in a killed instance's memory
            // is the `records` window of docs/reliability.md, not what this test is about).
            && await database.ScalarAsync<long>("SELECT count(*) FROM agent_state_intervals WHERE agent_id = '2001' AND state = 'available'", ct) == 1,
            "2001 ringing and 2002 ready in live_agents, the call in live_calls, 2001's time before the ring in the records", ct);
        var before = await rig.AgentsOn(active).GetAsync("2001", ct);
        Assert.Equal(("Ringing", ringing.CallId), (before.State, before.CallId));
        Assert.Single(pbx.Phone("1001").Channels);
        Assert.Empty(pbx.Phone("1002").Channels);

        // From now on, nobody may have the caller ringing at two phones at once (the old leg must be gone before a new ring).
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var bothRang = WatchForTwoPhonesAtOnceAsync(pbx, watching.Token);

        var killedAt = DateTimeOffset.UtcNow;
        active.KillHard();

        // A new ring of 1001 is answered (PbxSim reads a phone's script when a ring starts: the old leg rings on unanswered).
        pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await standby.WaitReadyAsync(ct); // ready = the calls and agents found are adopted
        var restoredBy = DateTimeOffset.UtcNow;
        Assert.True(before.Since + RingTimeout > restoredBy,
            $"the standby restored the agents {(restoredBy - before.Since!.Value).TotalSeconds:0.0} s after the ring's start, past its {RingTimeout.TotalSeconds} s timeout: the machine is too slow for this test");

        // The caller is answered once by an agent on the standby (its live call connected to that agent), and still up.
        var answeredBy = await rig.EventuallyAsync(async () =>
            await database.ScalarAsync<string>($"SELECT coalesce(min(agent_id), '') FROM live_calls WHERE call_id = '{ringing.CallId}' AND agent_id IS NOT NULL", ct) is { Length: > 0 } agent ? agent : null,
            "the caller answered by an agent on the standby", ct);
        var talking = await rig.AgentsOn(standby).GetAsync(answeredBy, ct);
        Assert.Equal(("OnCall", ringing.CallId), (talking.State, talking.CallId));
        Assert.Contains(caller, pbx.ChannelNames);
        await watching.CancelAsync();
        Assert.Null(await bothRang);

        pbx.Phone(answeredBy == "2001" ? "1001" : "1002").Hangup();
        await rig.EventuallyAsync(() => Task.FromResult(pbx.ChannelNames.Count == 0), $"every call to end (still up: {string.Join(", ", pbx.ChannelNames)})", ct);
        await rig.EventuallyAsync(async () => await database.ScalarAsync<long>("SELECT count(*) FROM live_calls", ct) == 0, "live_calls empty", ct);
        await standby.StopAsync(ct);

        // The call: one record, answered by the agent who took it on the standby, one queue visit; the ring cut by the kill
        // is no agent's missed call (no RINGNOANSWER at all: 2001's new ring, if it had one, was answered).
        Assert.Equal($"answered {answeredBy}", await database.ScalarAsync<string>("SELECT coalesce(string_agg(disposition || ' ' || coalesce(agent_id, '-'), ','), '') FROM calls", ct));
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM queue_visits", ct));
        var missed = await database.ScalarAsync<string>("SELECT coalesce(string_agg(format('%s %s %s', event_time, agent, data), '; '), '') FROM queue_events WHERE event = 'RINGNOANSWER'", ct);
        Assert.True(missed.Length == 0, $"missed calls (RINGNOANSWER): {missed}\n{rig.Output}");

        // 2001's time: no overlap, no hole, and the ring is one 'ringing' interval from its real start (µs) to the takeover.
        foreach (var agent in new[] { "2001", "2002" })
        {
            await rig.AssertTimeWholeAsync(agent, ct);
        }

        var ring = await database.ScalarAsync<string>(
            $"SELECT coalesce(string_agg(ended_at::text, ','), '') FROM agent_state_intervals WHERE agent_id = '2001' AND state = 'ringing' AND started_at = '{KillHardRig.StoredTime(before.Since!.Value)}'::timestamptz", ct);
        Assert.True(ring.Length > 0 && !ring.Contains(',', StringComparison.Ordinal),
            $"2001: no single 'ringing' interval from the ring's start {before.Since:O}:\n{await rig.IntervalsAsync("2001", ct)}");
        var ringEnd = DateTimeOffset.Parse(ring, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(ringEnd >= killedAt && ringEnd <= restoredBy, $"2001's ring ended at {ringEnd:O}, not between the kill {killedAt:O} and the standby's ready {restoredBy:O}");
        Assert.Equal(1L, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM agent_state_intervals WHERE agent_id = '2001' AND state = 'available' AND ended_at = '{KillHardRig.StoredTime(before.Since!.Value)}'::timestamptz", ct));
    }

    /// <summary>Polls PbxSim every 10 ms until cancelled: the first moment both agents' phones had a channel (the only caller rung twice), or null.</summary>
    private static async Task<string?> WatchForTwoPhonesAtOnceAsync(PbxSimulator pbx, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var (one, two) = (pbx.Phone("1001").Channels, pbx.Phone("1002").Channels);
                if (one.Count > 0 && two.Count > 0)
                {
                    return $"at {DateTimeOffset.UtcNow:O} 1001 had {string.Join(", ", one)} and 1002 had {string.Join(", ", two)}";
                }

                await Task.Delay(10, ct);
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
