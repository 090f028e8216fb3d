using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

/// <summary>
/// Several sites (Asterisk servers): a queue that does not span sites offers a call only to agents
/// of the caller's site, from both sides (the call arriving, an agent becoming ready); a spanning
/// queue offers it to any site; agents and calls without a site (one-site deployments) are not restricted.
/// </summary>
public sealed class SiteRoutingTests
{
    private static AgentProfile At(AgentProfile agent, string? site) => agent with { Site = site };

    private static CallerData From(string site, string number = "5550100") => new() { CallerNumber = number, Site = site };

    [Fact]
    public void LocalQueue_CallFromSiteA_SkipsTheLongerIdleAgentOfSiteB_AndSaysWhy()
    {
        var h = new AcdHarness([Queue("q")], [At(Agent("b1", "q"), "site-b"), At(Agent("a1", "q"), "site-a")]);
        h.Login("b1", at: 0); // idle longest: leastrecent would pick b1
        h.Login("a1", at: 5);

        h.Arrive("c1", "q", 10, From("site-a"));

        Assert.Equal(["a1"], h.RungFor("c1"));
        var decision = h.Events<RoutingDecision>().Single(d => d.CallId == "c1");
        var skipped = Assert.Single(decision.Candidates, c => c.AgentId == "b1");
        Assert.Equal(SkipReason.OtherSite, skipped.Skip);
        Assert.Contains("site-b", skipped.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void LocalQueue_OnlyAgentsOfTheOtherSiteReady_CallWaits_ThenGoesToTheFirstLocalAgentReady()
    {
        var h = new AcdHarness([Queue("q")], [At(Agent("b1", "q"), "site-b"), At(Agent("a1", "q"), "site-a")]);
        h.Login("b1", at: 0);

        h.Arrive("c1", "q", 1, From("site-a"));
        Assert.Empty(h.RungFor("c1"));

        // A site-b call behind it is served by b1 at once: lines are per site, no head-of-line blocking.
        h.Arrive("c2", "q", 2, From("site-b"));
        Assert.Equal(["b1"], h.RungFor("c2"));

        h.Login("a1", at: 3);
        Assert.Equal(["a1"], h.RungFor("c1"));
    }

    [Fact]
    public void LocalQueue_AgentOfSiteBBecomesReady_TakesTheSiteBCall_NotTheOlderSiteACall()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { WrapUp = TimeSpan.Zero })], [At(Agent("b1", "q"), "site-b")]);
        h.Arrive("old-a", "q", 1, From("site-a"));
        h.Arrive("new-b", "q", 2, From("site-b"));

        h.Login("b1", at: 3);

        Assert.Equal(["b1"], h.RungFor("new-b"));
        Assert.Empty(h.RungFor("old-a"));
    }

    [Fact]
    public void SpanningQueue_CallFromSiteA_GoesToTheLongestIdleAgentOfAnySite()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { SpansSites = true })], [At(Agent("b1", "q"), "site-b"), At(Agent("a1", "q"), "site-a")]);
        h.Login("b1", at: 0);
        h.Login("a1", at: 5);

        h.Arrive("c1", "q", 10, From("site-a"));

        Assert.Equal(["b1"], h.RungFor("c1"));
    }

    [Fact]
    public void TransferFromLocalQueueToSpanningQueue_TheSpanningRuleOfTheNewQueueApplies()
    {
        var h = new AcdHarness(
            [Queue("local"), Queue("wide", tweak: q => q with { SpansSites = true })],
            [At(Agent("a1", "local"), "site-a"), At(Agent("b1", "wide"), "site-b")]);
        h.Login("a1", at: 0);
        h.Login("b1", at: 0);
        h.Arrive("c1", "local", 1, From("site-a"));
        Assert.Equal(["a1"], h.RungFor("c1"));
        Assert.True(h.Answer("c1", "a1", 2).Accepted);

        var outcome = h.At(3, t => new CallTransferRequested(t, "c1", TransferTarget.ToQueue("wide")));

        Assert.True(outcome.Accepted, outcome.Reason);
        Assert.Equal(["a1", "b1"], h.RungFor("c1"));
    }

    [Fact]
    public void NoSites_OneSiteDeployment_RoutesAsBefore()
    {
        var h = new AcdHarness([Queue("q")], [Agent("b1", "q"), At(Agent("a1", "q"), "site-a")]);
        h.Login("b1", at: 0);
        h.Login("a1", at: 5);

        // A call without a site and an agent without a site are never restricted.
        h.Arrive("c1", "q", 10);
        h.Arrive("c2", "q", 11, From("site-a"));

        Assert.Equal(["b1"], h.RungFor("c1"));
        Assert.Equal(["a1"], h.RungFor("c2"));
    }

    [Fact]
    public void SamePhoneNumberOnTwoSites_BothAgentsLogIn_ButNotTwiceOnOneSite()
    {
        var h = new AcdHarness([Queue("q")], [At(Agent("a1", "q"), "site-a"), At(Agent("b1", "q"), "site-b"), At(Agent("b2", "q"), "site-b")]);

        Assert.True(h.Login("a1", ext: "PJSIP/1001").Accepted);
        Assert.True(h.Login("b1", ext: "PJSIP/1001").Accepted);
        var refused = h.Login("b2", ext: "PJSIP/1001");

        Assert.False(refused.Accepted);
        Assert.Contains("in use by agent 'b1'", refused.Reason, StringComparison.Ordinal);
        Assert.True(h.At(1, t => new AgentLogout(t, "b1")).Accepted);
        Assert.True(h.Login("b2", at: 2, ext: "PJSIP/1001").Accepted);
    }
}
