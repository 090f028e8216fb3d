using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>app_queue's <c>empty_conditions</c>: which members do not count when deciding whether a queue is "empty".</summary>
[Flags]
internal enum EmptyConditions
{
    None = 0,
    Penalty = 1,
    Paused = 2,
    InUse = 4,
    Ringing = 8,
    Unavailable = 16,
    Invalid = 32,
    Unknown = 64,
    WrapUp = 128,
}

/// <summary>
/// app_queue's rules beyond strategy (Asterisk 22, queues.conf and Queue() as documented and as
/// <c>app_queue.c</c> does them; no recording shows them): wrap-up time, queue weight, joinempty /
/// leavewhenempty, maxlen (in <see cref="StartQueueApp"/>), the <c>n</c>/<c>r</c>/<c>R</c> options, and the
/// position / hold-time / periodic announcements to waiting callers.
/// </summary>
internal sealed partial class PbxModel
{
    /// <summary>app_queue's parse_empty_options: words add conditions; yes/no/strict/loose set them (yes and no mean opposite things for join and leave).</summary>
    internal static EmptyConditions ParseEmptyConditions(string value, bool join)
    {
        var result = EmptyConditions.None;
        foreach (var word in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var isFalse = word.Equals("no", StringComparison.OrdinalIgnoreCase) || word.Equals("false", StringComparison.OrdinalIgnoreCase);
            var isTrue = word.Equals("yes", StringComparison.OrdinalIgnoreCase) || word.Equals("true", StringComparison.OrdinalIgnoreCase);
            result = word.ToLowerInvariant() switch
            {
                "paused" => result | EmptyConditions.Paused,
                "penalty" => result | EmptyConditions.Penalty,
                "inuse" => result | EmptyConditions.InUse,
                "ringing" => result | EmptyConditions.Ringing,
                "invalid" => result | EmptyConditions.Invalid,
                "wrapup" => result | EmptyConditions.WrapUp,
                "unavailable" => result | EmptyConditions.Unavailable,
                "unknown" => result | EmptyConditions.Unknown,
                "loose" => EmptyConditions.Penalty | EmptyConditions.Invalid,
                "strict" => EmptyConditions.Penalty | EmptyConditions.Invalid | EmptyConditions.Paused | EmptyConditions.Unavailable,
                _ when (isFalse && join) || (isTrue && !join) => EmptyConditions.Penalty | EmptyConditions.Invalid | EmptyConditions.Paused,
                _ when isTrue || isFalse => EmptyConditions.None,
                _ => result,
            };
        }

        return result;
    }

    /// <summary>
    /// app_queue's get_member_status: true when no member is left once those matching
    /// <paramref name="conditions"/> are set aside (a queue without members is always empty). No
    /// caller here has a penalty range, so <c>penalty</c> sets nobody aside.
    /// </summary>
    private bool NoMemberQualifies(CallQueue queue, EmptyConditions conditions)
    {
        foreach (var member in queue.Members)
        {
            var excluded = DeviceState(member.StateInterface) switch
            {
                "INVALID" => conditions.HasFlag(EmptyConditions.Invalid),
                "UNAVAILABLE" => conditions.HasFlag(EmptyConditions.Unavailable),
                "INUSE" => conditions.HasFlag(EmptyConditions.InUse),
                "RINGING" => conditions.HasFlag(EmptyConditions.Ringing),
                "UNKNOWN" => conditions.HasFlag(EmptyConditions.Unknown),
                _ => false,
            };
            if (excluded || (member.Paused && conditions.HasFlag(EmptyConditions.Paused)) || (conditions.HasFlag(EmptyConditions.WrapUp) && InWrapUp(queue, member)))
            {
                continue;
            }

            return false;
        }

        return true;
    }

    /// <summary>The member's own wrap-up time, else the queue's (app_queue's get_wrapuptime).</summary>
    private static int WrapUpOf(CallQueue queue, QueueMember member) => member.WrapUpSeconds > 0 ? member.WrapUpSeconds : queue.Settings.WrapUpTime;

    /// <summary>True while the member's last call from this queue ended less than its wrap-up time ago (whole seconds, as time(NULL)).</summary>
    internal bool InWrapUp(CallQueue queue, QueueMember member)
    {
        var wrap = WrapUpOf(queue, member);
        return wrap > 0 && member.LastCall > 0 && Now.ToUnixTimeSeconds() - member.LastCall < wrap;
    }

    /// <summary>
    /// app_queue's compare_weight: a member who is also in a heavier queue is kept for that queue
    /// while it has callers waiting and no more available members than callers.
    /// </summary>
    private bool HeldForHeavierQueue(CallQueue queue, QueueMember member)
    {
        foreach (var other in Queues)
        {
            if (other == queue || other.Settings.Weight <= queue.Settings.Weight || other.Callers.Count == 0)
            {
                continue;
            }

            if (other.Members.Exists(m => string.Equals(m.Interface, member.Interface, StringComparison.OrdinalIgnoreCase))
                && other.Callers.Count >= AvailableMemberCount(other))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>app_queue's num_available_members (is_member_available for each, wrap-up included).</summary>
    private int AvailableMemberCount(CallQueue queue) => queue.Members.Count(m => IsMemberAvailable(queue, m));

    private bool IsMemberAvailable(CallQueue queue, QueueMember member)
    {
        if (member.Paused || InWrapUp(queue, member))
        {
            return false;
        }

        return DeviceState(member.StateInterface) switch
        {
            "INVALID" or "UNAVAILABLE" => false,
            "NOT_INUSE" or "UNKNOWN" => true,
            _ => member.RingInUse,
        };
    }

    /// <summary>Starts the once-a-second wait loop (wait_our_turn's RECHECK) when the queue has a rule it serves.</summary>
    private void StartQueueWaitTicks(QueueEntry entry)
    {
        var settings = entry.Queue.Settings;
        if (entry.Queue.LeaveWhenEmpty == EmptyConditions.None && settings.AnnounceFrequency == 0 && settings.PeriodicAnnounceFrequency == 0)
        {
            return;
        }

        // The first check runs as soon as the join's ring attempt is settled (a caller who must wait
        // hears its position at once).
        Defer(() => QueueWaitTick(entry, entry.Caller.Generation));
    }

    private void QueueWaitTick(QueueEntry entry, long generation)
    {
        var caller = entry.Caller;
        if (entry.Left || caller.Gone || caller.Ending || caller.QueueEntry != entry || caller.Generation != generation)
        {
            return;
        }

        var waiting = entry.Ringing.Count == 0;
        if (waiting && entry.Queue.LeaveWhenEmpty != EmptyConditions.None && NoMemberQualifies(entry.Queue, entry.Queue.LeaveWhenEmpty))
        {
            LeaveQueueEarly(entry, "LEAVEEMPTY", "EXITEMPTY", abandoned: false);
            return;
        }

        if (!entry.Announcing && (waiting || entry.Queue.Settings.AnnounceToFirstUser))
        {
            _ = SayPosition(entry) || SayPeriodicAnnouncement(entry);
        }

        Schedule(TimeSpan.FromSeconds(1), () => QueueWaitTick(entry, generation));
    }

    /// <summary>app_queue's say_position: "you are next" / "there are N calls waiting", the hold time if asked for, "thank you".</summary>
    private bool SayPosition(QueueEntry entry)
    {
        var settings = entry.Queue.Settings;
        if (settings.AnnounceFrequency == 0)
        {
            return false;
        }

        var now = Now.ToUnixTimeSeconds();
        var lastPos = entry.LastPositionAt?.ToUnixTimeSeconds() ?? 0;
        var position = entry.Queue.Callers.IndexOf(entry) + 1;
        if (now - lastPos < settings.MinAnnounceFrequency || (entry.LastPositionSaid == position && now - lastPos < settings.AnnounceFrequency))
        {
            return false;
        }

        var sounds = new List<string>();
        var sayThanks = false;
        var skipHoldTime = false;
        if (settings.AnnouncePosition is "yes" or "more" || (settings.AnnouncePosition == "limit" && position <= settings.AnnouncePositionLimit))
        {
            sayThanks = true;
            if (position == 1)
            {
                sounds.Add("queue-youarenext");
                skipHoldTime = true;
            }
            else if (settings.AnnouncePosition == "more" && position > settings.AnnouncePositionLimit)
            {
                sounds.AddRange(["queue-quantity1", "number:" + Text(settings.AnnouncePositionLimit), "queue-quantity2"]);
            }
            else
            {
                sounds.AddRange(["queue-thereare", "number:" + Text(position), "queue-callswaiting"]);
            }
        }

        // Hold time rounded to the minute: |(average hold + 30 - time waited) / 60| (C's truncating division).
        var minutes = Math.Abs((entry.Queue.HoldTime + 30 - (now - entry.JoinedAt.ToUnixTimeSeconds())) / 60);
        if (!skipHoldTime && minutes > 0 && (settings.AnnounceHoldTime == "yes" || (settings.AnnounceHoldTime == "once" && entry.LastPositionAt is null)))
        {
            sounds.AddRange(["queue-holdtime", "number:" + Text(minutes), minutes == 1 ? "queue-minute" : "queue-minutes"]);
        }

        if (sayThanks)
        {
            sounds.Add("queue-thankyou");
        }

        entry.LastPositionAt = Now;
        entry.LastPositionSaid = position;
        PlayQueueAnnouncement(entry, sounds);
        return true;
    }

    /// <summary>app_queue's say_periodic_announcement: the next of the queue's periodic-announce sounds, every periodic-announce-frequency seconds.</summary>
    private bool SayPeriodicAnnouncement(QueueEntry entry)
    {
        var settings = entry.Queue.Settings;
        if (settings.PeriodicAnnounceFrequency == 0 || Now.ToUnixTimeSeconds() - entry.LastPeriodicAt.ToUnixTimeSeconds() < settings.PeriodicAnnounceFrequency)
        {
            return false;
        }

        var sound = settings.PeriodicAnnounce[entry.PeriodicIndex % settings.PeriodicAnnounce.Count];
        entry.PeriodicIndex++;
        entry.LastPeriodicAt = Now;
        PlayQueueAnnouncement(entry, [sound]);
        return true;
    }

    /// <summary>Music on hold stops, the sounds play one after the other, then the music starts again (or the caller goes on ringing with <c>r</c>).</summary>
    private void PlayQueueAnnouncement(QueueEntry entry, List<string> sounds)
    {
        var caller = entry.Caller;
        entry.Announcing = true;
        if (!entry.RingInsteadOfMusic)
        {
            StopMusicOnHold(caller);
        }

        foreach (var sound in sounds)
        {
            caller.PlayedMedia.Add(sound.Contains(':', StringComparison.Ordinal) ? sound : "sound:" + sound);
            caller.PlayedLanguages.Add(caller.Language);
        }

        // app_queue's own prompts are not in the sound catalogue (CtiBridge plays the same names over
        // ARI, and the end-to-end tests are timed with those taking no time): their lengths are here.
        var length = TimeSpan.Zero;
        foreach (var sound in sounds)
        {
            length += Sounds.Exists(sound) || sound.Contains(':', StringComparison.Ordinal)
                ? Sounds.Length(sound)
                : TimeSpan.FromSeconds(QueuePromptSeconds.GetValueOrDefault(sound));
        }

        var generation = caller.Generation;
        Schedule(length, () =>
        {
            entry.Announcing = false;
            if (entry.Left || caller.Gone || caller.Ending || caller.Generation != generation)
            {
                return;
            }

            if (!entry.RingInsteadOfMusic && caller.MusicOnHoldClass is null && !(entry.RingWhenRinging && entry.Ringing.Count > 0))
            {
                StartMusicOnHold(caller, entry.Queue.Settings.MusicClass);
            }

            RingQueueMembers(entry);
        });
    }

    /// <summary>
    /// The caller leaves Queue() without being connected (leavewhenempty, the <c>n</c> option, the
    /// Queue() timeout): after a ring cycle app_queue records an abandon first (QueueCallerAbandon);
    /// then the music stops, the queue variables are set, QueueCallerLeave, QUEUESTATUS, and the
    /// dialplan goes on at the next priority.
    /// </summary>
    private void LeaveQueueEarly(QueueEntry entry, string status, string logEvent, bool abandoned)
    {
        var caller = entry.Caller;
        var queue = entry.Queue;
        CancelQueueRings(entry);
        var position = queue.Callers.IndexOf(entry) + 1;
        var wait = WholeSeconds(entry.JoinedAt, Now);
        if (abandoned)
        {
            SetVariable(caller, "ABANDONED", "TRUE");
            queue.Abandoned++;
            SetQueueVariables(caller, queue);
            ChannelEvent("QueueCallerAbandon", caller, AmiPrivilege.Agent, ("Queue", queue.Name), ("Position", Text(position)),
                ("OriginalPosition", Text(entry.OriginalPosition)), ("HoldTime", Text(wait)));
            WriteQueueLog(caller.UniqueId, queue.Name, "NONE", logEvent, $"{position}|{entry.OriginalPosition}|{wait}");
        }
        else
        {
            // wait_our_turn logs and leaves the waiting list before Queue() winds down.
            WriteQueueLog(caller.UniqueId, queue.Name, "NONE", logEvent, $"{position}|{entry.OriginalPosition}|{wait}");
            LeaveQueue(entry);
        }

        StopMusicOnHold(caller);
        SetQueueVariables(caller, queue);
        if (!entry.Left)
        {
            LeaveQueue(entry);
        }

        caller.QueueEntry = null;
        SetVariable(caller, "QUEUESTATUS", status);
        if (caller.InPbx)
        {
            caller.Priority++;
            caller.Generation++;
            Defer(() => ContinuePbx(caller));
        }
    }

    /// <summary>Lengths of app_queue's own prompts when the sound catalogue does not have them (Asterisk core sounds, English; approximate, no recording plays them).</summary>
    internal static readonly IReadOnlyDictionary<string, double> QueuePromptSeconds = new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["queue-youarenext"] = 1.4,
        ["queue-thereare"] = 1.0,
        ["queue-callswaiting"] = 1.4,
        ["queue-holdtime"] = 2.2,
        ["queue-minute"] = 0.6,
        ["queue-minutes"] = 0.7,
        ["queue-seconds"] = 0.7,
        ["queue-quantity1"] = 1.2,
        ["queue-quantity2"] = 1.3,
        ["queue-periodic-announce"] = 4.5,
        ["queue-thankyou"] = 1.9,
    };
}
