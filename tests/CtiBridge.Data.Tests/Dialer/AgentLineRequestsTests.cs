using CtiBridge.Data.Dialer;

namespace CtiBridge.Data.Tests.Dialer;

/// <summary>Which dialer instance an agent's join goes to (issue 10: a campaign's agents spread over the instances dialling it).</summary>
public sealed class AgentLineRequestsTests
{
    private static readonly AgentLine[] Held =
    [
        new("2001", "spring", "a"), new("2002", "spring", "a"),
        new("2003", "spring", "b"),
        new("2004", "summer", "b"), new("2005", "summer", "b"),
        new("2006", "summer", "c"),
    ];

    [Fact]
    public void LeastLoaded_GoesToTheInstanceWithTheFewestAgentsOnTheCampaign_ThenFewestAtAll_ThenHeardFromLast()
    {
        // spring: a 2, b 1, c 0 -> c.
        Assert.Equal("c", AgentLineRequests.LeastLoaded(["a", "b", "c"], Held, "spring"));

        // autumn: nobody on it anywhere; fewest agents at all: a (2) and c (1) -> c; b has 3.
        Assert.Equal("c", AgentLineRequests.LeastLoaded(["b", "a", "c"], Held, "autumn"));

        // A tie on both counts goes to the instance heard from last (listed first).
        Assert.Equal("d", AgentLineRequests.LeastLoaded(["d", "e"], Held, "spring"));
        Assert.Equal("e", AgentLineRequests.LeastLoaded(["e", "d"], Held, "spring"));

        // Lines of an instance that is not live do not make it a choice.
        Assert.Equal("b", AgentLineRequests.LeastLoaded(["a", "b"], Held, "spring"));
        Assert.Null(AgentLineRequests.LeastLoaded([], Held, "spring"));
    }
}
