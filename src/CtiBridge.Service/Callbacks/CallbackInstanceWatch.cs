using CtiBridge.Data.Callbacks;

namespace CtiBridge.Service.Callbacks;

/// <summary>
/// Which other instances of the centre are dead, judged by this instance alone from their heartbeat
/// counts (<c>callback_instances.beats</c>): an instance is dead when this instance has watched its
/// count stand still for longer than <c>deadAfter</c> of its own elapsed time.
/// </summary>
/// <remarks>
/// Why counts and not times: the re-offer after an instance's death used to compare Quartz's check-in
/// stamps (taken from the business clock, fake in tests, the wall clock in production) across
/// instances, while check-ins happen at real-time intervals; any clock step bigger than the limit made
/// a live instance look dead. Here only a monotonic elapsed time of one process is measured (the
/// <paramref name="elapsed"/> provider's timestamps, <see cref="TimeProvider.System"/> in production and
/// in the scheduler tests alike: liveness is real time, not the centre's clock), and only counts are
/// compared between instances. A count that moved since the last look is alive, however long this
/// instance itself was stalled. An instance first seen is given the whole limit.
/// Not thread-safe: one heartbeat loop uses it.
/// </remarks>
/// <param name="deadAfter">How long a count may stand still before its instance is dead.</param>
/// <param name="elapsed">Monotonic timestamps (real time).</param>
public sealed class CallbackInstanceWatch(TimeSpan deadAfter, TimeProvider elapsed)
{
    private readonly Dictionary<string, (long Beats, long ChangedAt)> _seen = new(StringComparer.Ordinal);

    /// <summary>How long a count may stand still before its instance is dead.</summary>
    public TimeSpan DeadAfter => deadAfter;

    /// <summary>Takes a look at every instance's count; returns the dead ones (with the count judged dead).</summary>
    public IReadOnlyList<InstanceBeats> Observe(IReadOnlyCollection<InstanceBeats> counts, string me)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var now = elapsed.GetTimestamp();
        var present = new HashSet<string>(StringComparer.Ordinal);
        var dead = new List<InstanceBeats>();
        foreach (var c in counts)
        {
            present.Add(c.InstanceId);
            if (!_seen.TryGetValue(c.InstanceId, out var seen) || seen.Beats != c.Beats)
            {
                _seen[c.InstanceId] = (c.Beats, now);
                continue;
            }

            if (!string.Equals(c.InstanceId, me, StringComparison.Ordinal) && elapsed.GetElapsedTime(seen.ChangedAt, now) > deadAfter)
            {
                dead.Add(c);
            }
        }

        foreach (var gone in _seen.Keys.Where(k => !present.Contains(k)).ToList())
        {
            _seen.Remove(gone);
        }

        return dead;
    }
}
