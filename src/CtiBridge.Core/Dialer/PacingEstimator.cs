namespace CtiBridge.Core.Dialer;

/// <summary>
/// Online statistics of a campaign's recent results for predictive pacing: live-answer
/// probability, ring-time distributions (live answers and the rest), talk-time and wrap-up
/// distributions. Each keeps the last N samples (a sliding window), so the estimates follow
/// changes in the list or the time of day.
/// </summary>
public sealed class PacingEstimator
{
    private readonly SampleWindow _liveRing;
    private readonly SampleWindow _otherRing;
    private readonly SampleWindow _talk;
    private readonly SampleWindow _wrapUp;
    private readonly bool[] _results;
    private int _resultCount;
    private int _resultNext;
    private int _liveInWindow;

    /// <summary>Creates an estimator keeping the last <paramref name="window"/> dial results and durations.</summary>
    public PacingEstimator(int window = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 10);
        _results = new bool[window];
        _liveRing = new SampleWindow(window / 2);
        _otherRing = new SampleWindow(window / 2);
        _talk = new SampleWindow(window / 2);
        _wrapUp = new SampleWindow(window / 4);
    }

    /// <summary>Dial results seen (capped at the window).</summary>
    public int Results => _resultCount;

    /// <summary>Live-answer samples (ring times of live answers) held.</summary>
    public int LiveAnswers => _liveRing.Count;

    /// <summary>Talk-time samples held.</summary>
    public int TalkSamples => _talk.Count;

    /// <summary>The most talk-time samples held (the window's size).</summary>
    public int TalkWindow => _talk.Capacity;

    /// <summary>Share of recent dials answered by a person (0 when there are no results yet).</summary>
    public double LiveAnswerProbability => _resultCount == 0 ? 0 : (double)_liveInWindow / _resultCount;

    /// <summary>Mean wrap-up, seconds (0 until one is reported).</summary>
    public double MeanWrapUpSeconds => _wrapUp.Mean;

    /// <summary>Mean talk time, seconds.</summary>
    public double MeanTalkSeconds => _talk.Mean;

    /// <summary>Records the end of a dial: whether a person answered and how long it rang.</summary>
    public void RecordDial(bool liveAnswer, TimeSpan ringTime)
    {
        if (_resultCount == _results.Length)
        {
            if (_results[_resultNext])
            {
                _liveInWindow--;
            }
        }
        else
        {
            _resultCount++;
        }

        _results[_resultNext] = liveAnswer;
        _resultNext = (_resultNext + 1) % _results.Length;
        if (liveAnswer)
        {
            _liveInWindow++;
            _liveRing.Add(ringTime.TotalSeconds);
        }
        else
        {
            _otherRing.Add(ringTime.TotalSeconds);
        }
    }

    /// <summary>Records the talk time of a connected call.</summary>
    public void RecordTalk(TimeSpan talk) => _talk.Add(talk.TotalSeconds);

    /// <summary>Records the wrap-up time of an agent after a campaign call.</summary>
    public void RecordWrapUp(TimeSpan wrapUp) => _wrapUp.Add(wrapUp.TotalSeconds);

    /// <summary>Probability that a line still ringing after <paramref name="elapsedSeconds"/> will be a live answer.</summary>
    public double LiveProbabilityGivenRinging(double elapsedSeconds)
    {
        var p = LiveAnswerProbability;
        var live = p * _liveRing.Survival(elapsedSeconds);
        var other = (1 - p) * _otherRing.Survival(elapsedSeconds);
        return live + other <= 0 ? 0 : live / (live + other);
    }

    /// <summary>Mean ring time of live answers, seconds (0 until one is seen).</summary>
    public double MeanLiveRingSeconds => _liveRing.Mean;

    /// <summary>Share of live answers that ring longer than <paramref name="seconds"/> (1 before any is seen).</summary>
    public double LiveRingSurvival(double seconds) => _liveRing.Survival(seconds);

    /// <summary>The <paramref name="q"/> quantile (0..1) of live-answer ring times, seconds (0 until one is seen).</summary>
    public double LiveRingQuantile(double q) => _liveRing.Quantile(q);

    /// <summary>Probability that a call that has lasted <paramref name="elapsedSeconds"/> ends within <paramref name="withinSeconds"/> more.</summary>
    public double TalkEndsWithin(double elapsedSeconds, double withinSeconds)
    {
        var alive = _talk.Survival(elapsedSeconds);
        if (alive <= 0)
        {
            // Longer than any call seen: promise nothing (the safe side for abandons).
            return 0;
        }

        return Math.Clamp((alive - _talk.Survival(elapsedSeconds + withinSeconds)) / alive, 0, 1);
    }

    /// <summary>
    /// A live-answer ring time longer than <paramref name="afterSeconds"/>, drawn from the recent ones
    /// by <paramref name="u"/> (uniform in [0, 1)); +∞ when none rang that long (or none is known).
    /// </summary>
    internal double DrawLiveRingAfter(double afterSeconds, double u) => _liveRing.DrawAbove(afterSeconds, u);

    /// <summary>
    /// How much longer a talk that has lasted <paramref name="elapsedSeconds"/> goes on, drawn from
    /// the recent talk times by <paramref name="u"/> (uniform in [0, 1)); +∞ when none lasted that long.
    /// </summary>
    internal double DrawTalkRemaining(double elapsedSeconds, double u) => _talk.DrawAbove(elapsedSeconds, u) - elapsedSeconds;

    /// <summary>The last N samples of one duration, with a sorted copy rebuilt when it changed.</summary>
    private sealed class SampleWindow(int capacity)
    {
        private readonly double[] _ring = new double[capacity];
        private double[] _sorted = [];
        private int _count;
        private int _next;
        private double _sum;
        private bool _dirty;

        public int Count => _count;

        public int Capacity => _ring.Length;

        public double Mean => _count == 0 ? 0 : _sum / _count;

        public void Add(double value)
        {
            value = Math.Max(0, value);
            if (_count == _ring.Length)
            {
                _sum -= _ring[_next];
            }
            else
            {
                _count++;
            }

            _ring[_next] = value;
            _sum += value;
            _next = (_next + 1) % _ring.Length;
            _dirty = true;
        }

        public double Survival(double x)
        {
            var s = Sorted();
            return s.Length == 0 ? 1 : (double)(s.Length - FirstAbove(s, x)) / s.Length;
        }

        public double DrawAbove(double x, double u)
        {
            var s = Sorted();
            var first = FirstAbove(s, x);
            return first >= s.Length ? double.PositiveInfinity : s[Math.Min(s.Length - 1, first + (int)(u * (s.Length - first)))];
        }

        public double Quantile(double q)
        {
            var s = Sorted();
            return s.Length == 0 ? 0 : s[Math.Clamp((int)(q * s.Length), 0, s.Length - 1)];
        }

        private double[] Sorted()
        {
            if (_dirty)
            {
                _sorted = _ring.AsSpan(0, _count).ToArray();
                Array.Sort(_sorted);
                _dirty = false;
            }

            return _sorted;
        }

        private static int FirstAbove(double[] s, double x)
        {
            int lo = 0, hi = s.Length;
            while (lo < hi)
            {
                var mid = (lo + hi) >>> 1;
                if (s[mid] > x)
                {
                    hi = mid;
                }
                else
                {
                    lo = mid + 1;
                }
            }

            return lo;
        }
    }
}
