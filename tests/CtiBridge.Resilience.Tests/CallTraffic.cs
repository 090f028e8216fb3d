using CtiBridge.Core.Acd;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Configuration;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// A small call center under traffic for the fault cases: agents whose desk phones answer and hang
/// up like people, customers calling in at a steady pace, and the invariants every case checks
/// afterwards (what was kept).
/// </summary>
internal static class CallTraffic
{
    /// <summary>One queue with short ring and wrap-up times, so a case sees many calls in a few seconds.</summary>
    public static CallQueueSettings Queue(double ringSeconds = 3, double wrapUpSeconds = 0.3) => new()
    {
        Name = "support",
        Strategy = "leastrecent",
        RingTimeout = TimeSpan.FromSeconds(ringSeconds),
        RetryAfterNoAnswer = TimeSpan.FromSeconds(1),
        WrapUp = TimeSpan.FromSeconds(wrapUpSeconds),
        MusicOnHold = "default",
    };

    /// <summary>
    /// How long a desk phone talks after it answers (a draw between the two). A PbxSim phone's talk time runs from its own
    /// answer, not from the bridge, and an agent leg that hangs up before CtiBridge bridged it to the caller counts as a
    /// ring-no-answer (ACD-16): three in a row auto-pause the agent. With 0.3–0.9 s that happened at load 80–100, where
    /// the answer, the bridge and its ARI requests take 1–3 s; from 4 s on the bridge comes first at that load, and
    /// what the cases assert is unchanged (every call that entered ends once, nobody stranded, every agent Ready).
    /// </summary>
    public static readonly (TimeSpan Min, TimeSpan Max) TalkTime = (TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(6));

    /// <summary>Agents 2001.. on desk phones 1001...</summary>
    public static List<(string AgentId, string Phone)> Agents(int count) =>
        [.. Enumerable.Range(1, count).Select(i => ($"{2000 + i}", $"{1000 + i}"))];

    /// <summary>
    /// Starts the rig, makes every desk phone answer within 100–300 ms and hang up after <see cref="TalkTime"/>,
    /// and logs every agent in (Ready).
    /// </summary>
    public static async Task<CallCenterRig> StartAsync(TestDatabase database, int agents, CancellationToken ct,
        CallQueueSettings? queue = null, Action<CtiBridgeSettings>? configureService = null, string? journalDirectory = null,
        Action<CallControlSettings>? configure = null, Action<IServiceCollection>? services = null)
    {
        var team = Agents(agents);
        var rig = await CallCenterRig.StartAsync(database, queue ?? Queue(), team, ct, configure: configure, journalDirectory: journalDirectory, configureService: configureService, services: services);
        try
        {
            foreach (var (agentId, phone) in team)
            {
                rig.Pbx.Phone(phone).AnswersLikeAPerson(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300), TalkTime.Min, TalkTime.Max);
                await rig.LoginAsync(agentId, ct);
            }
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }

        return rig;
    }

    /// <summary>
    /// Customers call the DID <paramref name="count"/> times, <paramref name="interval"/> apart (a
    /// bounded loop); <paramref name="beforeCall"/> runs before call n (0-based), where a case injects its fault.
    /// Callers still waiting in the queue are left to the agents; the returned names are the callers' channels.
    /// </summary>
    public static async Task<List<string>> CallInAsync(CallCenterRig rig, int count, TimeSpan interval, CancellationToken ct, Func<int, Task>? beforeCall = null)
    {
        var callers = new List<string>(count);
        for (var n = 0; n < count; n++)
        {
            if (beforeCall is not null)
            {
                await beforeCall(n);
            }

            callers.Add(rig.Trunk.CallIn("4008001", $"555{n:D4}", $"Customer {n}"));
            await Task.Delay(interval, ct);
        }

        return callers;
    }

    /// <summary>The calls the ACD took in (every call that entered a queue), by call id.</summary>
    public static IReadOnlyList<string> EnteredCalls(CallCenterRig rig) =>
        [.. rig.AcdEvents.Snapshot().OfType<CallEnqueued>().Select(e => e.CallId).Distinct()];

    /// <summary>
    /// Waits (bounded) until every call that entered has ended, no caller channel is left in PbxSim
    /// (nobody stranded on music on hold) and every agent is Ready again (no one stuck ringing, on a
    /// call or in wrap-up); then checks that each call ended exactly once.
    /// </summary>
    public static async Task AssertSettledAsync(CallCenterRig rig, IReadOnlyList<string> agentIds, CancellationToken ct)
    {
        foreach (var callId in EnteredCalls(rig))
        {
            await rig.AcdEvents.WaitForAsync<CallEnded>(e => e.CallId == callId, $"call {callId} to end", ct);
        }

        await EventuallyAsync(() => Task.FromResult(rig.Pbx.ChannelNames.Count == 0), () => StrandedStoryAsync(rig, ct), ct);
        foreach (var agentId in agentIds)
        {
            await EventuallyAsync(async () => (await rig.Center.GetAgentAsync(agentId, ct))!.State == AgentState.Ready,
                async () => $"agent {agentId} is {(await rig.Center.GetAgentAsync(agentId, ct))!.State}, not Ready, after the traffic ended; its last changes: " +
                    string.Join(" | ", rig.AcdEvents.Snapshot().OfType<AgentStateChanged>().Where(e => e.AgentId == agentId).TakeLast(4).Select(e => $"{e.At:HH:mm:ss.fff} {e.From}→{e.To} ({e.Reason})")), ct);
        }

        var endings = rig.AcdEvents.Snapshot().OfType<CallEnded>().GroupBy(e => e.CallId).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(endings.Count == 0, $"calls ended more than once: {string.Join(", ", endings)}");
    }

    /// <summary>
    /// What the channels still up in PbxSim went through, so a stranded caller's failure message says
    /// where it stopped: each channel as Asterisk has it now (ARI: state, dialplan application, caller),
    /// the call center's events of the call with that caller's number, and the channel's AMI events
    /// (the observer misses those of a restart's reconnect window).
    /// </summary>
    public static async Task<string> StrandedStoryAsync(CallCenterRig rig, CancellationToken ct)
    {
        var names = rig.Pbx.ChannelNames;
        var story = new System.Text.StringBuilder($"channels still up in PbxSim: {string.Join(", ", names)}");
        IReadOnlyList<CtiBridge.Asterisk.Ari.Models.Channel> channels = [];
        try
        {
            using var ari = new CtiBridge.Asterisk.Ari.AriClient(CtiBridge.Service.Hosting.AsteriskServer.ToAriOptions(CtiBridge.Service.Tests.Hosting.PbxSimSettings.For(rig.Pbx).Ari));
            channels = await ari.Channels.ListAsync(ct);
        }
        catch (Exception ex) when (ex is CtiBridge.Asterisk.Ari.AriException or HttpRequestException)
        {
            story.Append(System.Globalization.CultureInfo.InvariantCulture, $" (ARI channel list failed: {ex.Message})");
        }

        var acd = rig.AcdEvents.Snapshot();
        foreach (var name in names)
        {
            story.Append(System.Globalization.CultureInfo.InvariantCulture, $"\n- {name}:");
            if (channels.FirstOrDefault(c => c.Name == name) is { } channel)
            {
                story.Append(System.Globalization.CultureInfo.InvariantCulture,
                    $" id {channel.Id}, {channel.State}, in {channel.Dialplan?.AppName}({channel.Dialplan?.AppData}), caller {channel.Caller?.Number}, created {channel.Creationtime:HH:mm:ss.fff}");
                var callIds = acd.OfType<CallEnqueued>().Where(e => e.Caller.CallerNumber == channel.Caller?.Number).Select(e => e.CallId).ToHashSet();
                var ofCall = acd.Where(e => CallIdOf(e) is { } id && callIds.Contains(id)).Select(e => $"{e.At:HH:mm:ss.fff} {e}").ToList();
                story.Append("\n  call center: ").Append(ofCall.Count == 0 ? "(no call with that caller entered a queue)" : string.Join("\n    ", ofCall));
            }

            var ami = rig.PbxEvents.Snapshot().Where(e => (e["Channel"] ?? string.Empty) == name)
                .Select(e => $"{e.EventName} {e["Application"]}({e["AppData"]}) {e["ChannelStateDesc"]}").ToList();
            story.Append("\n  AMI: ").Append(ami.Count == 0 ? "(none recorded)" : string.Join(" | ", ami));
        }

        return story.ToString();
    }

    private static string? CallIdOf(AcdEvent e) => e.GetType().GetProperty("CallId")?.GetValue(e) as string;

    /// <summary>
    /// Stops the service (drains the records) and checks PostgreSQL: every call that entered is in
    /// <c>calls</c> exactly once with at least one queue visit, no other call is there, and no agent
    /// has two state intervals overlapping.
    /// </summary>
    public static async Task AssertRecordsKeptAsync(CallCenterRig rig, TestDatabase database, CancellationToken ct)
    {
        var entered = EnteredCalls(rig).Order(StringComparer.Ordinal).ToList();
        await rig.StopServiceAsync();

        var stored = await ListAsync(database, "SELECT call_id FROM calls ORDER BY call_id", ct);
        Assert.Equal(entered, stored.Order(StringComparer.Ordinal));
        var duplicates = await ListAsync(database, "SELECT call_id FROM calls GROUP BY call_id HAVING count(*) > 1", ct);
        Assert.True(duplicates.Count == 0, $"calls stored twice: {string.Join(", ", duplicates)}");
        var withoutVisit = await ListAsync(database, "SELECT c.call_id FROM calls c WHERE NOT EXISTS (SELECT 1 FROM queue_visits v WHERE v.call_id = c.call_id)", ct);
        Assert.True(withoutVisit.Count == 0, $"calls without a queue visit: {string.Join(", ", withoutVisit)}");
        var overlapping = await ListAsync(database,
            """
            SELECT a.agent_id || ' ' || a.state || '@' || a.started_at || ' overlaps ' || b.state || '@' || b.started_at
            FROM agent_state_intervals a JOIN agent_state_intervals b
              ON a.agent_id = b.agent_id AND a.started_at < b.started_at AND b.started_at < a.ended_at
            """, ct);
        Assert.True(overlapping.Count == 0, $"agent state intervals overlap: {string.Join("; ", overlapping)}");
    }

    /// <summary>Rows of a one-column query as text.</summary>
    public static async Task<List<string>> ListAsync(TestDatabase database, string sql, CancellationToken ct)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<string>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(reader.GetValue(0).ToString()!);
        }

        return rows;
    }

    /// <summary>Polls a condition every 20 ms for at most 20 s (for states that have no event to wait on).</summary>
    public static Task EventuallyAsync(Func<bool> condition, Func<string> what, CancellationToken ct) =>
        EventuallyAsync(() => Task.FromResult(condition()), () => Task.FromResult(what()), ct);

    /// <inheritdoc cref="EventuallyAsync(Func{bool}, Func{string}, CancellationToken)"/>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, Func<Task<string>> what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Still not true after 20 s: " + await what());
            }

            await Task.Delay(20, ct);
        }
    }
}
