using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Callbacks;
using Microsoft.Extensions.Time.Testing;

namespace CtiBridge.Service.Tests.Callbacks;

/// <summary>
/// The liveness judgement alone: an instance is dead when its heartbeat count stood still longer than
/// the limit on the watcher's own elapsed time (a fake one here); a count that moved is alive however
/// long the watcher itself was away; the watcher never judges itself.
/// </summary>
public sealed class CallbackInstanceWatchTests
{
    private static InstanceBeats[] Counts(long a, long b, long me = 1) => [new("a", a), new("b", b), new("me", me)];

    [Fact]
    public void ACountStandingStillLongerThanTheLimit_IsDead_AMovingOneIsNot()
    {
        var elapsed = new FakeTimeProvider();
        var watch = new CallbackInstanceWatch(TimeSpan.FromSeconds(20), elapsed);

        Assert.Empty(watch.Observe(Counts(5, 7), "me")); // first sight: given the whole limit
        elapsed.Advance(TimeSpan.FromSeconds(20));
        Assert.Empty(watch.Observe(Counts(5, 8), "me")); // exactly the limit: not yet
        elapsed.Advance(TimeSpan.FromSeconds(1));
        var dead = Assert.Single(watch.Observe(Counts(5, 9), "me"));
        Assert.Equal(new InstanceBeats("a", 5), dead);

        // a beats again (it was stalled, not dead): alive at once.
        Assert.Empty(watch.Observe(Counts(6, 9), "me"));
    }

    [Fact]
    public void AWatcherAwayForMinutes_JudgesByCountsNotByItsAbsence_AndNeverItself()
    {
        var elapsed = new FakeTimeProvider();
        var watch = new CallbackInstanceWatch(TimeSpan.FromSeconds(20), elapsed);
        Assert.Empty(watch.Observe(Counts(1, 1), "me"));

        // The watcher stalls five minutes; a kept beating, b did not, and its own count did not move either.
        elapsed.Advance(TimeSpan.FromMinutes(5));
        var dead = watch.Observe(Counts(60, 1), "me");

        Assert.Equal(["b"], dead.Select(d => d.InstanceId));
    }

    [Fact]
    public void AnInstanceWhoseRowWentAndCameBack_IsGivenTheWholeLimitAgain()
    {
        var elapsed = new FakeTimeProvider();
        var watch = new CallbackInstanceWatch(TimeSpan.FromSeconds(20), elapsed);
        Assert.Empty(watch.Observe(Counts(3, 3), "me"));
        elapsed.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(2, watch.Observe(Counts(3, 3), "me").Count);

        Assert.Empty(watch.Observe([new("me", 2)], "me")); // both rows gone (left)
        Assert.Empty(watch.Observe(Counts(3, 3, 3), "me")); // back with the same counts: first sight again
    }
}
