using System.Collections;
using CtiBridge.Core.Acd;
using CtiBridge.Core.Callbacks;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Tests.CallControl;

public sealed class CallControlSettingsTests
{
    private static readonly string PinHash = AgentPin.Hash("1234", iterations: 1000);

    private static string Config(string callControl) => $$"""
        {
          "database": { "connectionString": "Host=127.0.0.1;Database=ctibridge;Username=ctibridge" },
          "asterisk": [ {
            "name": "pbx1",
            "ami": { "host": "127.0.0.1", "port": 5038, "username": "ctibridge", "secret": "s3cret" },
            "ari": { "baseUrl": "http://127.0.0.1:8088/ari", "username": "ctibridge", "password": "pw" }
          } ],
          "callControl": {{callControl}}
        }
        """;

    private static IReadOnlyList<string> Problems(string callControl)
    {
        var error = Assert.Throws<SettingsException>(() => SettingsLoader.Parse(Config(callControl), "ctibridge.json", new Hashtable()));
        return error.Problems.Select(p => p.ToString()).ToList();
    }

    [Fact]
    public void Parse_QueuesAgentsAndDids_BindsAndMapsToTheAcdConfiguration()
    {
        var settings = SettingsLoader.Parse(Config($$"""
            {
              "queues": [ { "name": "support", "strategy": "rrmemory", "ringTimeout": "00:00:12", "wrapUp": "00:00:20", "musicOnHold": "calm" } ],
              "agents": [ { "id": "2001", "name": "Ann", "extension": "PJSIP/1001", "pinHash": "{{PinHash}}", "queues": [ "support" ] } ],
              "dids": [ { "number": "4008001", "queue": "support" } ]
            }
            """), "ctibridge.json", new Hashtable());

        Assert.True(settings.CallControl.IsEnabled);
        var acd = global::CtiBridge.Service.CallControl.CallControlConfiguration.ToAcdConfiguration(settings.CallControl);
        var queue = Assert.Single(acd.Queues);
        Assert.Equal(("support", "rrmemory", TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(20), "calm"), (queue.Name, queue.Strategy, queue.RingTimeout, queue.WrapUp, queue.Experience.MusicOnHoldClass));
        var agent = Assert.Single(acd.Agents);
        Assert.Equal("2001", agent.AgentId);
        Assert.Equal("support", Assert.Single(agent.Queues).Queue);
        Assert.Equal("4008001", Assert.Single(settings.CallControl.Dids).Number);
    }

    [Fact]
    public void Parse_WeightJoinLeaveWhenEmptyAndPenalties_ReachTheAcdConfiguration()
    {
        var settings = SettingsLoader.Parse(Config($$"""
            {
              "queues": [
                { "name": "support", "weight": 2.5, "maxWaiting": 30, "refuseJoinWhen": "noAgentsServing", "leaveWhen": "noAgentsLoggedIn" },
                { "name": "sales" }
              ],
              "agents": [ { "id": "2001", "extension": "PJSIP/1001", "pinHash": "{{PinHash}}", "queues": [ "support", "sales" ], "penalties": { "sales": 3 } } ]
            }
            """), "ctibridge.json", new Hashtable());

        var acd = global::CtiBridge.Service.CallControl.CallControlConfiguration.ToAcdConfiguration(settings.CallControl);
        var (support, sales) = (acd.Queues[0], acd.Queues[1]);
        Assert.Equal((2.5, 30, EmptyQueueCondition.NoAgentsServing, EmptyQueueCondition.NoAgentsLoggedIn), (support.Weight, support.MaxWaiting, support.RefuseJoinWhen, support.LeaveWhen));
        Assert.Equal((1d, 0, (EmptyQueueCondition?)null, (EmptyQueueCondition?)null), (sales.Weight, sales.MaxWaiting, sales.RefuseJoinWhen, sales.LeaveWhen));
        Assert.Equal([new QueueMembership("support", 0), new QueueMembership("sales", 3)], Assert.Single(acd.Agents).Queues);
    }

    [Fact]
    public void Parse_BadWeightEmptyConditionAndPenalties_ListEveryProblemWithItsSetting()
    {
        var problems = Problems($$"""
            {
              "queues": [ { "name": "support", "weight": 0, "refuseJoinWhen": "noAgentsLogedIn", "leaveWhen": "never" } ],
              "agents": [ { "id": "2001", "extension": "PJSIP/1001", "pinHash": "{{PinHash}}", "queues": [ "support" ], "penalties": { "support": -1, "sales": 2 } } ]
            }
            """);

        Assert.Contains(problems, p => p.StartsWith("callControl.queues[0].weight", StringComparison.Ordinal) && p.Contains("must be a positive number", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callControl.queues[0].refuseJoinWhen", StringComparison.Ordinal) && p.Contains("did you mean 'noAgentsLoggedIn'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callControl.queues[0].leaveWhen", StringComparison.Ordinal) && p.Contains("'never' is not one of noAgentsLoggedIn, noAgentsServing", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callControl.agents[0].penalties.support", StringComparison.Ordinal) && p.Contains("is not a penalty", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("callControl.agents[0].penalties.sales", StringComparison.Ordinal) && p.Contains("which the agent does not serve", StringComparison.Ordinal));
        Assert.Equal(5, problems.Count);
    }

    [Fact]
    public void Parse_NoCallControlSection_LeavesCallControlOff()
    {
        var settings = SettingsLoader.Parse(Config("{}"), "ctibridge.json", new Hashtable());

        Assert.False(settings.CallControl.IsEnabled);
    }

    [Fact]
    public void Parse_DidToMisspelledQueue_SaysWhereAndSuggestsTheQueue()
    {
        var problems = Problems("""{ "queues": [ { "name": "support" } ], "dids": [ { "number": "4008001", "queue": "suport" } ] }""");

        Assert.Equal(["callControl.dids[0].queue: queue 'suport' is not configured in callControl.queues; did you mean 'support'?"], problems);
    }

    [Fact]
    public void Parse_MisspelledStrategy_SuggestsTheKnownOne()
    {
        var problems = Problems("""{ "queues": [ { "name": "support", "strategy": "leastrecnt" } ] }""");

        var problem = Assert.Single(problems);
        Assert.StartsWith("callControl.queues[0].strategy: 'leastrecnt' is not a strategy (", problem, StringComparison.Ordinal);
        Assert.EndsWith("; did you mean 'leastrecent'?", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_QueueCallbackMode_TakesBothModesInAnyCase_AndRefusesAnotherNamingTheKnownOnes()
    {
        var problems = Problems("""
            { "queues": [ { "name": "a", "callbackMode": "customerFrist" }, { "name": "b", "callbackMode": "CustomerFirst" },
                          { "name": "c", "callbackMode": "agentFirst" }, { "name": "d" } ] }
            """);
        var queues = new[] { "customerFirst", "CustomerFirst", "agentFirst", null }.Select(m => new global::CtiBridge.Service.CallControl.CallQueueSettings { Name = "q", CallbackMode = m });

        Assert.Equal(["callControl.queues[0].callbackMode: 'customerFrist' is not a callback mode (agentFirst, customerFirst); did you mean 'customerFirst'?"], problems);
        Assert.Equal([CallbackMode.CustomerFirst, CallbackMode.CustomerFirst, CallbackMode.AgentFirst, null], queues.Select(global::CtiBridge.Service.CallControl.CallControlConfiguration.QueueCallbackMode));
    }

    [Fact]
    public void Parse_AgentWithBadPhonePinAndQueue_ListsEveryProblem()
    {
        var problems = Problems("""
            { "queues": [ { "name": "sales" } ],
              "agents": [ { "id": "2001", "extension": "1001", "pinHash": "1234", "queues": [ "sale" ] },
                          { "id": "2001", "extension": "PJSIP/1002", "pinHash": "", "queues": [] } ] }
            """);

        Assert.Contains("callControl.agents[0].extension: '1001' is not a dialable endpoint; write it as TECH/resource, e.g. \"PJSIP/1001\"", problems);
        Assert.Contains("callControl.agents[0].pinHash: is not a PIN hash; create one with AgentPin.Hash (pbkdf2-sha256$iterations$salt$hash), never write the PIN itself", problems);
        Assert.Contains("callControl.agents[0].queues[0]: queue 'sale' is not configured in callControl.queues; did you mean 'sales'?", problems);
        Assert.Contains("callControl.agents[1].id: agent '2001' is configured twice", problems);
        Assert.Contains("callControl.agents[1].queues: lists no queue; the agent would never get a call", problems);
        Assert.DoesNotContain(problems, p => p.Contains("'1234'", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_FallbackLimits_BindWithDefaultsWhenLeftOut()
    {
        var defaults = SettingsLoader.Parse(Config("""{ "queues": [ { "name": "support" } ] }"""), "ctibridge.json", new Hashtable());
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(120)), (defaults.CallControl.Fallback.ExternalRingTimeout, defaults.CallControl.Fallback.VoicemailMaxMessage));

        var set = SettingsLoader.Parse(Config("""
            { "queues": [ { "name": "support" } ], "fallback": { "externalRingTimeout": "00:00:45", "voicemailMaxMessage": "00:03:00" } }
            """), "ctibridge.json", new Hashtable());
        Assert.Equal((TimeSpan.FromSeconds(45), TimeSpan.FromMinutes(3)), (set.CallControl.Fallback.ExternalRingTimeout, set.CallControl.Fallback.VoicemailMaxMessage));
    }

    [Fact]
    public void Parse_FallbackLimitsOutOfBounds_NameTheSettingAndTheBounds()
    {
        var problems = Problems("""
            { "queues": [ { "name": "support" } ], "fallback": { "externalRingTimeout": "00:00:00", "voicemailMaxMessage": "02:00:00" } }
            """);

        Assert.Equal(
        [
            "callControl.fallback.externalRingTimeout: 00:00:00 must be between 00:00:01 and 00:10:00 (how long an outside number rings)",
            "callControl.fallback.voicemailMaxMessage: 02:00:00 must be between 00:00:05 and 01:00:00 (the longest voicemail message)",
        ], problems);
    }

    [Fact]
    public void Parse_ZeroRingTimeout_IsRefused()
    {
        var problems = Problems("""{ "queues": [ { "name": "support", "ringTimeout": "00:00:00" } ] }""");

        Assert.Equal(["callControl.queues[0].ringTimeout: 00:00:00 must be longer than zero"], problems);
    }

    [Fact]
    public void Parse_MisspelledSettingInCallControl_SuggestsTheSetting()
    {
        var problems = Problems("""{ "queues": [ { "name": "support", "wrapup": "00:00:05", "ringTimout": "00:00:05" } ] }""");

        Assert.Equal(["callControl.queues[0].ringTimout: unknown setting; did you mean 'ringTimeout'?"], problems);
    }

    [Fact]
    public void Parse_IvrPlanWithCalendarAndQueueExtras_BindsAndMapsToTheAcdConfiguration()
    {
        var settings = SettingsLoader.Parse(Config($$"""
            {
              "queues": [ { "name": "support", "announcePosition": true, "announcementPeriod": "00:00:45", "joinPrompt": "queue-thankyou",
                            "exitKeys": [ { "key": "1", "target": "callback" }, { "key": "2", "target": "voicemail:800" } ],
                            "overflow": [ { "when": "waitExceeded", "after": "00:02:00", "target": "number:13800001111" } ] } ],
              "agents": [ { "id": "2001", "extension": "PJSIP/1001", "pinHash": "{{PinHash}}", "queues": [ "support" ] } ],
              "dids": [ { "number": "4008001", "plan": "main" } ],
              "ivr": {
                "calendars": [ { "name": "office", "timeZone": "Asia/Shanghai", "open": [ { "days": "mon-fri", "from": "09:00", "to": "18:00" } ], "holidays": [ "2026-10-01" ] } ],
                "plans": [ { "name": "main", "start": "hours", "operator": "support", "nodes": [
                  { "name": "hours", "type": "time", "calendar": "office", "open": "menu", "closed": "vm" },
                  { "name": "menu", "type": "menu", "prompt": "welcome", "choices": [ { "key": "1", "next": "support" } ] },
                  { "name": "support", "type": "queue", "queue": "support" },
                  { "name": "vm", "type": "voicemail", "mailbox": "800" } ] } ]
              }
            }
            """), "ctibridge.json", new Hashtable());

        var queue = Assert.Single(global::CtiBridge.Service.CallControl.CallControlConfiguration.ToAcdConfiguration(settings.CallControl).Queues);
        Assert.Equal((true, TimeSpan.FromSeconds(45), "queue-thankyou"), (queue.Experience.AnnouncePositionOnJoin, queue.Experience.PositionAnnouncementPeriod!.Value, queue.Experience.JoinPrompt));
        Assert.Equal(OverflowTarget.ToCallbackOffer(), queue.ExitKeys['1']);
        Assert.Equal(OverflowTarget.ToVoicemail("800"), queue.ExitKeys['2']);
        Assert.Equal(new OverflowRule(OverflowCondition.WaitExceeded, OverflowTarget.ToNumber("13800001111"), TimeSpan.FromMinutes(2)), Assert.Single(queue.Overflow));
        Assert.Equal(4, Assert.Single(settings.CallControl.Ivr.Plans).Nodes.Count);
    }

    [Fact]
    public void Parse_BrokenIvrPlan_OneLinePerProblemNamingTheSetting()
    {
        var problems = Problems($$"""
            { "queues": [ { "name": "support" } ],
              "agents": [ { "id": "2001", "extension": "PJSIP/1001", "pinHash": "{{PinHash}}", "queues": [ "support" ] } ],
              "dids": [ { "number": "4008001", "plan": "mian" }, { "number": "4008002" }, { "number": "4008003", "agent": "2001", "fallback": "voicemail" },
                        { "number": "4008004", "agent": "2002" }, { "number": "4008005", "queue": "support", "fallback": "hangup" } ],
              "ivr": {
                "calendars": [ { "name": "office", "timeZone": "Mars/Olympus", "open": [ { "days": "mon-fry", "from": "9", "to": "18:00" } ], "holidays": [ "1 Oct" ] } ],
                "plans": [ { "name": "main", "start": "welcom", "nodes": [
                  { "name": "welcome", "type": "menue" },
                  { "name": "menu", "type": "menu", "prompt": "welcome", "choices": [ { "key": "11", "next": "support" }, { "key": "2", "next": "nowhere" } ], "timeout": "00:00:00" },
                  { "name": "pin", "type": "pin", "prompt": "enter-pin", "pinHash": "1234", "next": "menu" },
                  { "name": "x", "type": "time", "calendar": "offce", "open": "y", "closed": "menu" },
                  { "name": "y", "type": "time", "calendar": "office", "open": "x", "closed": "menu" },
                  { "name": "boss", "type": "agent", "agent": "2001", "fallback": "queue:suport" },
                  { "name": "mobile", "type": "external", "number": "138-0000" } ] } ]
              }
            }
            """);

        Assert.Equal([
            "callControl.ivr.calendars[0].timeZone: 'Mars/Olympus' is not a known time zone (an IANA name such as \"Asia/Shanghai\" or \"UTC\")",
            "callControl.ivr.calendars[0].open[0].days: 'mon-fry' is not a list of week days; write e.g. \"mon-fri\" or \"sat,sun\"",
            "callControl.ivr.calendars[0].open[0].from: '9' is not a time of day (HH:mm, e.g. \"09:00\")",
            "callControl.ivr.calendars[0].holidays[0]: '1 Oct' is not a date (yyyy-MM-dd, e.g. \"2026-10-01\")",
            "callControl.ivr.plans[0].start: node 'welcom' is not in this plan; did you mean 'welcome'?",
            "callControl.ivr.plans[0].nodes[0].type: 'menue' is not a node type (menu, play, time, pin, queue, agent, external, voicemail, hangup, caller); did you mean 'menu'?",
            "callControl.ivr.plans[0].nodes[1].choices[0].key: '11' is not a key; use one of 0-9, * or #",
            "callControl.ivr.plans[0].nodes[1].choices[0].next: node 'support' is not in this plan",
            "callControl.ivr.plans[0].nodes[1].choices[1].next: node 'nowhere' is not in this plan",
            "callControl.ivr.plans[0].nodes[1].timeout: 00:00:00 must be longer than zero",
            "callControl.ivr.plans[0].nodes[2].pinHash: is not a PIN hash; create one with `ctibridge pin-hash` (pbkdf2-sha256$iterations$salt$hash), never write the PIN itself",
            "callControl.ivr.plans[0].nodes[3].calendar: calendar 'offce' is not configured in callControl.ivr.calendars; did you mean 'office'?",
            "callControl.ivr.plans[0].nodes[5].fallback: queue 'suport' is not configured in callControl.queues; did you mean 'support'?",
            "callControl.ivr.plans[0].nodes[6].number: '138-0000' is not a number to dial (digits, +, * and # only)",
            "callControl.ivr.plans[0].nodes[3]: node 'x' leads back to itself through time and caller nodes only; put a prompt or a destination in the loop",
            "callControl.ivr.plans[0].nodes[4]: node 'y' leads back to itself through time and caller nodes only; put a prompt or a destination in the loop",
            "callControl.dids[0].plan: plan 'mian' is not configured in callControl.ivr.plans; did you mean 'main'?",
            "callControl.dids[1]: names neither a queue, an agent nor a plan; add \"queue\": \"support\", \"agent\": \"2001\" or \"plan\": \"main\"",
            "callControl.dids[2].fallback: 'voicemail' is not a target; write queue:NAME, voicemail:MAILBOX, number:DIGITS, callback or hangup[:SOUND]",
            "callControl.dids[3].agent: agent '2002' is not configured in callControl.agents; did you mean '2001'?",
            "callControl.dids[4].fallback: applies to a DID routed to an agent only; remove it or add \"agent\"",
        ], problems);
        Assert.DoesNotContain(problems, p => p.Contains("'1234'", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_BadOverflowAndExitKeys_SayWhatATargetLooksLike()
    {
        var problems = Problems("""
            { "queues": [ { "name": "support", "exitKeys": [ { "key": "1", "target": "callbak" }, { "key": "1", "target": "queue:support" } ],
                            "overflow": [ { "when": "waitExceded", "target": "number:" }, { "when": "noAnswer", "target": "queue:backup" } ] } ] }
            """);

        Assert.Equal([
            "callControl.queues[0].exitKeys[0].target: 'callbak' is not a target; write queue:NAME, number:DIGITS, voicemail:MAILBOX, callback or hangup[:SOUND]",
            "callControl.queues[0].exitKeys[1].key: key '1' is used twice in queue 'support'",
            "callControl.queues[0].exitKeys[1].target: sends the call back into queue 'support' itself",
            "callControl.queues[0].overflow[0].when: 'waitExceded' is not an overflow condition (waitExceeded, noAnswer, queueFull, noAgents, closed); did you mean 'waitExceeded'?",
            "callControl.queues[0].overflow[0].target: 'number:' is not a target; write queue:NAME, number:DIGITS, voicemail:MAILBOX, callback or hangup[:SOUND]",
            "callControl.queues[0].overflow[1].attempts: is required for noAnswer and must be at least 1",
            "callControl.queues[0].overflow[1].target: queue 'backup' is not configured in callControl.queues",
        ], problems);
    }

    [Fact]
    public void Parse_CustomerLookupSource_DatabaseNeedsNoUrl_AnUnknownSourceOrAUrlWithDatabaseIsAProblem()
    {
        var settings = SettingsLoader.Parse(Config("""{ "queues": [ { "name": "support" } ], "customerLookup": { "source": "database" } }"""), "ctibridge.json", new Hashtable());
        Assert.Equal("database", settings.CallControl.CustomerLookup!.Source);
        Assert.Equal([
            "callControl.customerLookup.source: 'databse' is not a lookup source; write \"http\" (the url) or \"database\" (the customers table); did you mean 'database'?",
        ], Problems("""{ "queues": [ { "name": "support" } ], "customerLookup": { "source": "databse" } }"""));
        Assert.Equal([
            "callControl.customerLookup.url: is for source \"http\"; with source \"database\" the customers table is read (remove the url, or set source to \"http\")",
        ], Problems("""{ "queues": [ { "name": "support" } ], "customerLookup": { "source": "database", "url": "https://crm/x?n={callerNumber}" } }"""));
    }
}
