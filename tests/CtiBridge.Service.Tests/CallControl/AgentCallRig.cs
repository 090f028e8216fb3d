using CtiBridge.Core.Acd;
using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The call center of the tests of what an agent does during a call (<see cref="AgentCallTests"/>,
/// <see cref="ConsultCompletionTests"/>): two queues, 2001 and 2002 serve support (phones 1001, 1002), 2003 serves
/// billing (1003); every phone answers after 200 ms and every outside number after 0.3 s.
/// </summary>
internal static class AgentCallRig
{
    /// <summary>A queue whose ring never times out before the answer: these tests are about what follows it.</summary>
    public static CallQueueSettings Queue(string name = "support", SurveySettings? survey = null) => new()
    {
        Name = name,
        Strategy = "leastrecent",

        // The engine times a ring from the offer, and the originate request, the phone's 200 ms and the answer
        // event all count against it; under CI load that round trip has taken over 2 s, and a ring lost to a 5 s
        // timeout was not offered again within the tests' 15 s waits (retry after 30 s).
        RingTimeout = TimeSpan.FromSeconds(60),
        RetryAfterNoAnswer = TimeSpan.FromSeconds(30),
        WrapUp = TimeSpan.FromSeconds(0.5),
        MusicOnHold = name == "billing" ? "jazz" : "default",
        Survey = survey,
    };

    /// <summary>Starts the call center; 2001 may call outside numbers when <paramref name="externalTransfer"/>.</summary>
    public static async Task<CallCenterRig> StartAsync(TestDatabase database, CancellationToken ct, SurveySettings? survey = null, bool externalTransfer = true)
    {
        var rig = await CallCenterRig.StartAsync(database, Queue(survey: survey), [("2001", "1001"), ("2002", "1002")], ct, configure: c =>
        {
            c.Agents[0].ExternalTransfer = externalTransfer;
            c.Queues.Add(Queue("billing"));
            c.Agents.Add(new CallAgentSettings { Id = "2003", Extension = "PJSIP/1003", PinHash = CallCenterRig.PinHash, Queues = ["billing"] });
        });
        foreach (var phone in new[] { "1001", "1002", "1003" })
        {
            rig.Pbx.Phone(phone).AnswersAfter(TimeSpan.FromMilliseconds(200));
        }

        rig.Pbx.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 0, Invalid = 0, Machine = 0, RingSeconds = 0.3 };
        return rig;
    }

    /// <summary>A caller (5551234) talking to agent 2001, logged in first unless <paramref name="login"/> is false; returns the caller's and the agent's channel names.</summary>
    public static async Task<(string Caller, string Agent)> ConnectedCallAsync(CallCenterRig rig, CancellationToken ct, bool login = true)
    {
        if (login)
        {
            await rig.LoginAsync("2001", ct);
        }

        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        var agent = (await rig.PbxEvents.DialToAsync("1001", ct))["DestChannel"]!;
        await rig.PbxEvents.WaitAsync("BridgeEnter", caller, ct);
        await rig.AgentWentAsync("2001", AgentState.Ringing, AgentState.OnCall, ct);
        return (caller, agent);
    }

    /// <summary>Stops the service (the records writer flushes) and reads <paramref name="columns"/> of the test's one call row, joined by '|'.</summary>
    public static async Task<string> CallRowAsync(CallCenterRig rig, TestDatabase database, string columns, CancellationToken ct)
    {
        await rig.StopServiceAsync();
        var callId = rig.AcdEvents.Snapshot().OfType<CallEnqueued>().First().CallId.Replace("'", "''", StringComparison.Ordinal);
        return await database.ScalarAsync<string>($"SELECT concat_ws('|', {columns}) FROM calls WHERE call_id = '{callId}'", ct);
    }

    /// <summary>How many times PbxSim dialled <paramref name="phone"/>.</summary>
    public static int DialsTo(CallCenterRig rig, string phone) =>
        rig.PbxEvents.Count("DialBegin", e => (e["DestChannel"] ?? "").StartsWith($"PJSIP/{phone}-", StringComparison.Ordinal));
}
