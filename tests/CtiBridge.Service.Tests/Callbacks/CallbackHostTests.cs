using CtiBridge.Core.Callbacks;
using CtiBridge.Service.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary>The real host runs the callback node: requests through <see cref="ICallbackRequests"/> are stored and scheduled.</summary>
public sealed class CallbackHostTests(RunningService service) : IClassFixture<RunningService>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheService_JoinsTheQuartzCluster_AndSchedulesRequests()
    {
        var requests = service.App.Services.GetRequiredService<ICallbackRequests>();
        var nodes = 0L;
        for (var i = 0; i < 200 && nodes == 0; i++)
        {
            nodes = await service.Database.ScalarAsync<long>("SELECT count(*) FROM qrtz_scheduler_state WHERE sched_name = 'ctibridge'", Ct);
            await Task.Delay(50, Ct);
        }

        var ticket = await requests.RequestAsync(CallbackRequest.AgentScheduled("13912345678", "support", DateTimeOffset.UtcNow.AddDays(1), null, "host test", "test"), Ct);

        Assert.Equal(1, nodes);
        Assert.NotNull(ticket);
        Assert.Equal(1, await service.Database.ScalarAsync<long>($"SELECT count(*) FROM qrtz_triggers WHERE trigger_name = '{ticket.Callback.Id}'", Ct));
    }
    [Fact]
    public async Task Metrics_ShowOpenCallbacksPerQueueAndState_AndThisInstancesTransitions()
    {
        var requests = service.App.Services.GetRequiredService<ICallbackRequests>();
        await requests.RequestAsync(CallbackRequest.AgentScheduled("13912340001", "support", DateTimeOffset.UtcNow.AddDays(2), null, "metrics test", "test"), Ct);
        using var http = service.Client();

        var metrics = await http.GetStringAsync("/metrics", Ct);

        var open = metrics.Split('\n').Single(l => l.StartsWith("ctibridge_callbacks_open{queue=\"support\",state=\"scheduled\"}", StringComparison.Ordinal));
        Assert.True(double.Parse(open[(open.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture) >= 1, open);
        Assert.Contains("ctibridge_callbacks_overdue{queue=\"support\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_callbacks_oldest_due_seconds{queue=\"support\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("ctibridge_callback_transitions_total{state=\"scheduled\"}", metrics, StringComparison.Ordinal);
    }
}
