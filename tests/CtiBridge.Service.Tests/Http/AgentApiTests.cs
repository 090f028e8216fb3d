using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Data.Access;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Http;

/// <summary>Agents driven over HTTP, against the real call control, PbxSim and PostgreSQL.</summary>
public sealed class AgentApiTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AgentKey_LogsInPausesResumesAndLogsOutItself_EachStepAudited()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, HttpApi.SupportQueue(), [("2001", "1001")], Ct);
        using var http = await HttpApi.ClientAsync(rig, ApiRole.Agent, Ct, "2001");

        var before = await http.GetFromJsonAsync<JsonElement>("/api/agents/2001", Ct);
        var login = await http.PostAsJsonAsync("/api/agents/2001/login", new { pin = CallCenterRig.Pin }, Ct);
        var pause = await http.PostAsJsonAsync("/api/agents/2001/pause", new { reason = "break" }, Ct);
        var paused = await pause.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var resume = await http.PostAsync("/api/agents/2001/resume", null, Ct);
        var logout = await http.PostAsync("/api/agents/2001/logout", null, Ct);

        Assert.Equal("LoggedOut", before.GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Equal("Ready", (await login.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("state").GetString());
        Assert.Equal("Paused", paused.GetProperty("state").GetString());
        Assert.Equal("break", paused.GetProperty("pauseReason").GetString());
        Assert.Equal("Ready", (await resume.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.OK, logout.StatusCode);
        var audited = await database.Database.ScalarAsync<string>(
            "SELECT string_agg(action || ' ' || outcome || ' ' || target, ' | ' ORDER BY id) FROM audit_log WHERE target = '2001' AND role = 'agent'", Ct);
        Assert.Equal("POST /api/agents/2001/login 200 2001 | POST /api/agents/2001/pause 200 2001 | POST /api/agents/2001/resume 200 2001 | POST /api/agents/2001/logout 200 2001", audited);
        Assert.DoesNotContain(CallCenterRig.Pin, await database.Database.ScalarAsync<string>("SELECT coalesce(string_agg(coalesce(detail::text, ''), ''), '') FROM audit_log", Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentKey_OtherAgent_Forbidden_SupervisorMayActForAny()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, HttpApi.SupportQueue(), [("2001", "1001"), ("2002", "1002")], Ct);
        using var agent = await HttpApi.ClientAsync(rig, ApiRole.Agent, Ct, "2001");
        using var supervisor = await HttpApi.ClientAsync(rig, ApiRole.Supervisor, Ct);
        using var reporting = await HttpApi.ClientAsync(rig, ApiRole.Reporting, Ct);

        var other = await agent.PostAsJsonAsync("/api/agents/2002/login", new { pin = CallCenterRig.Pin }, Ct);
        var bySupervisor = await supervisor.PostAsJsonAsync("/api/agents/2002/login", new { pin = CallCenterRig.Pin }, Ct);
        var byReporting = await reporting.GetAsync("/api/agents/2002", Ct);

        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bySupervisor.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, byReporting.StatusCode);
    }

    [Fact]
    public async Task Refusals_AreProblemsNamingTheReason()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, HttpApi.SupportQueue(), [("2001", "1001")], Ct);
        using var http = await HttpApi.ClientAsync(rig, ApiRole.Supervisor, Ct);

        var wrongPin = await http.PostAsJsonAsync("/api/agents/2001/login", new { pin = "0000" }, Ct);
        var noPin = await http.PostAsJsonAsync("/api/agents/2001/login", new { }, Ct);
        var unknown = await http.GetAsync("/api/agents/9999", Ct);
        var pauseWithoutReason = await http.PostAsJsonAsync("/api/agents/2001/pause", new { }, Ct);

        Assert.Equal(HttpStatusCode.Conflict, wrongPin.StatusCode);
        var detail = (await wrongPin.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("detail").GetString();
        Assert.False(string.IsNullOrEmpty(detail));
        Assert.DoesNotContain("0000", detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, noPin.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("9999", (await unknown.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, pauseWithoutReason.StatusCode);
    }

    [Fact]
    public async Task Queues_AfterOneAnsweredCall_ShowTodaysFiguresAndLiveAgents()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, HttpApi.SupportQueue(), [("2001", "1001")], Ct);
        using var reporting = await HttpApi.ClientAsync(rig, ApiRole.Reporting, Ct);
        using var agent = await HttpApi.ClientAsync(rig, ApiRole.Agent, Ct, "2001");
        await rig.LoginAsync("2001", Ct);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(200));

        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        await rig.AgentWentAsync("2001", CtiBridge.Core.Acd.AgentState.Ringing, CtiBridge.Core.Acd.AgentState.OnCall, Ct);
        var during = await reporting.GetFromJsonAsync<JsonElement>("/api/queues", Ct);
        rig.Trunk.HangUp(caller);
        await rig.AgentWentAsync("2001", CtiBridge.Core.Acd.AgentState.WrapUp, CtiBridge.Core.Acd.AgentState.Ready, Ct);
        var after = (await reporting.GetFromJsonAsync<JsonElement>("/api/queues", Ct))[0];
        var forAgent = await agent.GetAsync("/api/queues", Ct);

        Assert.Equal(1, during[0].GetProperty("agentsLoggedIn").GetInt32());
        Assert.Equal(0, during[0].GetProperty("agentsReady").GetInt32());
        Assert.Equal("support", after.GetProperty("queue").GetString());
        Assert.Equal(1, after.GetProperty("offered").GetInt32());
        Assert.Equal(1, after.GetProperty("answered").GetInt32());
        Assert.Equal(1.0, after.GetProperty("serviceLevel").GetDouble());
        Assert.Equal(1, after.GetProperty("agentsReady").GetInt32());
        Assert.True(after.GetProperty("averageHandleTimeSeconds").GetDouble() > 0);
        Assert.Equal(3, after.GetProperty("definitionsVersion").GetInt32());
        Assert.Equal(HttpStatusCode.Forbidden, forAgent.StatusCode);
    }
}
