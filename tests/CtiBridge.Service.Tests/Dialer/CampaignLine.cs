using System.Net;
using System.Net.Http.Json;
using CtiBridge.Service.CallControl;
using CtiBridge.Service.Tests.CallControl;
using CtiBridge.TestSupport;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// The service with call control and the dialer, and one Progressive campaign from the configuration
/// file (stored at start-up) that an agent can join on a nailed-up line: the set-up the wallboard's
/// campaign tile test and the one-state-at-a-time test share.
/// </summary>
internal static class CampaignLine
{
    /// <summary>
    /// Starts the rig with the dialer on (fast planning and campaign refresh, its journal in
    /// <paramref name="journal"/>) and campaign <paramref name="campaignId"/> on <paramref name="queue"/>'s agents.
    /// </summary>
    public static Task<CallCenterRig> StartAsync(TestDatabase database, CallQueueSettings queue, IReadOnlyList<(string AgentId, string Phone)> agents,
        string campaignId, string journal, CancellationToken ct) =>
        CallCenterRig.StartAsync(database, queue, agents, ct, configureService: s =>
        {
            s.Dialer = new Service.Dialer.DialerSettings { Enabled = true, PlanIntervalSeconds = 0.2, CampaignRefreshSeconds = 0.3, RecordJournalDirectory = journal };
            s.Campaigns = [Core.Dialer.CampaignDefinition.Parse($$"""
                { "id": "{{campaignId}}", "agentGroup": "{{queue.Name}}", "mode": "Progressive", "callerId": "+18005550100",
                  "trunkPrefix": "PJSIP/carrier/", "defaultTimeZone": "America/New_York" }
                """)];
        });

    /// <summary>Sets the file's campaign Running once it is stored (bounded: 15 s).</summary>
    public static async Task RunAsync(TestDatabase database, string campaignId, CancellationToken ct)
    {
        var campaigns = new Data.Dialer.CampaignStore(database.DataSource, TimeProvider.System);
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await campaigns.SetStateAsync(campaignId, Data.Dialer.CampaignState.Running, "test", ct))
        {
            Assert.True(DateTime.UtcNow < until, "the file's campaign was not stored within 15 s");
            await Task.Delay(50, ct);
        }
    }

    /// <summary>
    /// Puts <paramref name="agentId"/> on the campaign's nailed-up line through the API (the dialer may need a
    /// refresh to run the campaign; bounded: 15 s); returns the time just before the request that was accepted.
    /// </summary>
    public static async Task<DateTimeOffset> JoinAsync(HttpClient admin, string campaignId, string agentId, string endpoint, CancellationToken ct)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var asked = DateTimeOffset.UtcNow;
            if ((await admin.PostAsJsonAsync($"/api/campaigns/{campaignId}/agents/{agentId}", new { endpoint }, ct)).StatusCode == HttpStatusCode.Accepted)
            {
                return asked;
            }

            Assert.True(DateTime.UtcNow < until, $"agent {agentId} could not join the campaign within 15 s");
            await Task.Delay(50, ct);
        }
    }
}
