using CtiBridge.Core.Dialer;

namespace CtiBridge.Core.Tests.Dialer;

public sealed class PacingEstimatorTests
{
    [Fact]
    public void Draws_ComeOnlyFromSamplesLongerThanTheElapsedTime_AndNoneBeyondTheLongest()
    {
        var estimator = new PacingEstimator();
        foreach (var ring in new[] { 4.0, 8, 12, 16 })
        {
            estimator.RecordDial(liveAnswer: true, TimeSpan.FromSeconds(ring));
        }

        foreach (var talk in new[] { 30.0, 60, 90 })
        {
            estimator.RecordTalk(TimeSpan.FromSeconds(talk));
        }

        // Rung 10 s already: only the 12 s and 16 s answers are still possible, each for half the draws.
        Assert.Equal(12, estimator.DrawLiveRingAfter(10, 0.0));
        Assert.Equal(12, estimator.DrawLiveRingAfter(10, 0.49));
        Assert.Equal(16, estimator.DrawLiveRingAfter(10, 0.5));
        Assert.Equal(16, estimator.DrawLiveRingAfter(10, 0.999));
        Assert.Equal(4, estimator.DrawLiveRingAfter(0, 0.0));
        Assert.Equal(double.PositiveInfinity, estimator.DrawLiveRingAfter(16, 0.3));

        // Talking 45 s: 15 s or 45 s left; longer than any talk seen: never known to end.
        Assert.Equal(15, estimator.DrawTalkRemaining(45, 0.2));
        Assert.Equal(45, estimator.DrawTalkRemaining(45, 0.7));
        Assert.Equal(double.PositiveInfinity, estimator.DrawTalkRemaining(95, 0.5));
    }
}
