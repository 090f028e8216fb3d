using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.Data.Records;

namespace CtiBridge.Service.Dialer;

/// <summary>What the dialer knows about one finished attempt beyond the domain's <see cref="AttemptResult"/>.</summary>
/// <param name="CampaignId">The campaign.</param>
/// <param name="CallerId">The caller ID presented (E.164).</param>
/// <param name="AgentId">The agent who talked to the customer, if one did.</param>
/// <param name="AgentEndpoint">That agent's phone (the nailed-up channel's endpoint).</param>
/// <param name="Channel">The customer's Asterisk channel name when it answered, else the endpoint dialled.</param>
/// <param name="HangupCause">The Q.850 cause Asterisk gave for the customer's channel, if any.</param>
/// <param name="MessagePlayed">The recording played to whatever answered (abandon, machine or broadcast message), if any.</param>
/// <param name="HungUpByDialer">True when the dialer ended the call (after a message, on a machine, agent gone), false when the customer hung up.</param>
/// <param name="AsteriskServer">The Asterisk server (asterisk[].name) that placed the call, if known.</param>
/// <param name="EndEstimated">The call ended unseen in an ARI events gap and nothing reported it: its end is the gap's start, an estimate.</param>
internal sealed record DialerCallFacts(
    string CampaignId, string CallerId, string? AgentId, string? AgentEndpoint, string? Channel, int? HangupCause, string? MessagePlayed, bool HungUpByDialer,
    string? AsteriskServer = null, bool EndEstimated = false);

/// <summary>
/// Turns a dialer attempt into the call records every other call gets (table <c>calls</c> and its
/// legs), so the centre's outbound figures, the <c>cdr</c> view and the exports include dialer calls.
/// The call id is the dialer's call id (also the customer's channel id and
/// <c>dialer_attempts.call_id</c>); rewriting a record (wrap-up known later, a replay) never duplicates it.
/// </summary>
internal static class DialerCallRecords
{
    /// <summary>
    /// The disposition of a dialer attempt (docs/metrics.md §7): <c>answered</c> when an agent
    /// talked to the person (even if later than the connect deadline, which the ledger counts as
    /// an abandon) or a voice broadcast reached a person; <c>abandoned</c> when a person answered and
    /// no agent came; <c>voicemail</c> when a message was left on a machine; <c>no_answer</c> for
    /// no answer and machines hung up on; <c>busy</c>; <c>failed</c> for everything else
    /// (congestion, rejected, invalid number, lost reply).
    /// </summary>
    public static CallDisposition DispositionOf(AttemptResult result, DialerCallFacts facts)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(facts);
        var call = result.Call;
        if (call.AgentConnectedAt is not null)
        {
            return CallDisposition.Answered;
        }

        return result.Outcome switch
        {
            CallOutcome.HumanAnswer when !call.Abandoned && facts.MessagePlayed is not null => CallDisposition.Answered,
            CallOutcome.HumanAnswer => CallDisposition.Abandoned,
            CallOutcome.Machine when facts.MessagePlayed is not null => CallDisposition.Voicemail,
            CallOutcome.Machine or CallOutcome.NoAnswer => CallDisposition.NoAnswer,
            CallOutcome.Busy => CallDisposition.Busy,
            _ => CallDisposition.Failed,
        };
    }

    /// <summary>The call row (revision 0 at the end of the call; wrap-up comes with revision 1).</summary>
    public static CallRecord Call(AttemptResult result, DialerCallFacts facts, TimeSpan wrapUp = default, int revision = 0)
    {
        var call = result.Call;
        var disposition = DispositionOf(result, facts);
        var ended = result.EndedAt < call.DialedAt ? call.DialedAt : result.EndedAt;
        double? wait = call.AnsweredAt is { } answered && disposition is CallDisposition.Answered or CallDisposition.Abandoned
            ? Math.Max(0, ((call.AgentConnectedAt ?? ended) - answered).TotalSeconds)
            : null;
        return new CallRecord
        {
            CallId = call.CallId,
            StartedAt = call.DialedAt,
            Revision = revision,
            Direction = CallDirection.Outbound,
            Caller = facts.CallerId,
            Callee = call.PhoneNumber,
            AnsweredAt = call.AnsweredAt, // the customer's answer: the cdr view's billsec is what the carrier bills
            EndedAt = ended,
            WaitSeconds = wait,
            TalkSeconds = call.AgentConnectedAt is { } connected ? Math.Max(0, (ended - connected).TotalSeconds) : 0,
            WrapUpSeconds = Math.Max(0, wrapUp.TotalSeconds),
            Disposition = disposition,
            AgentId = call.AgentConnectedAt is null ? null : facts.AgentId,
            ReleasedBy = call.AnsweredAt is null ? null : facts.HungUpByDialer ? ReleasedBy.System : ReleasedBy.Caller,
            CampaignId = facts.CampaignId,
            LeadId = call.LeadId,
            AsteriskServer = facts.AsteriskServer,
            EndEstimated = facts.EndEstimated,
        };
    }

    /// <summary>The customer's leg and, when an agent talked, the agent's leg (the <c>cdr</c> view's channel and dstchannel).</summary>
    public static IEnumerable<CallLegRecord> Legs(AttemptResult result, DialerCallFacts facts)
    {
        var call = result.Call;
        var ended = result.EndedAt < call.DialedAt ? call.DialedAt : result.EndedAt;
        yield return new CallLegRecord
        {
            LegId = call.CallId,
            StartedAt = call.DialedAt,
            CallId = call.CallId,
            Party = CallParty.Customer,
            Channel = facts.Channel ?? call.Endpoint,
            AnsweredAt = call.AnsweredAt,
            EndedAt = ended,
            HangupCause = facts.HangupCause,
        };
        if (call.AgentConnectedAt is { } connected && facts.AgentId is not null)
        {
            yield return new CallLegRecord
            {
                LegId = call.CallId + "-agent",
                StartedAt = connected,
                CallId = call.CallId,
                Party = CallParty.Agent,
                AgentId = facts.AgentId,
                Channel = facts.AgentEndpoint,
                AnsweredAt = connected,
                EndedAt = ended < connected ? connected : ended,
            };
        }
    }

    /// <summary>
    /// The call row of an attempt whose instance died with it (kill -9, host lost) and that a living
    /// instance's sweep ended once its channel was gone: <c>system_lost</c>, released by the system, ended
    /// when the sweep found it gone (its real end died with the instance, so no talk time is claimed), the
    /// agent it was put through to if that was written ahead. Only the sweep that ended the attempt writes it.
    /// </summary>
    public static CallRecord Lost(OrphanedAttempt attempt) =>
        Orphaned(attempt, CallDisposition.SystemLost) with
        {
            // No talk time is claimed; the wait is the written-ahead connect delay only.
            TalkSeconds = 0,
            WaitSeconds = attempt is { AnsweredAt: { } answered, AgentConnectedAt: { } connected } ? Math.Max(0, (connected - answered).TotalSeconds) : null,
            ReleasedBy = ReleasedBy.System,
        };

    /// <summary>
    /// The call row of an attempt whose end its instance stored but whose record it never stored (killed between the
    /// two): the end, outcome and agent are the stored ones; what was only in the instance's memory is not claimed
    /// (the message played, who hung up). The disposition follows <see cref="DispositionOf"/> on what is stored: an
    /// agent put through is <c>answered</c>; a person with no agent is <c>abandoned</c> when the dialer counted it so,
    /// else <c>answered</c> (a broadcast message reached them); a machine is <c>no_answer</c> (whether a message was
    /// left is not stored).
    /// </summary>
    public static CallRecord Recovered(OrphanedAttempt attempt)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        var outcome = Enum.TryParse<CallOutcome>(attempt.Outcome, out var parsed) ? parsed : (CallOutcome?)null;
        var disposition = attempt.AgentConnectedAt is not null ? CallDisposition.Answered : outcome switch
        {
            CallOutcome.HumanAnswer when attempt.Abandoned => CallDisposition.Abandoned,
            CallOutcome.HumanAnswer => CallDisposition.Answered,
            CallOutcome.Machine or CallOutcome.NoAnswer => CallDisposition.NoAnswer,
            CallOutcome.Busy => CallDisposition.Busy,
            _ => CallDisposition.Failed,
        };
        var record = Orphaned(attempt, disposition);
        return record with
        {
            WaitSeconds = attempt.AnsweredAt is { } answered && disposition is CallDisposition.Answered or CallDisposition.Abandoned
                ? Math.Max(0, ((attempt.AgentConnectedAt ?? record.EndedAt) - answered).TotalSeconds)
                : null,
            TalkSeconds = attempt.AgentConnectedAt is { } connected ? Math.Max(0, (record.EndedAt - connected).TotalSeconds) : 0,
        };
    }

    /// <summary>
    /// What every record of an orphaned attempt has, from the stored attempt alone: the call id, numbers, campaign,
    /// lead, server, the customer's answer, the end (never before the dial) and the agent if one was put through.
    /// <see cref="Lost"/> and <see cref="Recovered"/> add the disposition's own wait, talk time and release.
    /// </summary>
    private static CallRecord Orphaned(OrphanedAttempt attempt, CallDisposition disposition)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        return new CallRecord
        {
            CallId = attempt.CallId,
            StartedAt = attempt.DialedAt,
            Direction = CallDirection.Outbound,
            Caller = attempt.CallerId,
            Callee = attempt.PhoneNumber,
            AnsweredAt = attempt.AnsweredAt,
            EndedAt = ClampedEnd(attempt),
            Disposition = disposition,
            AgentId = attempt.AgentConnectedAt is null ? null : attempt.AgentId,
            CampaignId = attempt.CampaignId,
            LeadId = attempt.LeadId,
            AsteriskServer = attempt.AsteriskServer,
        };
    }

    private static DateTimeOffset ClampedEnd(OrphanedAttempt attempt) => attempt.EndedAt < attempt.DialedAt ? attempt.DialedAt : attempt.EndedAt;

    /// <summary>The customer's leg of a lost attempt (the cdr view's channel); its channel name died with the instance.</summary>
    public static CallLegRecord LostLeg(OrphanedAttempt attempt)
    {
        ArgumentNullException.ThrowIfNull(attempt);
        return new CallLegRecord
        {
            LegId = attempt.CallId,
            StartedAt = attempt.DialedAt,
            CallId = attempt.CallId,
            Party = CallParty.Customer,
            AnsweredAt = attempt.AnsweredAt,
            EndedAt = ClampedEnd(attempt),
            HangupCause = attempt.HangupCause,
        };
    }
}
