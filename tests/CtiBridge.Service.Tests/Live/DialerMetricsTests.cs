using CtiBridge.Core.Dialer;
using CtiBridge.Service.Dialer;
using CtiBridge.Service.Live;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace CtiBridge.Service.Tests.Live;

/// <summary>The dialer's per-campaign figures as Prometheus metrics (what a scrape shows).</summary>
public sealed class DialerMetricsTests
{
    private static CampaignWallboard Stats(string id, long dials, long answers, long abandons, long machines) =>
        new(id, DialingMode.Predictive, DialingMode.Predictive, dials, answers, abandons, machines,
            Lines: 7, Ringing: 5, WaitingForAgent: 1, AgentsLoggedIn: 4, AgentsIdle: 1, AgentsBusy: 3,
            AbandonRate: 0.025, AbandonWindowLiveAnswers: 40, DialLevel: 6);

    private static async Task<string> ScrapeAsync(DomainMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream, TestContext.Current.CancellationToken);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static DomainMetrics NewMetrics() => new(new ServiceCollection().AddSingleton<IReadOnlyList<CtiBridge.Service.Hosting.AsteriskServer>>([]).BuildServiceProvider());

    [Fact]
    public async Task CampaignFigures_AreGaugesAndCounters_PerCampaign()
    {
        var metrics = NewMetrics();

        metrics.SetCampaigns([Stats("spring", 120, 40, 1, 9), Stats("renewals", 8, 2, 0, 1)]);
        var text = await ScrapeAsync(metrics);

        Assert.Contains("ctibridge_dialer_lines{campaign=\"spring\"} 7", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_waiting_for_agent{campaign=\"spring\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_agents{campaign=\"spring\",state=\"idle\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_agents{campaign=\"spring\",state=\"busy\"} 3", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_abandon_ratio{campaign=\"spring\"} 0.025", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_dial_level{campaign=\"spring\"} 6", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_attempts_total{campaign=\"spring\",outcome=\"dialed\"} 120", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_attempts_total{campaign=\"spring\",outcome=\"live_answer\"} 40", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_attempts_total{campaign=\"spring\",outcome=\"machine\"} 9", text, StringComparison.Ordinal);
        Assert.Contains("ctibridge_dialer_attempts_total{campaign=\"renewals\",outcome=\"dialed\"} 8", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CampaignRestartedOnThisInstance_CounterStartsAgainFromItsNewValue()
    {
        var metrics = NewMetrics();
        metrics.SetCampaigns([Stats("spring", 120, 40, 1, 9)]);

        metrics.SetCampaigns([Stats("spring", 3, 1, 0, 0)]);
        var text = await ScrapeAsync(metrics);

        Assert.Contains("ctibridge_dialer_attempts_total{campaign=\"spring\",outcome=\"dialed\"} 3", text, StringComparison.Ordinal);
        Assert.DoesNotContain("outcome=\"dialed\"} 120", text, StringComparison.Ordinal);
    }
}
