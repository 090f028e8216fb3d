namespace CtiBridge.Core.Acd;

public sealed partial class AcdEngine
{
    private InputOutcome Restore(AgentRestored x)
    {
        if (x.StateSince is not { } since || since >= Now)
        {
            return RestoreNow(x, null);
        }

        // Stamped at the state's real start (as EndAt does for a late-learned end); an agent made ready is offered calls now.
        _backdate = since;
        _freedMeanwhile = [];
        var freed = _freedMeanwhile;
        InputOutcome outcome;
        try
        {
            outcome = RestoreNow(x, since);
        }
        finally
        {
            _backdate = null;
            _freedMeanwhile = null;
        }

        foreach (var a in freed)
        {
            AgentAvailable(a);
        }

        return outcome;
    }

    private InputOutcome RestoreNow(AgentRestored x, DateTimeOffset? since)
    {
        // A wrap-up still running, or one that ended between the kill and now when its start is known (it ends when it was due, below).
        var wrapping = x.PauseReason is null && x.WrapUpEndsAt is { } ends && (ends > Now || since < ends) && x.WrapUpCallId is not null && x.WrapUpQueue is not null;

        // No wrap-up left: what waited for the call's end applies now (a logout through a pause, so no call is offered in between).
        var pauseNow = wrapping || x.PauseReason is not null ? null
            : x.PendingLogout ? x.PendingPauseReason ?? "logged out"
            : x.PendingPauseReason;
        var outcome = Login(new AgentLogin(x.At, x.AgentId, x.Extension, string.Empty, x.Queues, x.Skills, x.PauseReason ?? pauseNow), pinChecked: true, wrapping ? x : null, x.LoggedInAt);
        if (!outcome.Accepted)
        {
            return outcome;
        }

        var a = _agents[x.AgentId];
        if (a.State == AgentState.WrapUp)
        {
            if (x.PendingLogout || x.PendingPauseReason is not null)
            {
                a.Pending = x.PendingLogout ? PendingChange.Logout : PendingChange.Pause;
                a.PendingPauseReason = x.PendingPauseReason ?? "logged out";
                a.PendingSource = x.PendingSource;
                Publish(new AgentPendingChanged(a.Id, a.PendingPauseReason, x.PendingLogout, x.PendingSource));
            }

            if (a.WrapUpEndsAt <= Now)
            {
                // Its wrap-up ended while nobody controlled the calls: it ended when it was due, and what waited for it applies then.
                var stamp = _backdate;
                _backdate = a.WrapUpEndsAt;
                FinishWrapUp(a, "wrap-up ended", ChangeSource.System);
                _backdate = stamp;
            }
        }
        else if (x.PendingLogout && x.PauseReason is null)
        {
            CompleteLogout(a, x.PendingPauseReason ?? "logged out", x.PendingSource);
        }
        else if (a.State == AgentState.Ready && x.RingingCallId is { } ringingCallId && since is { } ringStart)
        {
            EndRestoredRing(a, ringingCallId, x.RingingQueue, ringStart, x.RingAnsweredAt);
        }

        return outcome;
    }

    /// <summary>
    /// The ring the previous engine had going for the agent (see <see cref="AgentRestored.RingingCallId"/>): ringing since
    /// its start (the stamp now), ended at the answer, at its timeout when that passed already (a missed call), or now
    /// (withdrawn), then ready. The login made the agent ready and available first: it is offered calls now (Restore).
    /// </summary>
    private void EndRestoredRing(Agent a, string callId, string? queueName, DateTimeOffset ringStart, DateTimeOffset? answeredAt)
    {
        var q = queueName is not null && _queues.TryGetValue(queueName, out var found) ? found : null;
        SetState(a, AgentState.Ringing, "ringing when call control was taken over", ChangeSource.System, callId, q?.Name);
        OfferEnd? end;
        DateTimeOffset endedAt;
        string reason;
        if (answeredAt is { } answered && answered >= ringStart)
        {
            // Answered before the restore: the adoption puts the agent on the call from the answer.
            (end, endedAt, reason) = (null, answered < Now ? answered : Now, "answered");
        }
        else if (q is not null && ringStart + q.Config.RingTimeout <= Now)
        {
            // Its timeout passed while nobody controlled the calls: missed then, as the previous engine would have had it.
            (end, endedAt, reason) = (OfferEnd.RingTimeout, ringStart + q.Config.RingTimeout, "ring no answer");
            a.ConsecutiveNoAnswers++;
        }
        else
        {
            // Cut by the restore (its leg is hung up, the call offered again from here): not the agent's miss.
            (end, endedAt, reason) = (OfferEnd.Withdrawn, Now, "ring ended by a takeover");
        }

        var stamp = _backdate;
        _backdate = endedAt < Now ? endedAt : null;
        if (end is { } how && q is not null)
        {
            Publish(new CallOfferEnded(callId, q.Name, a.Id, how, endedAt - ringStart));
        }

        SetState(a, AgentState.Ready, reason, ChangeSource.System, callId, q?.Name);
        _backdate = stamp;
    }

    /// <summary>Back in the wrap-up a restart interrupted, for the time it had left (a login's last step).</summary>
    private void ResumeWrapUp(Agent a, DateTimeOffset endsAt, string callId, string queue)
    {
        a.WrapUpCallId = callId;
        a.WrapUpQueue = queue;
        a.WrapUpTalk = TimeSpan.Zero;
        a.WrapUpHold = TimeSpan.Zero;
        a.WrapUpStartedAt = Stamp;
        a.WrapUpRestored = true;
        a.WrapUpEndsAt = endsAt;
        SetState(a, AgentState.WrapUp, "wrap-up carried over a restart", ChangeSource.System, callId, queue);
        Schedule(endsAt, TimerKind.WrapUpEnd, null, a, ++a.WrapUpVersion);
        Publish(new AgentWrapUpTimed(a.Id, callId, queue, endsAt));
    }

    private InputOutcome Adopt(CallAdoption x)
    {
        if (string.IsNullOrWhiteSpace(x.CallId))
        {
            return InputOutcome.Refused("adopted call without a call id");
        }

        if (!_queues.TryGetValue(x.Queue ?? string.Empty, out var q))
        {
            return InputOutcome.Refused($"adopted call '{x.CallId}' is in unknown queue '{x.Queue}' (known: {string.Join(", ", _queues.Keys)})");
        }

        if (_calls.ContainsKey(x.CallId))
        {
            return InputOutcome.Refused($"call '{x.CallId}' is already in the ACD");
        }

        Agent? agent = null;
        if (x.AgentId is { } agentId && (!_agents.TryGetValue(agentId, out agent) || agent.State != AgentState.Ready || agent.Call is not null))
        {
            return InputOutcome.Refused($"adopted call '{x.CallId}' is connected to agent '{agentId}', who is not logged in and free here");
        }

        var caller = x.Caller ?? new CallerData();
        var skills = caller.RequiredSkills.Where(s => !string.IsNullOrWhiteSpace(s))
            .Select(s => s.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase).ToArray();

        // Times from the other engine never lie in this engine's future (clocks of two hosts differ).
        var enqueuedAt = x.EnqueuedAt > Now ? Now : x.EnqueuedAt;
        // A callback conversation taken over stays a callback task (no inbound queue visit, no survey of the ACD's).
        var call = new Call(x.CallId, caller, skills, string.Join('+', skills).ToUpperInvariant(), ++_callSeq, enqueuedAt)
        {
            IsCallback = CallbackTasks.IsCallbackTask(caller),
        };
        _calls.Add(call.Id, call);
        if (agent is null)
        {
            // A call for one named agent stays one: that agent alone is rung, else the route's fallback.
            Agent? direct = null;
            if (x.DirectFallback is { } fallback && x.Visit <= 1 && caller.AssignedAgentId is { } named && _agents.TryGetValue(named, out direct)
                && (fallback.Kind != OverflowTargetKind.Queue || _queues.ContainsKey(fallback.Destination ?? string.Empty)))
            {
                call.DirectFallback = fallback.Kind == OverflowTargetKind.Queue && fallback.Destination == q.Name ? null : fallback;
            }

            Enqueue(call, q, direct, adopted: x);
            return InputOutcome.Ok;
        }

        call.Queue = q;
        call.Visit = Math.Max(1, x.Visit);
        call.VisitVersion++;
        call.VisitEnqueuedAt = enqueuedAt;
        call.Priority = PriorityOf(call, q);
        call.Phase = CallPhase.Connected;
        call.Agent = agent;
        call.AnsweredAt = x.AnsweredAt is { } answered && answered <= Now ? answered : Now;
        call.Hold = x.Hold > TimeSpan.Zero && x.Hold <= Now - call.AnsweredAt ? x.Hold : TimeSpan.Zero; // held before the takeover: hold, not talk
        agent.Call = call;
        agent.ConsecutiveNoAnswers = 0;
        Publish(Adopted(call, x));

        // On the call since the answer, when the agent's restored state does not say otherwise (restored since then).
        var onCallSince = Max(call.AnsweredAt, agent.StateSince);
        var stamp = _backdate;
        _backdate = onCallSince < Now ? onCallSince : stamp;
        SetState(agent, AgentState.OnCall, "call taken over", ChangeSource.System, call.Id, q.Name);
        _backdate = stamp;
        if (caller.CallerNumber is { } number)
        {
            RememberLastAgent(number, agent.Id);
        }

        return InputOutcome.Ok;
    }

    private static CallAdopted Adopted(Call call, CallAdoption x) =>
        new(call.Id, call.Queue.Name, call.Visit, x.StartedAt, x.FirstEnqueuedAt, call.VisitEnqueuedAt,
            x.Queues.Count > 0 ? x.Queues : [call.Queue.Name], x.EntryPosition, call.Caller, call.Agent?.Id, call.Agent is null ? null : call.AnsweredAt)
        {
            Priority = call.Priority,
        };
}
