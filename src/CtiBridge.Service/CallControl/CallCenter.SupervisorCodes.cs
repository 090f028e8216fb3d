using CtiBridge.Core.Acd;
using CtiBridge.Data.Access;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// A supervisor's forced changes from the desk phone (SUP-04 强拆 and the forced 示忙 / 示闲 / 签出):
/// <c>*85</c> hang-up, <c>*86</c> pause, <c>*87</c> resume, <c>*88</c> logout (configurable), the
/// agent ID after the code or asked for by prompt, then the supervisor PIN, as for the listen /
/// whisper / barge / take-over codes. They do what the API's <c>/api/supervisor/agents/{id}/…</c>
/// does (recorded as the supervisor's change) and are audited like it: one <c>audit_log</c> row
/// per code, actor <c>supervisor:&lt;id&gt;</c>, the outcome as the API's HTTP status would be.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>The audit trail for supervisors' feature codes (the API audits its own requests); none: not audited.</summary>
    internal AuditLog? Audit { get; init; }

    /// <summary>The last audit write asked for (loop only; written off the loop, in order).</summary>
    private Task _supervisorAuditWrites = Task.CompletedTask;

    /// <summary>A supervisor's forced change by feature code.</summary>
    private enum ForceAction
    {
        None,
        HangUp,
        Pause,
        Resume,
        Logout,
    }

    /// <summary>The forced change <paramref name="code"/> starts with (the longest matching code), if any.</summary>
    private (ForceAction Action, string Prefix)? ForceCodeOf(string code)
    {
        var codes = _settings.FeatureCodes;
        return new[] { (ForceAction.HangUp, codes.ForceHangUp), (ForceAction.Pause, codes.ForcePause), (ForceAction.Resume, codes.ForceResume), (ForceAction.Logout, codes.ForceLogout) }
            .Where(c => code.StartsWith(c.Item2, StringComparison.Ordinal)).OrderByDescending(c => c.Item2.Length)
            .Select(c => ((ForceAction, string)?)c).FirstOrDefault();
    }

    private static string ForceName(ForceAction action) => action switch
    {
        ForceAction.HangUp => "force-hangup",
        ForceAction.Pause => "force-pause",
        ForceAction.Resume => "force-resume",
        _ => "force-logout",
    };

    /// <summary>From a supervisor's phone: the agent ID follows the code, or is asked for (<c>agent-user</c>, then #); then the PIN.</summary>
    private void StartForceCode(FeatureCall feature, SupervisorSettings supervisor, string code, ForceAction action, string prefix)
    {
        feature.SupervisorId = supervisor.Id;
        feature.Force = action;
        feature.AuditAction = "phone " + prefix + " " + ForceName(action);
        AskAgentThenPin(feature, code, prefix);
    }

    /// <summary>
    /// The agent ID typed after <paramref name="prefix"/> in <paramref name="code"/>, or asked for
    /// (<c>agent-user</c>, then #) when none was; then the supervisor PIN. Shared by the force codes
    /// and the listen / whisper / barge / take-over codes, so both ask the same way.
    /// </summary>
    private void AskAgentThenPin(FeatureCall feature, string code, string prefix)
    {
        var agentId = code[prefix.Length..];
        if (agentId.Length == 0)
        {
            Ask(feature, FeatureStep.SupervisedAgentId, "agent-user");
            return;
        }

        feature.AgentId = agentId;
        Ask(feature, FeatureStep.SupervisorPin, "agent-pass");
    }

    /// <summary>The supervisor PIN was right: the agent is checked, then the forced change is made (a pause asks its reason digit first).</summary>
    private void OnForceCodeAuthorized(FeatureCall feature, DateTimeOffset at)
    {
        var agentId = feature.AgentId!;
        if (!_agents.ContainsKey(agentId))
        {
            // "That is not a valid extension": the number typed is no agent of ours.
            AuditSupervisorCode(feature, at, StatusCodes.Status404NotFound);
            LogFeatureRefused(_logger, feature.Phone, $"agent '{agentId}' is not configured in callControl.agents");
            FinishWith(feature, "pbx-invalid");
            return;
        }

        if (feature.Force == ForceAction.Pause)
        {
            Ask(feature, FeatureStep.ForcePauseReason, "beep", digitsWanted: 1);
            return;
        }

        var outcome = feature.Force switch
        {
            ForceAction.HangUp => ForceHangUpNow(agentId, at),
            ForceAction.Resume => _engine.Handle(new AgentResume(at, agentId, ChangeSource.Supervisor)),
            _ => _engine.Handle(new AgentLogout(at, agentId, ChangeSource.Supervisor)),
        };
        EndForceCode(feature, outcome, at, feature.Force == ForceAction.Logout ? "agent-loggedoff" : "beep");
    }

    private void ForcePause(FeatureCall feature, char digit, DateTimeOffset at)
    {
        var outcome = _settings.FeatureCodes.PauseReasons.TryGetValue(digit.ToString(), out var reason)
            ? _engine.Handle(new AgentPause(at, feature.AgentId!, reason, ChangeSource.Supervisor))
            : InputOutcome.Refused($"pause reason digit '{digit}' is not configured in callControl.featureCodes.pauseReasons");
        EndForceCode(feature, outcome, at, "beep");
    }

    private void EndForceCode(FeatureCall feature, InputOutcome outcome, DateTimeOffset at, string okPrompt)
    {
        AuditSupervisorCode(feature, at, outcome.Accepted ? StatusCodes.Status200OK : StatusCodes.Status409Conflict);
        LogForceCode(_logger, feature.SupervisorId!, ForceName(feature.Force), feature.AgentId!, outcome.Accepted ? "done" : outcome.Reason ?? "refused");
        Finish(feature, outcome, okPrompt);
    }

    /// <summary>Plays <paramref name="prompt"/> (whatever the outcome) and hangs up.</summary>
    private void FinishWith(FeatureCall feature, string prompt)
    {
        Finish(feature, InputOutcome.Ok, prompt);
    }

    /// <summary>
    /// Ends <paramref name="agentId"/>'s current call at once (both sides released, no survey; the
    /// agent's side released it). Refused when the agent is not talking to a caller.
    /// </summary>
    private InputOutcome ForceHangUpNow(string agentId, DateTimeOffset at) =>
        OnAgentsCall(agentId, at, (session, now) => ForceHangUp(session, agentId, now));

    /// <summary>Writes the supervisor code's audit row off the loop; a failed write is logged, the call goes on.</summary>
    private void AuditSupervisorCode(FeatureCall feature, DateTimeOffset at, int outcome)
    {
        if (Audit is not { } audit || feature.AuditAction is null)
        {
            return;
        }

        var entry = new AuditEntry(at, "supervisor:" + feature.SupervisorId, "supervisor", feature.AuditAction, feature.AgentId, outcome, feature.Phone);
        _supervisorAuditWrites = WriteAuditAfterAsync(_supervisorAuditWrites, audit, entry);
    }

    /// <summary>One write after the other, so the trail keeps the order the codes were handled in.</summary>
    private async Task WriteAuditAfterAsync(Task previous, AuditLog audit, AuditEntry entry)
    {
        await previous.ConfigureAwait(false);
        try
        {
            await audit.WriteAsync(entry, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException)
        {
            LogSupervisorAuditFailed(_logger, entry.Action, entry.Actor, ex.Message);
        }
    }

    [LoggerMessage(EventId = 894, Level = LogLevel.Information, Message = "Supervisor {SupervisorId} by phone: {Action} of agent {AgentId}: {Result}")]
    private static partial void LogForceCode(ILogger logger, string supervisorId, string action, string agentId, string result);

    [LoggerMessage(EventId = 886, Level = LogLevel.Error, Message = "Could not write the audit row for {Action} by {Actor}: {Reason}")]
    private static partial void LogSupervisorAuditFailed(ILogger logger, string action, string actor, string reason);
}
