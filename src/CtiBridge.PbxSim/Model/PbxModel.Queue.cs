using System.Globalization;
using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>One caller in a queue (app_queue's <c>queue_ent</c>).</summary>
internal sealed class QueueEntry
{
    public required CallQueue Queue { get; init; }

    public required Channel Caller { get; init; }

    public DateTimeOffset JoinedAt { get; init; }

    public int OriginalPosition { get; init; }

    /// <summary>Queue() options (<c>tT</c>...); <c>c</c> continues the dialplan after a completed call.</summary>
    public string Options { get; init; } = "";

    /// <summary>Members being rung for this caller now.</summary>
    public List<DialAttempt> Ringing { get; } = [];

    /// <summary>Members already tried in this round (linear and round-robin go on from there).</summary>
    public HashSet<QueueMember> Tried { get; } = [];

    /// <summary>The answered member's dial, once connected.</summary>
    public DialAttempt? Connected { get; set; }

    /// <summary>Bumped when the caller leaves or is connected; stale retry timers give up.</summary>
    public long Generation { get; set; }

    /// <summary>True once the caller left the queue (connected, abandoned, timed out).</summary>
    public bool Left { get; set; }

    /// <summary>When the connected call ended (the member was released), if it has.</summary>
    public DateTimeOffset? EndedAt { get; set; }

    /// <summary>True once the connected call ended and AgentComplete was sent.</summary>
    public bool Completed { get; set; }

    /// <summary>Members rung so far (the <c>n</c> option gives up once every member was tried).</summary>
    public int Attempts { get; set; }

    /// <summary>Option <c>r</c>: the caller hears ringing instead of music on hold.</summary>
    public bool RingInsteadOfMusic => Options.Contains('r', StringComparison.Ordinal);

    /// <summary>Option <c>R</c>: music on hold, but ringing while a member's phone rings.</summary>
    public bool RingWhenRinging => !RingInsteadOfMusic && Options.Contains('R', StringComparison.Ordinal);

    /// <summary>True while an announcement plays to the caller (no member is rung meanwhile).</summary>
    public bool Announcing { get; set; }

    /// <summary>When the position was last announced (app_queue's <c>last_pos</c>), null before the first.</summary>
    public DateTimeOffset? LastPositionAt { get; set; }

    /// <summary>The position last announced (app_queue's <c>last_pos_said</c>), 0 before the first.</summary>
    public int LastPositionSaid { get; set; }

    /// <summary>When the last periodic announcement played (starts at the join).</summary>
    public DateTimeOffset LastPeriodicAt { get; set; }

    /// <summary>Index of the next periodic announcement sound.</summary>
    public int PeriodicIndex { get; set; }
}

/// <summary>
/// app_queue's Queue application as recorded (<c>queue-call</c>, <c>queue-ringnoanswer</c>,
/// <c>queue-members</c>, <c>redirect</c>): the caller joins with music on hold, members are rung
/// through their interface (Local pairs whose <c>;1</c> half runs <c>AppQueue</c>) by strategy
/// (ringall, linear, rrmemory/roundrobin, leastrecent, fewestcalls, random), a member that does not
/// answer within the queue's timeout gets AgentRingNoAnswer and the next is tried after <c>retry</c>,
/// the answered member is bridged with the caller (AgentConnect), and the end of the call is
/// AgentComplete; a caller who hangs up while waiting abandons (QueueCallerAbandon).
/// </summary>
internal sealed partial class PbxModel
{
    private readonly Random _queueRandom = new(6);

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Queue(name[,options[,URL[,announceoverride[,timeout]]]]).</summary>
    private AppResult StartQueueApp(Channel caller, string data)
    {
        var args = Dialplan.SplitArgs(data);
        var queue = Queues.Find(q => q.Name == args[0]);
        if (queue is null)
        {
            SetVariable(caller, "QUEUESTATUS", "UNKNOWN");
            return AppResult.Next;
        }

        foreach (var name in new[] { "ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS", "QUEUEWAIT", "QUEUEWAIT_MS" })
        {
            SetVariable(caller, name, "");
        }

        // join_queue: joinempty first, then maxlen; a caller who cannot join goes on in the dialplan.
        if (queue.JoinEmpty != EmptyConditions.None && NoMemberQualifies(queue, queue.JoinEmpty))
        {
            SetVariable(caller, "QUEUESTATUS", "JOINEMPTY");
            return AppResult.Next;
        }

        if (queue.Settings.MaxLen > 0 && queue.Callers.Count >= queue.Settings.MaxLen)
        {
            SetVariable(caller, "QUEUESTATUS", "FULL");
            return AppResult.Next;
        }

        // The position argument (Asterisk 22: the ninth) puts the caller at that place if the line is long enough.
        var index = queue.Callers.Count;
        if (args.Count > 8 && int.TryParse(args[8], NumberStyles.Integer, CultureInfo.InvariantCulture, out var wanted) && wanted > 0 && wanted <= queue.Callers.Count)
        {
            index = wanted - 1;
        }

        var entry = new QueueEntry
        {
            Queue = queue,
            Caller = caller,
            JoinedAt = Now,
            OriginalPosition = index + 1,
            Options = args.Count > 1 ? args[1] : "",
            LastPeriodicAt = Now,
        };
        queue.Callers.Insert(index, entry);
        caller.QueueEntry = entry;
        if (queue.Callers.Count == 1)
        {
            SetQueueDevice("Queue:" + queue.Name, "RINGING");
        }

        ChannelEvent("QueueCallerJoin", caller, AmiPrivilege.Agent, ("Queue", queue.Name), ("Position", Text(entry.OriginalPosition)), ("Count", Text(queue.Callers.Count)));
        if (!entry.RingInsteadOfMusic)
        {
            StartMusicOnHold(caller, queue.Settings.MusicClass);
        }

        StartQueueWaitTicks(entry);
        WriteQueueLog(caller.UniqueId, queue.Name, "NONE", "ENTERQUEUE", $"|{caller.CallerNum}|{entry.OriginalPosition}");
        if (args.Count > 4 && int.TryParse(args[4], NumberStyles.Integer, CultureInfo.InvariantCulture, out var timeout) && timeout > 0)
        {
            Schedule(TimeSpan.FromSeconds(timeout), () =>
            {
                if (!entry.Left && !caller.Gone && !caller.Ending)
                {
                    QueueTimedOut(entry);
                }
            });
        }

        caller.Generation++;
        RingQueueMembers(entry);
        return AppResult.Wait;
    }

    /// <summary>Whether app_queue would ring this member now: not paused, its device free (or ringinuse), not rung or talking for another caller.</summary>
    private bool MemberCanRing(CallQueue queue, QueueMember member)
    {
        if (member.Paused || member.InCall)
        {
            return false;
        }

        if (queue.Callers.Exists(c => c.Ringing.Exists(d => d.Member == member)))
        {
            return false;
        }

        if (InWrapUp(queue, member) || HeldForHeavierQueue(queue, member))
        {
            return false;
        }

        return DeviceState(member.StateInterface) switch
        {
            "NOT_INUSE" or "UNKNOWN" => true,
            "INVALID" or "UNAVAILABLE" => false,
            _ => member.RingInUse,
        };
    }

    private void RingQueueMembers(QueueEntry entry)
    {
        if (entry.Left || entry.Caller.Gone || entry.Caller.Ending || entry.Ringing.Count > 0 || entry.Announcing)
        {
            return;
        }

        var chosen = ChooseMembers(entry);
        if (chosen.Count == 0)
        {
            // Nobody to ring: try again after the retry pause (members may come free or be added).
            ScheduleQueueRetry(entry);
            return;
        }

        foreach (var member in chosen)
        {
            entry.Tried.Add(member);
            entry.Attempts++;
            RingQueueMember(entry, member);
        }

        if (entry.Ringing.Count == 0)
        {
            ScheduleQueueRetry(entry);
        }
    }

    private void ScheduleQueueRetry(QueueEntry entry)
    {
        // After a ring cycle: leavewhenempty, then the n option, before waiting 'retry' (queue_exec's order).
        if (entry.Queue.LeaveWhenEmpty != EmptyConditions.None && NoMemberQualifies(entry.Queue, entry.Queue.LeaveWhenEmpty))
        {
            LeaveQueueEarly(entry, "LEAVEEMPTY", "EXITEMPTY", abandoned: true);
            return;
        }

        if (entry.Options.Contains('n', StringComparison.Ordinal) && entry.Attempts > 0 && entry.Attempts >= entry.Queue.Members.Count)
        {
            LeaveQueueEarly(entry, "TIMEOUT", "EXITWITHTIMEOUT", abandoned: true);
            return;
        }

        var generation = ++entry.Generation;
        Schedule(TimeSpan.FromSeconds(Math.Max(1, entry.Queue.RetrySeconds)), () =>
        {
            if (entry.Generation == generation)
            {
                RingQueueMembers(entry);
            }
        });
    }

    private List<QueueMember> ChooseMembers(QueueEntry entry)
    {
        var queue = entry.Queue;
        var candidates = queue.Members.Where(m => MemberCanRing(queue, m)).ToList();
        if (candidates.Count == 0)
        {
            return [];
        }

        // Lowest penalty first, as app_queue rings only the best tier it can.
        var best = candidates.Min(m => m.Penalty);
        candidates = candidates.Where(m => m.Penalty == best).ToList();
        var untried = candidates.Where(m => !entry.Tried.Contains(m)).ToList();
        if (untried.Count == 0)
        {
            entry.Tried.Clear();
            untried = candidates;
        }

        switch (queue.Strategy)
        {
            case "ringall":
                return candidates;
            case "linear":
                return [untried[0]];
            case "rrmemory":
            case "roundrobin":
            case "rrordered":
                for (var i = 0; i < queue.Members.Count; i++)
                {
                    var member = queue.Members[(queue.RoundRobinNext + i) % queue.Members.Count];
                    if (untried.Contains(member))
                    {
                        return [member];
                    }
                }

                return [untried[0]];
            case "leastrecent":
                return [untried.OrderBy(m => m.LastCall).First()];
            case "fewestcalls":
                return [untried.OrderBy(m => m.CallsTaken).First()];
            default:
                return [untried[_queueRandom.Next(untried.Count)]];
        }
    }

    /// <summary>Rings one member for a caller: a Local pair (or a PJSIP leg) whose outbound half runs AppQueue.</summary>
    private void RingQueueMember(QueueEntry entry, QueueMember member)
    {
        var caller = entry.Caller;
        var queue = entry.Queue;
        Channel one;
        Channel? two = null;
        var dialString = member.Interface;
        if (TryParseLocal(member.Interface, out var exten, out var context))
        {
            (one, two) = CreateLocalPair(exten, context, null, null, caller.LinkedId);
            one.CallerNum = caller.CallerNum;
            one.CallerName = caller.CallerName;
            one.CallerAni = caller.CallerNum;
            EmitNewexten(one, "AppQueue", "(Outgoing Line)");
            EmitNewCallerid(one);
            SetVariable(one, "DIALEDPEERNUMBER", $"{exten}@{context}");
            SetVariable(two, "DIALEDPEERNUMBER", $"{exten}@{context}");
            two.CallerNum = two.ConnectedNum = caller.CallerNum;
            two.CallerName = two.ConnectedName = caller.CallerName;
            EmitNewCallerid(two);
            ChannelEvent("NewConnectedLine", two);
            EmitLocalBridge(one, two);
        }
        else if (member.Interface.StartsWith("PJSIP/", StringComparison.OrdinalIgnoreCase) && _sim.Endpoints.TryDial(this, caller, member.Interface[6..], out var leg))
        {
            one = leg;
        }
        else
        {
            return;
        }

        var dial = new DialAttempt { Caller = caller, Destination = one, DialString = dialString, StartedAt = Now, Options = entry.Options, Queue = entry, Member = member };
        one.IncomingDial = dial;
        one.CdrMerged = true;
        caller.CdrPeer = one.Name;
        entry.Ringing.Add(dial);

        // app_queue moves the member channel to the caller's extension with the caller as connected
        // line before AgentCalled; the DialBegin that follows carries the snapshot from before that.
        var (oldExten, oldNum, oldName) = (one.Exten, one.ConnectedNum, one.ConnectedName);
        one.Exten = caller.Exten;
        one.ConnectedNum = caller.CallerNum;
        one.ConnectedName = caller.CallerName;
        QueueDialEvent("AgentCalled", dial, ("Queue", queue.Name), ("Interface", member.Interface), ("MemberName", member.Name));
        var (newExten, newNum, newName) = (one.Exten, one.ConnectedNum, one.ConnectedName);
        (one.Exten, one.ConnectedNum, one.ConnectedName) = (oldExten, oldNum, oldName);
        DialEvent("DialBegin", dial, ("DialString", dialString));
        (one.Exten, one.ConnectedNum, one.ConnectedName) = (newExten, newNum, newName);
        _sim.AriEvents.Dial(dial, "");

        // timeout = 0: the member rings until the Queue() timeout ends the wait.
        if (queue.RingTimeoutSeconds > 0)
        {
            Schedule(TimeSpan.FromSeconds(queue.RingTimeoutSeconds), () =>
            {
                if (!dial.Finished && dial.AnsweredAt is null && !entry.Left)
                {
                    MemberRingNoAnswer(dial);
                }
            });
        }

        if (two is not null)
        {
            StartPbx(two);
        }
        else
        {
            _sim.Endpoints.Ring(this, one);
        }
    }

    /// <summary>An Agent* event: the caller's snapshot (while it exists), the member channel's as Dest, then the given headers.</summary>
    private void QueueDialEvent(string name, DialAttempt dial, params (string Name, string Value)[] extra)
    {
        var message = Event(name, AmiPrivilege.Agent);
        if (dial.Caller is { Gone: false } caller)
        {
            AddChannel(message, caller);
        }

        if (!dial.Destination.Gone)
        {
            AddChannel(message, dial.Destination, "Dest");
        }

        foreach (var (n, v) in extra)
        {
            message.Add(n, v);
        }

        Publish(AmiPrivilege.Agent, message);
    }

    /// <summary>The member's phone rings: the member channel reports its new location and connected line (as recorded).</summary>
    private void QueueMemberRinging(Channel outbound)
    {
        EmitNewexten(outbound, "AppQueue", "(Outgoing Line)");
        ChannelEvent("NewConnectedLine", outbound);
        if (outbound.IncomingDial?.Queue is { RingWhenRinging: true, Left: false } entry)
        {
            // Option R: the caller hears the member's phone ring instead of the music.
            StopMusicOnHold(entry.Caller);
        }
    }

    /// <summary>The queue's ring timeout passed: AgentRingNoAnswer, the attempt is cancelled, the next member is tried after retry.</summary>
    private void MemberRingNoAnswer(DialAttempt dial)
    {
        var entry = dial.Queue!;
        var member = dial.Member!;
        var ringMs = (long)(Now - dial.StartedAt).TotalMilliseconds;
        QueueDialEvent("AgentRingNoAnswer", dial, ("Queue", entry.Queue.Name), ("Interface", member.Interface), ("MemberName", member.Name), ("RingTime", Text(ringMs)));
        WriteQueueLog(entry.Caller.UniqueId, entry.Queue.Name, member.Name, "RINGNOANSWER", Text(ringMs));
        dial.Finished = true;
        entry.Ringing.Remove(dial);
        dial.Destination.UnansweredDisposition ??= "NO ANSWER";
        DialEvent("DialEnd", dial, ("DialStatus", "NOANSWER"));
        DialEvent("DialEnd", dial, ("DialStatus", "CANCEL"));
        CloseQueueCdr(entry.Caller, "NO ANSWER");
        if (entry.RingWhenRinging && entry.Caller.MusicOnHoldClass is null)
        {
            StartMusicOnHold(entry.Caller, entry.Queue.Settings.MusicClass);
        }

        Teardown(dial.Destination, 0);
        if (entry.Ringing.Count == 0)
        {
            ScheduleQueueRetry(entry);
        }
    }

    /// <summary>A ringing member's call failed on its own (busy, rejected, hung up): the next is tried after retry.</summary>
    private void QueueDialFailed(DialAttempt dial)
    {
        var entry = dial.Queue!;
        entry.Ringing.Remove(dial);
        if (!entry.Left && entry.Ringing.Count == 0)
        {
            ScheduleQueueRetry(entry);
        }
    }

    /// <summary>The caller's CDR so far is closed with the attempt's outcome; a new one starts with the next attempt.</summary>
    private void CloseQueueCdr(Channel caller, string disposition)
    {
        if (caller.CdrMerged)
        {
            return;
        }

        caller.ClosedCdrs.Add(BuildCdr(caller, disposition));
        caller.CdrStartedAt = Now;
        caller.CdrAnsweredAt = caller.AnsweredAt is null ? null : Now;
        caller.CdrPeer = "";
    }

    private void SetQueueVariables(Channel channel, CallQueue queue)
    {
        SetVariable(channel, "QUEUENAME", queue.Name);
        SetVariable(channel, "QUEUEMAX", Text(queue.Settings.MaxLen));
        SetVariable(channel, "QUEUESTRATEGY", queue.Strategy);
        SetVariable(channel, "QUEUECALLS", Text(queue.Callers.Count));
        SetVariable(channel, "QUEUEHOLDTIME", Text(queue.HoldTime));
        SetVariable(channel, "QUEUETALKTIME", Text(queue.TalkTime));
        SetVariable(channel, "QUEUECOMPLETED", Text(queue.Completed));
        SetVariable(channel, "QUEUEABANDONED", Text(queue.Abandoned));
        SetVariable(channel, "QUEUESRVLEVEL", Text(queue.ServiceLevel));
        SetVariable(channel, "QUEUESRVLEVELPERF", ServiceLevelPerf(queue));
    }

    /// <summary>Share of completed calls answered within the service level, as app_queue prints it.</summary>
    internal static string ServiceLevelPerf(CallQueue queue) =>
        (queue.Completed > 0 ? 100.0 * queue.CompletedInServiceLevel / queue.Completed : 0.0).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>The same share counting abandoned calls too (app_queue's SL2; abandons within the level are not told apart here).</summary>
    internal static string ServiceLevelPerf2(CallQueue queue) =>
        (queue.Completed + queue.Abandoned > 0 ? 100.0 * queue.CompletedInServiceLevel / (queue.Completed + queue.Abandoned) : 0.0).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>app_queue's running average (three parts old, one part new); the first sample is taken as it is (as recorded: Holdtime 1 after one call held 1 s).</summary>
    private static int RunningAverage(int old, long sample, bool first) => first ? (int)sample : (int)((old * 3 + sample) / 4);

    /// <summary>The CLI's <c>queue show [name]</c>, in app_queue's layout.</summary>
    public List<string> ShowQueues(string? name)
    {
        var lines = new List<string>();
        var now = Now.ToUnixTimeSeconds();
        foreach (var queue in Queues.Where(q => name is null || q.Name == name))
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{queue.Name} has {queue.Callers.Count} calls (max {(queue.Settings.MaxLen > 0 ? Text(queue.Settings.MaxLen) : "unlimited")}) in '{queue.Strategy}' strategy ({queue.HoldTime}s holdtime, {queue.TalkTime}s talktime), W:{queue.Settings.Weight}, C:{queue.Completed}, A:{queue.Abandoned}, SL:{ServiceLevelPerf(queue)}%, SL2:{ServiceLevelPerf2(queue)}% within {queue.ServiceLevel}s"));
            if (queue.Members.Count == 0)
            {
                lines.Add("   No Members");
            }
            else
            {
                lines.Add("   Members: ");
                foreach (var m in queue.Members)
                {
                    var line = new System.Text.StringBuilder("      ").Append(m.Name);
                    if (m.Name != m.Interface)
                    {
                        line.Append(" (").Append(m.Interface);
                        if (m.StateInterface != m.Interface)
                        {
                            line.Append(" from ").Append(m.StateInterface);
                        }

                        line.Append(')');
                    }

                    if (m.Penalty != 0)
                    {
                        line.Append(CultureInfo.InvariantCulture, $" with penalty {m.Penalty}");
                    }

                    line.Append(m.RingInUse ? " (ringinuse enabled)" : " (ringinuse disabled)");
                    if (m.Membership == "dynamic")
                    {
                        line.Append(" (dynamic)");
                    }

                    if (m.InCall)
                    {
                        line.Append(" (in call)");
                    }

                    if (m.Paused)
                    {
                        line.Append(m.PausedReason.Length > 0 ? $" (paused:{m.PausedReason} was {now - m.LastPause} secs ago)" : $" (paused was {now - m.LastPause} secs ago)");
                    }

                    line.Append(" (").Append(MemberStatusText(DeviceState(m.StateInterface))).Append(')');
                    line.Append(m.CallsTaken > 0
                        ? string.Create(CultureInfo.InvariantCulture, $" has taken {m.CallsTaken} calls (last was {now - m.LastCall} secs ago)")
                        : " has taken no calls yet");
                    line.Append(CultureInfo.InvariantCulture, $" (login was {now - m.LoginTime} secs ago)");
                    lines.Add(line.ToString());
                }
            }

            if (queue.Callers.Count == 0)
            {
                lines.Add("   No Callers");
            }
            else
            {
                lines.Add("   Callers: ");
                for (var i = 0; i < queue.Callers.Count; i++)
                {
                    var wait = now - queue.Callers[i].JoinedAt.ToUnixTimeSeconds();
                    lines.Add(string.Create(CultureInfo.InvariantCulture, $"      {i + 1}. {queue.Callers[i].Caller.Name} (wait: {wait / 60}:{wait % 60:00}, prio: 0)"));
                }
            }

            lines.Add("");
        }

        return lines;
    }

    /// <summary>app_queue's text for a member's device state in <c>queue show</c>.</summary>
    private static string MemberStatusText(string deviceState) => deviceState switch
    {
        "NOT_INUSE" => "Not in use",
        "INUSE" => "In use",
        "BUSY" => "Busy",
        "INVALID" => "Invalid",
        "UNAVAILABLE" => "Unavailable",
        "RINGING" => "Ringing",
        "RINGINUSE" => "Ring+Inuse",
        "ONHOLD" => "On Hold",
        _ => "Unknown",
    };

    /// <summary>Whole seconds between two instants as app_queue counts them (time(NULL) differences).</summary>
    private static long WholeSeconds(DateTimeOffset from, DateTimeOffset to) => to.ToUnixTimeSeconds() - from.ToUnixTimeSeconds();

    /// <summary>The caller leaves the waiting list: the queue device, QueueCallerLeave and QUEUEPOSITION.</summary>
    private void LeaveQueue(QueueEntry entry)
    {
        var queue = entry.Queue;
        var position = queue.Callers.IndexOf(entry) + 1;
        entry.Left = true;
        entry.Generation++;
        queue.Callers.Remove(entry);
        if (queue.Callers.Count == 0)
        {
            SetQueueDevice("Queue:" + queue.Name, "NOT_INUSE");
        }

        ChannelEvent("QueueCallerLeave", entry.Caller, AmiPrivilege.Agent, ("Queue", queue.Name), ("Position", Text(position)), ("Count", Text(queue.Callers.Count)));
        SetVariable(entry.Caller, "QUEUEPOSITION", Text(position));
    }

    /// <summary>Stops ringing every member still rung for this caller (another answered, or the caller left).</summary>
    private void CancelQueueRings(QueueEntry entry, DialAttempt? except = null)
    {
        foreach (var other in entry.Ringing.Where(d => d != except).ToList())
        {
            entry.Ringing.Remove(other);
            if (other.Finished)
            {
                continue;
            }

            other.Finished = true;
            DialEvent("DialEnd", other, ("DialStatus", "CANCEL"));
            var destination = other.Destination;
            Defer(() => Teardown(destination, 0));
        }
    }

    /// <summary>A member answered: the caller is connected (the app_queue sequence of variables and events as recorded), then bridged.</summary>
    private void AnswerQueueDial(DialAttempt dial)
    {
        var entry = dial.Queue!;
        var member = dial.Member!;
        var caller = entry.Caller;
        var queue = entry.Queue;
        var agent = dial.Destination;
        dial.AnsweredAt = Now;
        dial.Finished = true;
        if (entry.Left || caller.Gone || caller.Ending)
        {
            Teardown(agent, 16);
            return;
        }

        CancelQueueRings(entry, dial);
        entry.Ringing.Remove(dial);
        DialEvent("DialEnd", dial, ("DialStatus", "ANSWER"));
        AriDialStatus(dial, "ANSWER");
        StopMusicOnHold(caller);
        var hold = WholeSeconds(entry.JoinedAt, Now);
        foreach (var channel in new[] { caller, agent })
        {
            SetVariable(channel, "MEMBERINTERFACE", member.Interface);
            SetVariable(channel, "MEMBERNAME", member.Name);
            SetVariable(channel, "MEMBERCALLS", Text(member.CallsTaken));
            SetVariable(channel, "MEMBERLASTCALL", Text(member.LastCall));
            SetVariable(channel, "MEMBERPENALTY", Text(member.Penalty));
            SetVariable(channel, "MEMBERDYNAMIC", member.Membership == "dynamic" ? "1" : "0");
            SetVariable(channel, "MEMBERREALTIME", "0");
        }

        foreach (var channel in new[] { caller, agent })
        {
            SetVariable(channel, "QEHOLDTIME", Text(hold));
            SetVariable(channel, "QEORIGINALPOS", Text(entry.OriginalPosition));
        }

        foreach (var channel in new[] { caller, agent })
        {
            SetQueueVariables(channel, queue);
        }

        LeaveQueue(entry);
        SetVariable(caller, "QUEUEWAIT", Text(hold));
        SetVariable(caller, "QUEUEWAIT_MS", Text(hold * 1000));
        var ring = WholeSeconds(dial.StartedAt, Now);
        QueueDialEvent("AgentConnect", dial, ("Queue", queue.Name), ("Interface", member.Interface), ("MemberName", member.Name),
            ("HoldTime", Text(hold)), ("RingTime", Text(ring)));
        WriteQueueLog(caller.UniqueId, queue.Name, member.Name, "CONNECT", $"{hold}|{agent.UniqueId}|{ring}");
        member.InCall = true;
        entry.Connected = dial;
        queue.HoldTime = RunningAverage(queue.HoldTime, hold, !queue.HasHoldSamples);
        queue.HasHoldSamples = true;
        var index = queue.Members.IndexOf(member);
        if (index >= 0)
        {
            queue.RoundRobinNext = index + 1;
        }

        var bridge = CreateBridge(Guid.NewGuid().ToString(), "basic", "", "", createdByAri: false);
        EnterBridge(agent, bridge);
        EnterBridge(caller, bridge);
    }

    /// <summary>
    /// The connected queue call ends (<paramref name="callerHungUp"/>: the caller's side went first):
    /// AgentComplete, the member is free again, the queue's counters move; the caller's Queue() returns.
    /// </summary>
    private void CompleteQueueCall(QueueEntry entry, bool callerHungUp)
    {
        if (entry.Completed || entry.Connected is not { } dial)
        {
            return;
        }

        entry.Completed = true;
        var member = dial.Member!;
        var queue = entry.Queue;
        var talk = WholeSeconds(dial.AnsweredAt ?? Now, entry.EndedAt ?? Now);
        var hold = WholeSeconds(entry.JoinedAt, dial.AnsweredAt ?? Now);
        ReleaseQueueMember(entry);
        QueueDialEvent("AgentComplete", dial, ("Queue", queue.Name), ("Interface", member.Interface), ("MemberName", member.Name),
            ("HoldTime", Text(hold)), ("TalkTime", Text(talk)), ("Reason", callerHungUp ? "caller" : "agent"));
        WriteQueueLog(entry.Caller.UniqueId, queue.Name, member.Name, callerHungUp ? "COMPLETECALLER" : "COMPLETEAGENT", $"{hold}|{talk}|{entry.OriginalPosition}");
    }

    /// <summary>The connected call is over: the member is free for this queue again and the queue's counters move (once).</summary>
    private void ReleaseQueueMember(QueueEntry entry)
    {
        if (entry.EndedAt is not null || entry.Connected is not { } dial)
        {
            return;
        }

        entry.EndedAt = Now;
        var member = dial.Member!;
        var queue = entry.Queue;
        var talk = WholeSeconds(dial.AnsweredAt ?? Now, Now);
        var hold = WholeSeconds(entry.JoinedAt, dial.AnsweredAt ?? Now);
        member.InCall = false;
        member.CallsTaken++;
        member.LastCall = Now.ToUnixTimeSeconds();
        queue.Completed++;
        if (hold <= queue.ServiceLevel)
        {
            queue.CompletedInServiceLevel++;
        }

        queue.TalkTime = RunningAverage(queue.TalkTime, talk, queue.Completed == 1);
    }

    /// <summary>The caller leaves the queue's bridge (the call ended): app_queue's variables as recorded.</summary>
    private void QueueCallerLeftBridge(Channel caller, QueueEntry entry)
    {
        var dial = entry.Connected!;
        SetQueueVariables(caller, entry.Queue);
        var answered = (long)(Now - (dial.AnsweredAt ?? Now)).TotalMilliseconds;
        var dialed = (long)(Now - entry.JoinedAt).TotalMilliseconds;
        SetVariable(caller, "ANSWEREDTIME", Text(answered / 1000));
        SetVariable(caller, "ANSWEREDTIME_MS", Text(answered));
        SetVariable(caller, "DIALEDTIME", Text(dialed / 1000));
        SetVariable(caller, "DIALEDTIME_MS", Text(dialed));
        SetQueueVariables(caller, entry.Queue);
    }

    /// <summary>
    /// The caller's own line went away (its Local partner hung up) while in the Queue application:
    /// a waiting caller abandons; a connected caller completes the call (AgentComplete first, as recorded).
    /// Returns true when the channel must end with Normal Clearing.
    /// </summary>
    private bool QueueCallerLineGone(Channel caller)
    {
        if (caller.QueueEntry is not { } entry)
        {
            return false;
        }

        if (!entry.Left)
        {
            AbandonQueue(entry);
            caller.QueueEntry = null;
            return true;
        }

        if (entry.Connected is not null && caller.Bridge is { CreatedByAri: false } bridge && !entry.Completed)
        {
            CompleteQueueCall(entry, callerHungUp: true);
            LeaveBridge(caller, bridge);
            QueueCallerLeftBridge(caller, entry);
            caller.QueueEntry = null;
            AfterBridgeMemberLeft(bridge);
            return true;
        }

        return false;
    }

    /// <summary>A waiting caller hangs up: ABANDONED, QueueCallerAbandon and the queue_log line.</summary>
    private void AbandonQueue(QueueEntry entry)
    {
        var caller = entry.Caller;
        var queue = entry.Queue;
        CancelQueueRings(entry);
        StopMusicOnHold(caller);
        var wait = WholeSeconds(entry.JoinedAt, Now);
        var waitMs = (long)(Now - entry.JoinedAt).TotalMilliseconds;
        SetVariable(caller, "QUEUEWAIT", Text(wait));
        SetVariable(caller, "QUEUEWAIT_MS", Text(wait * 1000));
        SetVariable(caller, "DIALEDTIME", Text(waitMs / 1000));
        SetVariable(caller, "DIALEDTIME_MS", Text(waitMs));
        SetVariable(caller, "ANSWEREDTIME", "0");
        SetVariable(caller, "ANSWEREDTIME_MS", "0");
        SetVariable(caller, "ABANDONED", "TRUE");
        var position = queue.Callers.IndexOf(entry) + 1;
        queue.Abandoned++;
        SetQueueVariables(caller, queue);
        ChannelEvent("QueueCallerAbandon", caller, AmiPrivilege.Agent, ("Queue", queue.Name), ("Position", Text(position)),
            ("OriginalPosition", Text(entry.OriginalPosition)), ("HoldTime", Text(wait)));
        WriteQueueLog(caller.UniqueId, queue.Name, "NONE", "ABANDON", $"{position}|{entry.OriginalPosition}|{wait}");

        // app_queue counts the abandon a second time when the caller leaves (the recording shows
        // QUEUEABANDONED going up by two).
        queue.Abandoned++;
        SetQueueVariables(caller, queue);
        LeaveQueue(entry);
    }

    /// <summary>The Queue() timeout passed with nobody answering: an abandon is recorded, QUEUESTATUS=TIMEOUT and the dialplan goes on.</summary>
    private void QueueTimedOut(QueueEntry entry) => LeaveQueueEarly(entry, "TIMEOUT", "EXITWITHTIMEOUT", abandoned: true);

    /// <summary>The queue's bridge broke up with the caller still in it (the member hung up): the caller's Queue() returns and, without <c>c</c>, the caller is hung up.</summary>
    private void QueueCallerBridgeEnded(Channel caller, Bridge bridge)
    {
        var entry = caller.QueueEntry!;
        ReleaseQueueMember(entry);
        LeaveBridge(caller, bridge);
        QueueCallerLeftBridge(caller, entry);
        caller.QueueEntry = null;
        var complete = () => CompleteQueueCall(entry, callerHungUp: true);
        if (entry.Options.Contains('c', StringComparison.Ordinal) && caller.InPbx)
        {
            complete();
            caller.Priority++;
            Defer(() => ContinuePbx(caller));
            return;
        }

        // AgentComplete is published once the caller has gone (it carries no channel then).
        _pendingQueueCompletions.Add((caller, complete));
        HangupFromPbx(caller, 16);
    }

    private readonly List<(Channel Caller, Action Complete)> _pendingQueueCompletions = [];

    /// <summary>Runs the AgentComplete of a caller that just went (see <see cref="QueueCallerBridgeEnded"/>).</summary>
    private void RunPendingQueueCompletions(Channel gone)
    {
        for (var i = _pendingQueueCompletions.Count - 1; i >= 0; i--)
        {
            if (_pendingQueueCompletions[i].Caller == gone)
            {
                var complete = _pendingQueueCompletions[i].Complete;
                _pendingQueueCompletions.RemoveAt(i);
                complete();
            }
        }
    }
}
