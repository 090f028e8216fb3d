using System.Text.Json;
using CtiBridge.Service.AsteriskSetup;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Cli;
using CtiBridge.Service.Configuration;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.AsteriskSetup;

/// <summary>
/// ctibridge import asterisk-queues on two hand-written app_queue sites (AppQueueSites/) that
/// together use every setting app_queue documents: what is carried over, and a note naming file,
/// line and reason for everything else.
/// </summary>
public sealed class AppQueueImportTests
{
    private static readonly JsonSerializerOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    private static readonly string Sites = Path.Combine(RepositoryPaths.Root, "tests", "CtiBridge.Service.Tests", "AsteriskSetup", "AppQueueSites");

    private static AsteriskConfigFile Site(string name) => AsteriskConfigFile.Load(Path.Combine(Sites, name));

    private static AppQueueImportResult Helpdesk() => AppQueueImport.Import(Site("helpdesk-queues.conf"));

    private static AppQueueImportResult Legacy() => AppQueueImport.Import(Site("legacy-queues.conf"), Site("legacy-agents.conf"));

    private static List<ImportNote> NotesAbout(AppQueueImportResult result, string section, string settingStart) =>
        result.Notes.Where(n => n.Section == section && n.Setting.StartsWith(settingStart, StringComparison.Ordinal)).ToList();

    [Fact]
    public void Helpdesk_QueuesTakeTheirOwnAndTheTemplatesSettings()
    {
        var result = Helpdesk();

        Assert.Equal(["support", "sales"], result.Queues.Select(q => q.Name));
        var support = result.Queues[0];
        Assert.Equal(("leastrecent", 20, 5, 15, "default"), (support.Strategy, support.RingTimeout.TotalSeconds, support.RetryAfterNoAnswer.TotalSeconds, support.WrapUp.TotalSeconds, support.MusicOnHold));
        var sales = result.Queues[1];
        Assert.Equal(("ringall", 15, 5, 30, "sales"), (sales.Strategy, sales.RingTimeout.TotalSeconds, sales.RetryAfterNoAnswer.TotalSeconds, sales.WrapUp.TotalSeconds, sales.MusicOnHold));
    }

    [Fact]
    public void Helpdesk_EachMemberInterfaceIsOneAgentInEveryQueueItServes()
    {
        var agents = Helpdesk().Agents;

        Assert.Equal(
            ["1001 Ann Lee PJSIP/1001 support", "1002 Bob Kim PJSIP/1002 support,sales", "1003  PJSIP/1003 support", "1004 Cy Doe PJSIP/1004 sales"],
            agents.Select(a => $"{a.Id} {a.Name} {a.Extension} {string.Join(',', a.Queues)}"));
    }

    [Fact]
    public void Helpdesk_MemberFieldsNotCarriedOver_AreNamedOnTheirLine()
    {
        var result = Helpdesk();

        Assert.Empty(NotesAbout(result, "support", "member => PJSIP/1002"));
        Assert.Equal(["ringinuse no", "paused"], NotesAbout(result, "support", "member => PJSIP/1003").Select(n => n.Reason.Split(':')[0]));
        var cy = NotesAbout(result, "sales", "member => PJSIP/1004").Select(n => n.Reason.Split(':')[0]).ToList();
        Assert.Equal(["state interface Custom", "ringinuse yes", "member wrapuptime 10"], cy);
        Assert.All(NotesAbout(result, "sales", "member => PJSIP/1004"), n => Assert.Equal(53, n.Line));
        Assert.Empty(NotesAbout(result, "support", "member => PJSIP/1001"));
    }

    [Fact]
    public void Helpdesk_WeightMaxlenJoinAndLeaveEmptyAndPenalties_AreCarriedOver()
    {
        var result = Helpdesk();

        var (support, sales) = (result.Queues[0], result.Queues[1]);
        // joinempty/leavewhenempty come from the template; weight and maxlen are the queue's own where it has them.
        Assert.Equal((1d, 0, "noAgentsLoggedIn", "noAgentsLoggedIn"), (support.Weight, support.MaxWaiting, support.RefuseJoinWhen, support.LeaveWhen));
        Assert.Equal((3d, 20, "noAgentsLoggedIn", "noAgentsLoggedIn"), (sales.Weight, sales.MaxWaiting, sales.RefuseJoinWhen, sales.LeaveWhen));
        Assert.Equal(new Dictionary<string, int> { ["support"] = 1 }, result.Agents.Single(a => a.Id == "1002").Penalties);
        Assert.Equal(new Dictionary<string, int> { ["sales"] = 2 }, result.Agents.Single(a => a.Id == "1004").Penalties);
        Assert.Empty(result.Agents.Single(a => a.Id == "1001").Penalties);   // penalty 0 is the default

        // Only the weight's different meaning is noted (sales, weight 2 on line 50); app_queue's 0 is CtiBridge's 1.
        var changed = Assert.Single(result.Notes, n => n.Kind == ImportNoteKind.Changed);
        Assert.Equal(("sales", 50, "weight = 2"), (changed.Section, changed.Line, changed.Setting));
        Assert.StartsWith("helpdesk-queues.conf:50: [sales] weight = 2: carried over differently: weight 3:", changed.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(result.Notes, n => n.Setting.StartsWith("joinempty", StringComparison.Ordinal) || n.Setting.StartsWith("maxlen", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Notes, n => n.Kind == ImportNoteKind.Error);
    }

    [Theory]
    [InlineData("yes", null, "")]
    [InlineData("no", "noAgentsServing", "penalty")]
    [InlineData("strict", "noAgentsServing", "penalty")]
    [InlineData("loose", "noAgentsLoggedIn", "penalty")]
    [InlineData("unavailable,invalid,unknown", "noAgentsLoggedIn", "")]
    [InlineData("paused, inuse, ringing, wrapup", "noAgentsServing", "inuse, ringing, wrapup")]
    [InlineData("inuse", null, "inuse")]
    public void JoinEmpty_AppQueueWordsAndLists_MapToCtiBridgesConditions(string value, string? expected, string ignored)
    {
        var result = AppQueueImport.Import(AsteriskConfigFile.Parse($"[q]\njoinempty = {value}\nleavewhenempty = {value}\n", "queues.conf"));

        var queue = Assert.Single(result.Queues);
        Assert.Equal((expected, expected), (queue.RefuseJoinWhen, queue.LeaveWhen));
        var notes = result.Notes.Where(n => n.Kind == ImportNoteKind.Changed).ToList();
        if (ignored.Length == 0)
        {
            Assert.Empty(notes);
        }
        else
        {
            Assert.Equal(2, notes.Count);
            Assert.All(notes, n => Assert.EndsWith($"{ignored} {(ignored.Contains(',', StringComparison.Ordinal) ? "are" : "is")} not taken into account", n.Reason, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void BadWeightMaxlenJoinEmptyAndPenalty_AreErrorsOnTheirLines_AndKeepTheDefaults()
    {
        var result = AppQueueImport.Import(AsteriskConfigFile.Parse(
            "[q]\nweight = heavy\nmaxlen = -1\njoinempty = paused,busy\nmember => PJSIP/1001,high\nmember => PJSIP/1002,-2\n", "queues.conf"));

        var queue = Assert.Single(result.Queues);
        Assert.Equal((1d, 0, (string?)null), (queue.Weight, queue.MaxWaiting, queue.RefuseJoinWhen));
        Assert.All(result.Agents, a => Assert.Empty(a.Penalties));
        Assert.Equal(
        [
            "queues.conf:2: [q] weight = heavy: error: 'heavy' is not a whole number ≥ 0; kept weight 1",
            "queues.conf:3: [q] maxlen = -1: error: '-1' is not a whole number ≥ 0 (0 = no limit); kept maxWaiting 0",
            "queues.conf:4: [q] joinempty = paused,busy: error: 'busy' is not a joinempty condition (yes, no, strict, loose, or a list of paused, penalty, inuse, ringing, unavailable, invalid, unknown, wrapup); callers always join",
            "queues.conf:5: [q] member => PJSIP/1001,high: error: penalty 'high' is not a whole number ≥ 0; the agent is in 'q' with penalty 0",
            "queues.conf:6: [q] member => PJSIP/1002,-2: error: penalty '-2' is not a whole number ≥ 0; the agent is in 'q' with penalty 0",
        ], result.Notes.Where(n => n.Kind == ImportNoteKind.Error).Select(n => n.ToString()));
    }

    [Fact]
    public void Helpdesk_ImportedSettings_ReachTheAcdCoresConfiguration()
    {
        var json = ImportAsteriskQueuesCommand.ToJson(Helpdesk());
        var settings = JsonDocument.Parse(json).RootElement.GetProperty("callControl").Deserialize<CallControlSettings>(CaseInsensitive)!;

        var acd = CallControlConfiguration.ToAcdConfiguration(settings);

        var sales = acd.Queues.Single(q => q.Name == "sales");
        Assert.Equal((3d, 20, Core.Acd.EmptyQueueCondition.NoAgentsLoggedIn, Core.Acd.EmptyQueueCondition.NoAgentsLoggedIn),
            (sales.Weight, sales.MaxWaiting, sales.RefuseJoinWhen, sales.LeaveWhen));
        Assert.Equal([new Core.Acd.QueueMembership("support", 1), new Core.Acd.QueueMembership("sales", 0)], acd.Agents.Single(a => a.AgentId == "1002").Queues);
        Assert.Equal([new Core.Acd.QueueMembership("sales", 2)], acd.Agents.Single(a => a.AgentId == "1004").Queues);
    }

    [Fact]
    public void Helpdesk_Json_IsACallControlSectionThatOnlyLacksPinHashes()
    {
        var json = ImportAsteriskQueuesCommand.ToJson(Helpdesk());

        var settings = JsonDocument.Parse(json).RootElement.GetProperty("callControl").Deserialize<CallControlSettings>(CaseInsensitive)!;
        var problems = new List<SettingsProblem>();
        CallControlConfiguration.Validate(settings, problems);

        Assert.Equal(2, settings.Queues.Count);
        Assert.Equal(TimeSpan.FromSeconds(20), settings.Queues[0].RingTimeout);
        Assert.Equal(4, settings.Agents.Count);
        Assert.Equal(["callControl.agents[0].pinHash", "callControl.agents[1].pinHash", "callControl.agents[2].pinHash", "callControl.agents[3].pinHash"], problems.Select(p => p.Path));
    }

    [Fact]
    public void Legacy_StrategiesMapByAppQueueName_RoundrobinBecomesRrmemory()
    {
        var strategies = Legacy().Queues.ToDictionary(q => q.Name, q => q.Strategy);

        Assert.Equal("fewestcalls", strategies["billing"]);
        Assert.Equal("random", strategies["collections"]);
        Assert.Equal("rrordered", strategies["escalation"]);
        Assert.Equal("linear", strategies["priority"]);
        Assert.Equal("wrandom", strategies["vip"]);
        Assert.Equal("rrmemory", strategies["old"]);
    }

    [Fact]
    public void Legacy_AgentPoolMembers_GetTheirAgentsConfNames_AndANoteToSetTheirPhone()
    {
        var result = Legacy();

        var eve = Assert.Single(result.Agents, a => a.Id == "2001");
        Assert.Equal(("Eve Park", ""), (eve.Name, eve.Extension));
        Assert.Equal("Finn Ray", Assert.Single(result.Agents, a => a.Id == "2002").Name);
        Assert.Contains("set callControl.agents[] id '2001' extension", Assert.Single(NotesAbout(result, "billing", "member => Agent/2001")).Reason, StringComparison.Ordinal);
        Assert.Contains(result.Notes, n => n.File == "legacy-agents.conf" && n.Section == "2002" && n.Setting == "recordagentcalls = yes");
        Assert.Contains(result.Notes, n => n.File == "legacy-agents.conf" && n.Section == "2001" && n.Setting == "autologoff = 15" && n.Line == 6);
    }

    [Fact]
    public void Legacy_LocalAndDuplicateResources_BecomeDistinctAgents()
    {
        var agents = Legacy().Agents;

        Assert.Equal("Local/1005@agents-phones/n", Assert.Single(agents, a => a.Id == "1005").Extension);
        Assert.Equal("SIP/1001", Assert.Single(agents, a => a.Id == "1001").Extension);
    }

    [Fact]
    public void Legacy_ZeroTimeout_KeepsTheDefaultAndSaysWhy()
    {
        var result = Legacy();

        Assert.Equal(TimeSpan.FromSeconds(15), result.Queues.Single(q => q.Name == "billing").RingTimeout);
        Assert.Contains("needs a ring timeout", Assert.Single(NotesAbout(result, "billing", "timeout = 0")).Reason, StringComparison.Ordinal);
        Assert.Equal("billing", result.Queues.Single(q => q.Name == "billing").MusicOnHold);
        // autopausebusy = yes: a busy phone counts toward auto-pause there (not by default, as in Asterisk).
        Assert.True(result.Queues.Single(q => q.Name == "billing").AutoPauseBusy);
        Assert.DoesNotContain(result.Queues, q => q.Name != "billing" && q.AutoPauseBusy);
    }

    [Fact]
    public void Legacy_Mistakes_AreErrorsOnTheirLinesWithASuggestion()
    {
        var errors = Legacy().Notes.Where(n => n.Kind == ImportNoteKind.Error).Select(n => n.ToString()).ToList();

        Assert.Equal(4, errors.Count);
        Assert.StartsWith("legacy-queues.conf:73: [mistakes] strategy = leastrecnet: error: 'leastrecnet' is not an app_queue strategy CtiBridge knows (", errors[0], StringComparison.Ordinal);
        Assert.EndsWith("did you mean 'leastrecent'?; kept 'leastrecent'", errors[0], StringComparison.Ordinal);
        Assert.Equal("legacy-queues.conf:74: [mistakes] timout = 20: error: not an app_queue setting; did you mean 'timeout'?", errors[1]);
        Assert.Equal("legacy-queues.conf:75: [mistakes] wrapuptime = soon: error: 'soon' is not a number of seconds; kept 30 s", errors[2]);
        Assert.Equal("legacy-queues.conf:76: [mistakes] member => 1009: error: '1009' is not an interface such as PJSIP/1001; member not imported", errors[3]);
    }

    [Fact]
    public void BothSites_TogetherUseEverySettingTheImportKnows_AndNoneIsSilentlyDropped()
    {
        var lines = new[] { "helpdesk-queues.conf", "legacy-queues.conf" }
            .SelectMany(f => Site(f).Sections.SelectMany(s => s.Entries)).Select(e => e.Key.ToLowerInvariant()).ToHashSet();

        Assert.DoesNotContain(AppQueueImport.KnownQueueSettings, k => !lines.Contains(k));
        Assert.DoesNotContain(AppQueueImport.KnownGeneralSettings, k => !lines.Contains(k));

        // Every line of the sites is either carried over or has a note (members and the carried settings may have none).
        foreach (var (file, result) in new[] { ("helpdesk-queues.conf", Helpdesk()), ("legacy-queues.conf", Legacy()) })
        {
            var carried = new HashSet<string> { "strategy", "timeout", "retry", "wrapuptime", "musicclass", "musiconhold", "member", "weight", "maxlen", "joinempty", "leavewhenempty", "autopausebusy" };
            var silent = Site(file).Sections.SelectMany(s => s.Entries)
                .Where(e => !carried.Contains(e.Key.ToLowerInvariant()) && !result.Notes.Any(n => n.File == file && n.Line == e.Line))
                .Select(e => $"{e.Line}: {e.Key}").ToList();
            Assert.Empty(silent);
        }
    }

    [Fact]
    public async Task Command_WritesJsonAndNotes_ExitsOneOnErrors_ZeroWithoutThem()
    {
        var ct = TestContext.Current.CancellationToken;
        var output = new StringWriter();
        var error = new StringWriter();
        var helpdesk = await ImportAsteriskQueuesCommand.RunAsync(Path.Combine(Sites, "helpdesk-queues.conf"), null, null, output, error, ct);
        var legacyOut = Path.GetTempFileName();
        var legacyError = new StringWriter();
        try
        {
            var legacy = await ImportAsteriskQueuesCommand.RunAsync(Path.Combine(Sites, "legacy-queues.conf"), Path.Combine(Sites, "legacy-agents.conf"), legacyOut, new StringWriter(), legacyError, ct);

            Assert.Equal(0, helpdesk);
            Assert.StartsWith("{", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("2 queue(s) and 4 agent(s) imported", error.ToString(), StringComparison.Ordinal);
            Assert.Equal(1, legacy);
            Assert.Contains("\"callControl\"", await File.ReadAllTextAsync(legacyOut, ct), StringComparison.Ordinal);
            Assert.Contains("4 error(s)", legacyError.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(legacyOut);
        }
    }

    [Fact]
    public async Task Command_MissingOrMalformedFile_ExitsTwoNamingIt()
    {
        var ct = TestContext.Current.CancellationToken;
        var missing = new StringWriter();
        var malformed = Path.GetTempFileName();
        await File.WriteAllTextAsync(malformed, "[support]\nstrategy leastrecent\n", ct);
        var bad = new StringWriter();
        try
        {
            Assert.Equal(2, await ImportAsteriskQueuesCommand.RunAsync("/nonexistent/queues.conf", null, null, new StringWriter(), missing, ct));
            Assert.Equal(2, await ImportAsteriskQueuesCommand.RunAsync(malformed, null, null, new StringWriter(), bad, ct));
        }
        finally
        {
            File.Delete(malformed);
        }

        Assert.Contains("/nonexistent/queues.conf", missing.ToString(), StringComparison.Ordinal);
        Assert.Contains($"{Path.GetFileName(malformed)}:2: expected 'key = value'", bad.ToString(), StringComparison.Ordinal);
    }
}
