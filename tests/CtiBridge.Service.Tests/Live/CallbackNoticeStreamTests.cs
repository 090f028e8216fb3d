using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Access;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Live;

/// <summary>
/// Issue 11: a callback's reminder reaches its owner agent's desktop and the supervisors, an overdue callback's
/// escalation the supervisors (and its owner), through the real service's <c>/api/events</c> (PbxSim, PostgreSQL,
/// the callback scheduler's own sweep). Callbacks are created with the HTTP API. Real clock, short sweep.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class CallbackNoticeStreamTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Notices = "types=callback.reminder,callback.escalated";

    private async Task<HttpClient> ClientAsync(CallCenterRig rig, ApiRole role, string? agent = null) => LiveApiTests.Client(rig,
        (await new ApiKeyStore(database.Database.DataSource, TimeProvider.System).CreateAsync($"{role}-{Guid.NewGuid():N}"[..24], role, agent, "test", Ct)).Token);

    private static async Task<Guid> CreateAsync(HttpClient http, object body)
    {
        using var response = await http.PostAsJsonAsync("/api/callbacks", body, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var created = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return created.RootElement.GetProperty("callback").GetProperty("id").GetGuid();
    }

    /// <summary>
    /// Waits (bounded, 60 s) until the sweep has stored the reminder or escalation (<paramref name="column"/>
    /// <c>reminded_at</c> or <c>escalated_at</c>), so the stream's own 15 s wait starts from there.
    /// </summary>
    private async Task SweptAsync(Guid id, string column)
    {
        for (var i = 0; i < 600; i++)
        {
            if (await database.Database.ScalarAsync<long>($"SELECT count(*) FROM callbacks WHERE callback_id = '{id}' AND {column} IS NOT NULL", Ct) == 1)
            {
                return;
            }

            await Task.Delay(100, Ct);
        }

        Assert.Fail($"callback {id} has no {column} after 60 s");
    }

    private static bool Is(JsonElement e, Guid id) => e.GetProperty("callbackId").GetGuid() == id;

    [Fact]
    public async Task ReminderReachesTheOwnersDesktopAndTheSupervisors_EscalationTheSupervisorsAndTheOwner_NoOtherAgent()
    {
        await using var rig = await CallCenterRig.StartAsync(database.Database, new CallQueueSettings { Name = "support", MusicOnHold = "default" },
            [("2001", "1001"), ("2002", "1002")], Ct, configureService: s =>
            {
                s.Callbacks.SweepInterval = TimeSpan.FromSeconds(1);
                s.Callbacks.EscalateAfter = TimeSpan.FromSeconds(2);
            });
        using var owner = await ClientAsync(rig, ApiRole.Agent, "2001");
        using var colleague = await ClientAsync(rig, ApiRole.Agent, "2002");
        using var supervisor = await ClientAsync(rig, ApiRole.Supervisor);
        await using var ownersDesk = await SseClient.ConnectAsync(owner, "/api/events?" + Notices, Ct);
        await using var colleaguesDesk = await SseClient.ConnectAsync(colleague, "/api/events?" + Notices, Ct);
        await using var supervisors = await SseClient.ConnectAsync(supervisor, "/api/events?" + Notices, Ct);

        // Agent 2001 promises a call back in 3 minutes: within callbacks.reminderBefore (5 min), so the next sweep reminds.
        var dueAt = DateTimeOffset.UtcNow.AddMinutes(3);
        var promised = await CreateAsync(owner, new { number = "5553001", queue = "support", dueAt, ownerAgentId = "2001", reason = "promised at three", customerName = "Ann" });
        await SweptAsync(promised, "reminded_at");
        var reminder = await ownersDesk.WaitForAsync("callback.reminder", e => Is(e, promised), Ct);
        await supervisors.WaitForAsync("callback.reminder", e => Is(e, promised), Ct);
        Assert.Equal(("2001", "5553001", "Ann", "support", "scheduled", "promised at three"), (reminder.GetProperty("agentId").GetString(),
            reminder.GetProperty("number").GetString(), reminder.GetProperty("customerName").GetString(), reminder.GetProperty("queue").GetString(),
            reminder.GetProperty("state").GetString(), reminder.GetProperty("reason").GetString()));
        Assert.InRange(reminder.GetProperty("dueAt").GetDateTimeOffset() - dueAt, TimeSpan.FromMilliseconds(-1), TimeSpan.FromMilliseconds(1));

        // Nobody is logged in, so what is due now stays unplaced and is overdue 2 s later: first a callback of the
        // queue (no owner: the supervisors only), then one of agent 2001's (the supervisors and 2001).
        var ofTheQueue = await CreateAsync(supervisor, new { number = "5553002", queue = "support", dueAt = DateTimeOffset.UtcNow });
        await SweptAsync(ofTheQueue, "escalated_at");
        var escalated = await supervisors.WaitForAsync("callback.escalated", e => Is(e, ofTheQueue), Ct);
        Assert.False(escalated.TryGetProperty("agentId", out _));
        Assert.Equal(("due", "open 2 s after due"), (escalated.GetProperty("state").GetString(), escalated.GetProperty("why").GetString()));
        var owners = await CreateAsync(supervisor, new { number = "5553003", queue = "support", dueAt = DateTimeOffset.UtcNow, ownerAgentId = "2001" });
        await SweptAsync(owners, "escalated_at");
        await supervisors.WaitForAsync("callback.escalated", e => Is(e, owners), Ct);
        Assert.Equal("2001", (await ownersDesk.WaitForAsync("callback.escalated", e => Is(e, owners), Ct)).GetProperty("agentId").GetString());

        // A reminder the sweep of another node wrote (any Quartz node may sweep, e.g. a standby) reaches the desktops
        // here too: the stream reads them from the database. It is agent 2002's, so it also closes 2002's check.
        var callbacks = rig.Services.GetRequiredService<CallbackStore>();
        var elsewhere = (await rig.Services.GetRequiredService<Service.Callbacks.CallbackService>().CreateAsync(
            CallbackRequest.AgentScheduled("5553004", "support", DateTimeOffset.UtcNow.AddDays(1), "2002", "tomorrow", "api:test"), Ct)).Callback.Id;
        Assert.NotNull(await callbacks.MoveAsync(elsewhere, [CallbackState.Scheduled], CallbackState.Scheduled,
            new CallbackChange(DateTimeOffset.UtcNow, "due tomorrow", "scheduler:another-node") { Kind = "reminded" }, Ct));
        var colleaguesReminder = await colleaguesDesk.WaitForAsync("callback.reminder", e => Is(e, elsewhere), Ct);
        Assert.Equal("2002", colleaguesReminder.GetProperty("agentId").GetString());

        // Each stream is in the engine's order: 2002's reminder was noted after everything above, so 2002's desktop has
        // seen all it was going to of those (nothing), and 2001's desktop the queue's escalation (nothing) before its own.
        Assert.All(colleaguesDesk.Seen, f => Assert.Equal(elsewhere, f.Data.GetProperty("callbackId").GetGuid()));
        Assert.DoesNotContain(ownersDesk.Seen, f => Is(f.Data, ofTheQueue));
        Assert.Equal(1, ownersDesk.Seen.Count(f => f.Event == "callback.reminder" && Is(f.Data, promised))); // reminded once
    }
}
