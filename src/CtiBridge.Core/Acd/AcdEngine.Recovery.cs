namespace CtiBridge.Core.Acd;

public sealed partial class AcdEngine
{
    private InputOutcome Restore(AgentRestored x) =>
        Login(new AgentLogin(x.At, x.AgentId, x.Extension, string.Empty, x.Queues, x.Skills, x.PauseReason), pinChecked: true);

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
        var call = new Call(x.CallId, caller, skills, string.Join('+', skills).ToUpperInvariant(), ++_callSeq, enqueuedAt);
        _calls.Add(call.Id, call);
        if (agent is null)
        {
            Enqueue(call, q, adopted: x);
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
        agent.Call = call;
        agent.ConsecutiveNoAnswers = 0;
        Publish(Adopted(call, x));
        SetState(agent, AgentState.OnCall, "call taken over", ChangeSource.System, call.Id, q.Name);
        if (caller.CallerNumber is { } number)
        {
            RememberLastAgent(number, agent.Id);
        }

        return InputOutcome.Ok;
    }

    private static CallAdopted Adopted(Call call, CallAdoption x) =>
        new(call.Id, call.Queue.Name, call.Visit, x.StartedAt, x.FirstEnqueuedAt, call.VisitEnqueuedAt,
            x.Queues.Count > 0 ? x.Queues : [call.Queue.Name], x.EntryPosition, call.Caller, call.Agent?.Id, call.Agent is null ? null : call.AnsweredAt);
}
