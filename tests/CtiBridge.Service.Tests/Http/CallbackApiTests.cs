using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Data.Access;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Http;

/// <summary><c>/api/callbacks</c> against the real host (callbacks + call control) and PostgreSQL: roles, validation, the history.</summary>
public sealed class CallbackApiTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SupervisorAndAgent_CreateListRescheduleCancel_AgentsSeeOnlyTheirOwn_BadInputNamed()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, HttpApi.SupportQueue(), [("2001", "1001"), ("2002", "1002")], Ct);
        using var supervisor = await HttpApi.ClientAsync(rig, ApiRole.Supervisor, Ct);
        using var agent = await HttpApi.ClientAsync(rig, ApiRole.Agent, Ct, "2001");
        using var reporting = await HttpApi.ClientAsync(rig, ApiRole.Reporting, Ct);
        var tomorrow = DateTimeOffset.UtcNow.AddDays(1);

        var queueOwned = await supervisor.PostAsJsonAsync("/api/callbacks", new { number = "13900000001", queue = "support", dueAt = tomorrow, reason = "bill question", customerName = "Wu" }, Ct);
        var merged = await supervisor.PostAsJsonAsync("/api/callbacks", new { number = "13900000001", queue = "support", dueAt = tomorrow.AddHours(-1) }, Ct);
        var own = await agent.PostAsJsonAsync("/api/callbacks", new { number = "13900000002", queue = "support", dueAt = tomorrow, ownerAgentId = "2001", mode = "customer_first" }, Ct);
        var forOther = await agent.PostAsJsonAsync("/api/callbacks", new { number = "13900000003", queue = "support", dueAt = tomorrow, ownerAgentId = "2002" }, Ct);
        var badNumber = await supervisor.PostAsJsonAsync("/api/callbacks", new { number = "call-me", queue = "support", dueAt = tomorrow }, Ct);
        var badQueue = await supervisor.PostAsJsonAsync("/api/callbacks", new { number = "13900000004", queue = "slaes", dueAt = tomorrow }, Ct);
        var noDue = await supervisor.PostAsJsonAsync("/api/callbacks", new { number = "13900000004", queue = "support" }, Ct);
        var forbidden = await reporting.GetAsync("/api/callbacks", Ct);

        Assert.Equal(HttpStatusCode.Created, queueOwned.StatusCode);
        var first = (await queueOwned.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("callback");
        var id = first.GetProperty("id").GetString()!;
        Assert.Equal("scheduled", first.GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.OK, merged.StatusCode);
        var mergedBody = await merged.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.True(mergedBody.GetProperty("merged").GetBoolean());
        Assert.Equal(id, mergedBody.GetProperty("callback").GetProperty("id").GetString());
        Assert.Equal(2, mergedBody.GetProperty("callback").GetProperty("mergedRequests").GetInt32());
        Assert.Equal(HttpStatusCode.Created, own.StatusCode);
        var ownId = (await own.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("callback").GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, forOther.StatusCode);
        Assert.Contains("ownerAgentId", await forOther.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badNumber.StatusCode);
        Assert.Contains("Number 'call-me' is not a dialable number", await badNumber.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badQueue.StatusCode);
        Assert.Contains("Queue 'slaes' is not configured", await badQueue.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, noDue.StatusCode);
        Assert.Contains("dueAt", await noDue.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        // Supervisors see both; the agent only its own, and not the queue's by id.
        var all = await supervisor.GetFromJsonAsync<JsonElement>("/api/callbacks?state=open", Ct);
        Assert.Equal(2, all.GetArrayLength());
        var mine = await agent.GetFromJsonAsync<JsonElement>("/api/callbacks", Ct);
        Assert.Equal(ownId, Assert.Single(mine.EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal("customer_first", mine[0].GetProperty("mode").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await agent.GetAsync($"/api/callbacks/{id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await supervisor.GetAsync("/api/callbacks?state=sleeping", Ct)).StatusCode);

        // Reschedule, cancel, cancel again; the history has each step with its actor.
        var later = tomorrow.AddDays(1);
        var moved = await supervisor.PostAsJsonAsync($"/api/callbacks/{id}/reschedule", new { dueAt = later }, Ct);
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal(later.ToUnixTimeSeconds(), (await moved.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("dueAt").GetDateTimeOffset().ToUnixTimeSeconds());
        var cancelled = await supervisor.PostAsJsonAsync($"/api/callbacks/{id}/cancel", new { reason = "customer wrote in" }, Ct);
        Assert.Equal("cancelled", (await cancelled.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await supervisor.PostAsJsonAsync($"/api/callbacks/{id}/cancel", new { reason = "again" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await supervisor.PostAsJsonAsync($"/api/callbacks/{id}/reschedule", new { dueAt = later }, Ct)).StatusCode);
        var history = await supervisor.GetFromJsonAsync<JsonElement>($"/api/callbacks/{id}/history", Ct);
        var steps = history.EnumerateArray().Select(h => $"{h.GetProperty("kind").GetString()}:{h.GetProperty("to").GetString()}").ToList();
        Assert.Equal("rescheduled:scheduled", steps[^2]);
        Assert.Equal("transition:cancelled", steps[^1]);
        Assert.StartsWith("api:", history[history.GetArrayLength() - 1].GetProperty("actor").GetString(), StringComparison.Ordinal);
        Assert.Equal("agent:2001", await database.Database.ScalarAsync<string>($"SELECT actor FROM callback_events WHERE callback_id = '{ownId}' ORDER BY seq LIMIT 1", Ct));
    }
}
