using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CtiBridge.Data.Access;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Hosting;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Resilience.Tests;

/// <summary>
/// High availability from an agent's desktop: a request for call control sent to the standby
/// instance (the load balancer's health check not yet caught up, or a client with a fixed address)
/// is refused at once with 503 and Retry-After, saying why, instead of waiting for a call-control
/// loop that does not run there; the same request to the active instance is served.
/// </summary>
[Trait("Tier", "Faults")]
public sealed class StandbyTests
{
    [Fact]
    public async Task AgentRequestsToTheStandby_AreRefusedAtOnceWith503_TheActiveServesThem()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var database = await PostgresServer.CreateMigratedDatabaseAsync(ct);
        await using var rig = await CallTraffic.StartAsync(database, 2, ct, configure: c => c.HighAvailability = true);
        Assert.True(rig.Services.GetRequiredService<CallControlRole>().IsActive);

        // The standby: the same configuration, a journal of its own; it waits for the lease.
        rig.Settings.CallControl.RecordJournalDirectory = Path.Combine(Path.GetTempPath(), "ctibridge-standby", Guid.NewGuid().ToString("N"));
        await using var standby = CtiBridgeHost.Build(rig.Settings);
        await standby.StartAsync(ct);
        try
        {
            Assert.False(standby.Services.GetRequiredService<CallControlRole>().IsActive);
            var token = (await new ApiKeyStore(database.DataSource, TimeProvider.System).CreateAsync("standby-test", ApiRole.Supervisor, null, "test", ct)).Token;
            using var toStandby = Client(standby.Services, token);
            using var toActive = Client(rig.Services, token);

            foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
                     {
                         (HttpMethod.Get, "/api/agents/2001", null),
                         (HttpMethod.Post, "/api/agents/2001/pause", new { reason = "break" }),
                         (HttpMethod.Get, "/api/queues", null),
                     })
            {
                var watch = Stopwatch.StartNew();
                using var refused = await toStandby.SendAsync(new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) }, ct);
                watch.Stop();
                var problem = await refused.Content.ReadFromJsonAsync<JsonElement>(ct);
                Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{method} {path} on the standby: {(int)refused.StatusCode} {problem}");
                Assert.Contains("standby", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
                Assert.NotNull(refused.Headers.RetryAfter);

                // Refused, not left waiting: well under the client's patience (the old behaviour waited until the client gave up).
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"{method} {path} on the standby took {watch.Elapsed.TotalSeconds:0.0} s");

                using var served = await toActive.SendAsync(new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) }, ct);
                Assert.True(served.StatusCode == HttpStatusCode.OK, $"{method} {path} on the active instance: {(int)served.StatusCode} {await served.Content.ReadAsStringAsync(ct)}");
            }
        }
        finally
        {
            await standby.StopAsync(CancellationToken.None);
        }
    }

    private static HttpClient Client(IServiceProvider services, string token)
    {
        var address = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var client = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
