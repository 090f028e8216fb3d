using CtiBridge.Core.Acd;
using static CtiBridge.Core.Tests.Acd.AcdHarness;

namespace CtiBridge.Core.Tests.Acd;

public sealed class StatisticsTests
{
    [Fact]
    public void ServerStatistics_EachCallCountsOnItsCallersServer_AcrossQueues_AndTheServersAddUpToTheQueues()
    {
        var h = new AcdHarness([Queue("q1", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(10) }), Queue("q2")], [Agent("a1", "q1", "q2")]);
        CallerData On(string site, string number) => new() { CallerNumber = number, Site = site };
        h.Login("a1");
        h.Arrive("north-1", "q1", 1, On("north", "5550001"));
        h.Answer("north-1", "a1", 5);                                  // north: answered, wait 4 s
        h.Arrive("south-1", "q2", 6, On("south", "5550002"));
        h.Arrive("south-2", "q1", 7, On("south", "5550003"));
        h.HangUp("south-1", 20);                                       // south: long abandon (14 s)
        h.HangUp("north-1", 65);                                       // talk 60 s, wrap-up 10 s
        h.AdvanceTo(75);
        h.Answer("south-2", "a1", 80);                                 // south: answered, wait 73 s (not within 30 s)

        var north = h.Engine.Statistics.ForServer("north");
        var south = h.Engine.Statistics.ForServer("south");
        Assert.Equal(("north", 1, 1, 1, 0), (north.Queue, north.Offered, north.Answered, north.AnsweredWithinThreshold, north.Abandoned));
        Assert.Equal(70, north.AverageHandleTime!.Value.TotalSeconds, 9);
        Assert.Equal(("south", 2, 1, 0, 1), (south.Queue, south.Offered, south.Answered, south.AnsweredWithinThreshold, south.Abandoned));
        Assert.Equal(0.0, south.ServiceLevel!.Value, 9);
        var queues = new[] { "q1", "q2" }.Select(h.Engine.Statistics.ForQueue).ToList();
        Assert.Equal(queues.Sum(q => q.Offered), north.Offered + south.Offered);
        Assert.Equal(queues.Sum(q => q.Answered), north.Answered + south.Answered);
        Assert.Equal(queues.Sum(q => q.Abandoned), north.Abandoned + south.Abandoned);
        Assert.Equal(["north", "south"], h.Engine.Statistics.ServerNames.Order());
    }

    [Fact]
    public void QueueStatistics_MixOfOutcomes_FollowMetricsDefinitions()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(20) })], [Agent("a1", "q")]);
        h.Arrive("fast", "q", 0);
        h.Arrive("slow", "q", 0);
        h.Arrive("short-abandon", "q", 0);
        h.Arrive("long-abandon", "q", 0);
        h.HangUp("short-abandon", 4.9);     // < 5 s: short abandon
        h.Login("a1", at: 30);
        h.Answer("fast", "a1", 30);         // wait 30.0 s: within 30 s (inclusive)
        h.At(40, t => new CallHoldChanged(t, "fast", true));
        h.At(50, t => new CallHoldChanged(t, "fast", false));
        h.HangUp("long-abandon", 60);       // wait 60 s: long abandon
        h.HangUp("fast", 130);              // talk 90 + hold 10
        h.AdvanceTo(150);                   // wrap-up 20
        h.Answer("slow", "a1", 150);        // wait 150 s

        var s = h.Engine.Statistics.ForQueue("q");

        Assert.Equal((4, 2, 1, 2, 1, 1), (s.Offered, s.Answered, s.AnsweredWithinThreshold, s.Abandoned, s.ShortAbandoned, s.LongAbandoned));
        Assert.Equal(1.0 / 3, s.ServiceLevel!.Value, 9);            // A_T ÷ (O − Ab_s)
        Assert.Equal(1.0 / 3, s.AbandonRate!.Value, 9);             // Ab_l ÷ (O − Ab_s)
        Assert.Equal(TimeSpan.FromSeconds(90), s.AverageSpeedOfAnswer); // (30 + 150) ÷ 2
        Assert.Equal(TimeSpan.FromSeconds(120), s.AverageHandleTime);   // 90 + 10 + 20, one handled call
        Assert.Equal(TimeSpan.FromSeconds(150), s.LongestWait);
    }

    [Fact]
    public void AgentStatistics_StateTimesAndOccupancy()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(30) })], [Agent("a1", "q")]);
        h.Login("a1", at: 0);                     // ready 0..100
        h.Arrive("c1", "q", 100);                 // ringing 100..110
        h.Answer("c1", "a1", 110);                // on call 110..170
        h.HangUp("c1", 170);                      // wrap-up 170..200, ready 200..300
        h.At(300, t => new AgentPause(t, "a1", PauseReasons.Meal)); // paused 300..400

        var s = h.Engine.Statistics.ForAgent("a1", T0.AddSeconds(400));

        Assert.Equal((TimeSpan.FromSeconds(200), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(100)),
            (s.Available, s.Ringing, s.InCall, s.WrapUpState, s.Paused));
        Assert.Equal(90.0 / 300, s.Occupancy!.Value, 9);
        Assert.Equal(TimeSpan.FromSeconds(100), s.PauseByReason["meal"]);
        Assert.Equal(1, s.Calls);
        Assert.Equal(9.0, s.CallsPerHour!.Value, 9);
    }

    [Fact]
    public void StartPeriod_VisitEnteredBefore_NotCountedInNewPeriod()
    {
        var h = new AcdHarness([Queue("q")], [Agent("a1", "q")]);
        h.Arrive("yesterday", "q", 0);
        h.Engine.Statistics.StartPeriod(T0.AddSeconds(10));
        h.Arrive("today", "q", 11);
        h.HangUp("yesterday", 12);
        h.HangUp("today", 13);

        var s = h.Engine.Statistics.ForQueue("q");

        Assert.Equal((1, 1), (s.Offered, s.Abandoned));
    }

    [Fact]
    public void ACallQueuedBeforeMidnightAndAnsweredAfter_IsTheAgentsCallOfTheNewDay_AndTheOldDaysVisit()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(10) })], [Agent("a1", "q")]);
        h.Arrive("late", "q", 0);
        h.Engine.Statistics.StartPeriod(T0.AddSeconds(10)); // midnight
        h.Login("a1", at: 20);
        h.Answer("late", "a1", 20);
        h.HangUp("late", 80);
        h.AdvanceTo(90);

        var queue = h.Engine.Statistics.ForQueue("q");
        var agent = h.Engine.Statistics.ForAgent("a1", h.Now);

        // Queue figures by entry time (the old day's visit), the agent's by answer time (docs/metrics.md §2), as the reports count them.
        Assert.Equal((0, 0, 0), (queue.Offered, queue.Answered, queue.Handled));
        Assert.Equal((1, 1), (agent.Calls, agent.Handled));
        Assert.Equal(TimeSpan.FromSeconds(60), agent.Talk);
        Assert.Equal(TimeSpan.FromSeconds(10), agent.WrapUp);
    }

    [Fact]
    public void ACallAnsweredBeforeMidnightAndHandledAfter_CountsInNeitherFigureOfTheNewDay()
    {
        var h = new AcdHarness([Queue("q", tweak: q => q with { WrapUp = TimeSpan.FromSeconds(10) })], [Agent("a1", "q")]);
        h.Login("a1", at: 0);
        h.Arrive("late", "q", 1);
        h.Answer("late", "a1", 2);
        h.Engine.Statistics.StartPeriod(T0.AddSeconds(10)); // midnight
        h.HangUp("late", 60);
        h.AdvanceTo(80);

        var agent = h.Engine.Statistics.ForAgent("a1", h.Now);

        // The report has it on the old day, answer and handling alike.
        Assert.Equal((0, 0), (agent.Calls, agent.Handled));
        Assert.Equal(TimeSpan.Zero, agent.Talk);
        Assert.Equal(0, h.Engine.Statistics.ForQueue("q").Handled);
        Assert.Equal(TimeSpan.FromSeconds(50), agent.InCall); // state time is split at midnight
    }

    [Fact]
    public void Seed_AddsTheRecordsFigures_MovesThePeriodBackToTheDayStart_AndUsesTheReportsThresholds()
    {
        var h = new AcdHarness([Queue("q")], [Agent("a1", "q")]);
        h.Arrive("before-seed", "q", 5);
        var stats = h.Engine.Statistics;
        var dayStart = T0.AddHours(-9);
        var fromRecords = new QueueStatistics("q", Offered: 10, Answered: 7, AnsweredWithinThreshold: 5, Abandoned: 2, ShortAbandoned: 1, Overflowed: 1, SystemLost: 0,
            SumWaitAnswered: TimeSpan.FromSeconds(70), LongestWait: TimeSpan.FromSeconds(90), Handled: 6, SumTalk: TimeSpan.FromSeconds(600),
            SumHold: TimeSpan.FromSeconds(60), SumWrapUp: TimeSpan.FromSeconds(120));
        var agent = new AgentStatistics("a1", 1, 7, 2, 6, TimeSpan.FromSeconds(600), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(120),
            TimeSpan.FromSeconds(1000), TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(660), TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(300),
            new Dictionary<string, TimeSpan> { ["lunch"] = TimeSpan.FromSeconds(300) });
        stats.Seed(new StatisticsSeed(dayStart, new MetricsParameters { ServiceLevelThreshold = TimeSpan.FromSeconds(20) }, [fromRecords],
            [fromRecords with { Queue = "pbx1" }], [agent]));
        h.Login("a1", at: 18);
        h.Answer("before-seed", "a1", 30); // wait 25 s: not within the database's 20 s

        var q = stats.ForQueue("q");
        var a = stats.ForAgent("a1", h.Now);

        Assert.Equal(dayStart, stats.PeriodStart);
        Assert.Equal((11, 8, 5), (q.Offered, q.Answered, q.AnsweredWithinThreshold));
        Assert.Equal(TimeSpan.FromSeconds(95), q.SumWaitAnswered);
        Assert.Equal(TimeSpan.FromSeconds(90), q.LongestWait);
        Assert.Equal(10, stats.ForServer("pbx1").Offered);
        Assert.Equal((2, 8, 2), (a.Logins, a.Calls, a.Missed));
        Assert.Equal(TimeSpan.FromSeconds(1062), a.Available + a.Ringing); // 1050 from the records + 12 s here (rung at login)
        Assert.Equal(TimeSpan.FromSeconds(300), a.PauseByReason["lunch"]);
    }

    [Fact]
    public void Seed_ForALaterDay_DropsWhatWasCountedOnTheDayBefore()
    {
        var h = new AcdHarness([Queue("q")], [Agent("a1", "q")]);
        h.Arrive("yesterday", "q", 0);
        h.Engine.Statistics.Seed(new StatisticsSeed(T0.AddHours(1), new MetricsParameters(), [], [], []));

        Assert.Equal(0, h.Engine.Statistics.ForQueue("q").Offered);
        Assert.Equal(T0.AddHours(1), h.Engine.Statistics.PeriodStart);
    }
}
