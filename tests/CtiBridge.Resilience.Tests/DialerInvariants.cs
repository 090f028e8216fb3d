using CtiBridge.TestSupport;
using Xunit;

namespace CtiBridge.Resilience.Tests;

/// <summary>The hopper's promises every dialer fault test checks after its fault: one at a time per lead, nobody dialled again.</summary>
internal static class DialerInvariants
{
    /// <summary>
    /// No lead of <paramref name="campaign"/> was dialled while an earlier attempt of it was still up, and nobody who was put
    /// through to an agent was dialled again.
    /// </summary>
    public static async Task AssertNoLeadDialledTwiceAsync(TestDatabase database, string campaign, CancellationToken ct)
    {
        Assert.Equal(0L, await database.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts x JOIN dialer_attempts y
              ON x.lead_id = y.lead_id AND x.attempt_id < y.attempt_id AND y.dialed_at < x.ended_at
            WHERE x.campaign_id = '{campaign}'
            """, ct));
        Assert.Equal(0L, await database.ScalarAsync<long>($"""
            SELECT count(*) FROM dialer_attempts x JOIN dialer_attempts y
              ON x.lead_id = y.lead_id AND x.attempt_id < y.attempt_id
            WHERE x.campaign_id = '{campaign}' AND x.agent_connected_at IS NOT NULL
            """, ct));
    }
}
