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
}
