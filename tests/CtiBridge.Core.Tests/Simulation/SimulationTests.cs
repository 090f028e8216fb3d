using CtiBridge.Core.Acd;
using CtiBridge.Core.Simulation;

namespace CtiBridge.Core.Tests.Simulation;

public sealed class SimulationTests
{
    [Fact]
    public void SameScenarioAndSeed_SameEventStream()
    {
        var a = new CallCenterSimulation(SimulationScenarios.BusyHour(30, queues: 4, skills: 8, seed: 3, recordEvents: true) with { Duration = TimeSpan.FromMinutes(20) }).Run();
        var b = new CallCenterSimulation(SimulationScenarios.BusyHour(30, queues: 4, skills: 8, seed: 3, recordEvents: true) with { Duration = TimeSpan.FromMinutes(20) }).Run();

        Assert.True(a.Calls > 50);
        Assert.Equal(a.Events.Count, b.Events.Count);
        Assert.Equal(a.Events.Select(e => e.ToString()), b.Events.Select(e => e.ToString()));
    }

    [Fact]
    public void BusyHour_EveryCallEndsExactlyOnceAndStatisticsMatchRecount()
    {
        var result = new CallCenterSimulation(SimulationScenarios.BusyHour(40, queues: 5, skills: 10, seed: 5, recordEvents: true) with { Duration = TimeSpan.FromMinutes(30) }).Run();

        var ended = result.Events.OfType<CallEnded>().GroupBy(e => e.CallId).ToList();
        Assert.Equal(result.Calls, ended.Count);
        Assert.All(ended, g => Assert.Single(g));
        EventLogInvariants.Check(result.Events);
        EventLogInvariants.CheckStatistics(result.Events, result.Statistics, new MetricsParameters());
    }

    [Fact]
    public void AgentShiftsAndBreaks_LoginPauseResumeLogoutHappenAtScheduledTimes()
    {
        var scenario = SimulationScenarios.SingleQueue(2, 0, 60, TimeSpan.FromHours(2)) with
        {
            Agents =
            [
                new SimulatedAgent("A00001", "0000", "201", [new Shift(TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(50))])
                {
                    Breaks = [new Break(TimeSpan.FromMinutes(20), TimeSpan.FromMinutes(15), PauseReasons.Meal)],
                },
            ],
        };

        var result = new CallCenterSimulation(scenario).Run();

        var changes = result.Events.OfType<AgentStateChanged>().Select(e => (e.To, (e.At - scenario.Start).TotalMinutes)).ToList();
        Assert.Equal([(AgentState.Ready, 10.0), (AgentState.Paused, 20.0), (AgentState.Ready, 35.0), (AgentState.LoggedOut, 50.0)], changes);
    }
}
