using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Live;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Live;

/// <summary>
/// Webhooks against a receiver on loopback that checks every signature: retries with backoff,
/// order per call, dead letters in PostgreSQL listed over the API and replayed.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class WebhookTests(MigratedDatabaseFixture database) : IClassFixture<MigratedDatabaseFixture>
{
    private const string Secret = "webhook-test-secret-0123456789";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static CallQueueSettings Queue() => new()
    {
        Name = "support", Strategy = "leastrecent", RingTimeout = TimeSpan.FromSeconds(5), WrapUp = TimeSpan.FromSeconds(0.5), MusicOnHold = "default",
    };

    [Fact]
    public async Task Webhook_SignedDeliveriesInOrderPerCall_FailedAttemptsRetriedWithTheSameDeliveryId()
    {
        await using var receiver = await Receiver.StartAsync(failFirst: 2);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct, configureService: s => s.Webhooks =
        [
            new WebhookSettings { Name = "crm", Url = receiver.Url, Secret = Secret, Events = ["call.enqueued", "call.answered", "call.completed", "call.ended"], RetryDelay = TimeSpan.FromMilliseconds(50), MaxAttempts = 5 },
        ]);
        rig.Pbx.Phone("1001").AnswersAfter(TimeSpan.FromMilliseconds(100));
        await rig.LoginAsync("2001", Ct);

        var caller = rig.Trunk.CallIn("4008001", "5551234", "Jane Customer");
        await rig.AgentWentAsync("2001", Core.Acd.AgentState.Ringing, Core.Acd.AgentState.OnCall, Ct);
        rig.Trunk.HangUp(caller);
        await receiver.WaitForAsync(r => r.Accepted && r.Event == "call.ended", Ct);

        var requests = receiver.Requests.ToList();
        Assert.All(requests, r => Assert.True(r.SignatureValid, $"bad signature on {r.Event} attempt {r.Attempt}"));
        var accepted = requests.Where(r => r.Accepted).ToList();
        Assert.Equal(["call.enqueued", "call.answered", "call.completed", "call.ended"], accepted.Select(r => r.Event));
        Assert.Single(accepted.Select(r => r.Body.GetProperty("callId").GetString()).Distinct());
        var first = requests.Where(r => r.Event == "call.enqueued").ToList();
        Assert.Equal([1, 2, 3], first.Select(r => r.Attempt));
        Assert.Single(first.Select(r => r.DeliveryId).Distinct());
        Assert.Equal(4, accepted.Select(r => r.DeliveryId).Distinct().Count());
    }

    [Fact]
    public async Task Webhook_ReceiverDown_EventDeadLetteredListedOverTheApiAndReplayedOnceItIsBack()
    {
        await using var receiver = await Receiver.StartAsync(failFirst: int.MaxValue);
        await using var rig = await CallCenterRig.StartAsync(database.Database, Queue(), [("2001", "1001")], Ct, configureService: s => s.Webhooks =
        [
            new WebhookSettings { Name = "desk", Url = receiver.Url, Secret = Secret, Events = ["agent.loggedIn"], RetryDelay = TimeSpan.FromMilliseconds(20), MaxAttempts = 2 },
        ]);
        var address = rig.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        using var admin = new HttpClient { BaseAddress = new Uri(address) };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", (await new ApiKeyStore(database.Database.DataSource, TimeProvider.System).CreateAsync($"admin-{Guid.NewGuid():N}"[..20], ApiRole.Admin, null, "test", Ct)).Token);

        await rig.LoginAsync("2001", Ct);
        await receiver.WaitForAsync(r => r.Attempt == 2, Ct);
        JsonElement letters = default;
        for (var attempt = 0; attempt < 100 && (letters.ValueKind != JsonValueKind.Array || letters.GetArrayLength() == 0); attempt++)
        {
            // The dead letter is written right after the last attempt: bounded wait for the row.
            await Task.Delay(50, Ct);
            letters = await admin.GetFromJsonAsync<JsonElement>("/api/webhooks/dead-letters?webhook=desk", Ct);
        }

        var letter = letters[0];
        var id = letter.GetProperty("id").GetInt64();
        var refused = await admin.PostAsync($"/api/webhooks/dead-letters/{id}/replay", null, Ct);
        receiver.FailFirst = 0;
        var replay = await admin.PostAsync($"/api/webhooks/dead-letters/{id}/replay", null, Ct);
        var again = await admin.PostAsync($"/api/webhooks/dead-letters/{id}/replay", null, Ct);
        var waiting = await admin.GetFromJsonAsync<JsonElement>("/api/webhooks/dead-letters?webhook=desk", Ct);
        var all = await admin.GetFromJsonAsync<JsonElement>("/api/webhooks/dead-letters?webhook=desk&includeReplayed=true", Ct);

        Assert.Single(letters.EnumerateArray());
        Assert.Equal("agent.loggedIn", letter.GetProperty("eventType").GetString());
        Assert.Equal("2001", letter.GetProperty("agentId").GetString());
        Assert.Equal(2, letter.GetProperty("attempts").GetInt32());
        Assert.Contains("503", letter.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var delivered = receiver.Requests.Last(r => r.Accepted);
        Assert.True(delivered.SignatureValid);
        Assert.Equal(letter.GetProperty("deliveryId").GetString(), delivered.DeliveryId);
        Assert.Equal("2001", delivered.Body.GetProperty("agentId").GetString());
        Assert.Equal(0, waiting.GetArrayLength());
        Assert.False(all[0].GetProperty("replayedAt").ValueKind == JsonValueKind.Null);
        var audited = await database.Database.ScalarAsync<long>($"SELECT count(*) FROM audit_log WHERE action = 'POST /api/webhooks/dead-letters/{id}/replay' AND role = 'admin'", Ct);
        Assert.Equal(3, audited);
    }

    /// <summary>A webhook receiver on loopback: verifies the signature of every request, answers 503 to the first <see cref="FailFirst"/>.</summary>
    internal sealed class Receiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _seen;

        private Receiver(WebApplication app) => _app = app;

        public volatile int FailFirst;

        public ConcurrentQueue<Received> Requests { get; } = new();

        public string Url => _app.Urls.Single() + "/hook";

        public static async Task<Receiver> StartAsync(int failFirst)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var receiver = new Receiver(app) { FailFirst = failFirst };
            app.MapPost("/hook", async (HttpContext context) =>
            {
                using var copy = new MemoryStream();
                await context.Request.Body.CopyToAsync(copy);
                var body = copy.ToArray();
                var timestamp = context.Request.Headers[WebhookDispatcher.TimestampHeader].ToString();
                var valid = context.Request.Headers[WebhookDispatcher.SignatureHeader].ToString() == WebhookDispatcher.Sign(Secret, timestamp, body)
                    && Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - long.Parse(timestamp, System.Globalization.CultureInfo.InvariantCulture)) < 300;
                var accepted = Interlocked.Increment(ref receiver._seen) > receiver.FailFirst;
                using var document = JsonDocument.Parse(body);
                receiver.Add(new Received(
                    context.Request.Headers[WebhookDispatcher.EventHeader].ToString(),
                    int.Parse(context.Request.Headers[WebhookDispatcher.AttemptHeader].ToString(), System.Globalization.CultureInfo.InvariantCulture),
                    context.Request.Headers[WebhookDispatcher.DeliveryHeader].ToString(), valid, accepted, document.RootElement.Clone()));
                return accepted ? Results.NoContent() : Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            });
            await app.StartAsync();
            return receiver;
        }

        public async Task WaitForAsync(Func<Received, bool> match, CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            while (!Requests.Any(match))
            {
                try
                {
                    await _changed.Task.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new TimeoutException($"The receiver did not get the expected request within 15 s; got: {string.Join(" | ", Requests.Select(r => $"{r.Event}#{r.Attempt} {(r.Accepted ? "accepted" : "refused")}"))}");
                }
            }
        }

        private void Add(Received received)
        {
            Requests.Enqueue(received);
            Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    internal sealed record Received(string Event, int Attempt, string DeliveryId, bool SignatureValid, bool Accepted, JsonElement Body);
}
