using System.Globalization;

namespace CtiBridge.Core.Dialer;

/// <summary>
/// Turns what Asterisk reports about a dial (AMI <c>OriginateResponse</c> Reason, hang-up cause,
/// ARI <c>Dial</c> event dialstatus, the AMD result) into a <see cref="CallOutcome"/>.
/// </summary>
/// <remarks>
/// Seen in the recordings (<c>ami/originate-outcomes</c>, <c>ari/dialer</c>): Reason 0 = failed
/// (reject cause 21, unavailable cause 20, no such number cause 0/1), 3 = no answer, 4 = answered,
/// 5 = busy, 8 = congestion. For Local channels the busy/congestion <c>;1</c> half hangs up with
/// cause 0, so the Reason wins over the cause for those; the cause decides between the Reason 0
/// failures. ARI dial statuses: ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL, CANCEL, DONTCALL,
/// INVALIDARGS (RINGING and PROGRESS are intermediate and give no outcome).
/// </remarks>
public static class OutcomeClassifier
{
    /// <summary>Q.850 cause 1: unallocated (unassigned) number.</summary>
    public const int CauseUnallocated = 1;

    /// <summary>Q.850 cause 3: no route to destination.</summary>
    public const int CauseNoRoute = 3;

    /// <summary>Q.850 cause 17: user busy.</summary>
    public const int CauseUserBusy = 17;

    /// <summary>Q.850 cause 18/19: no user responding / alerting, no answer.</summary>
    public const int CauseNoAnswer = 19;

    /// <summary>Q.850 cause 20: subscriber absent.</summary>
    public const int CauseSubscriberAbsent = 20;

    /// <summary>Q.850 cause 21: call rejected.</summary>
    public const int CauseCallRejected = 21;

    /// <summary>Q.850 cause 22: number changed.</summary>
    public const int CauseNumberChanged = 22;

    /// <summary>Q.850 cause 28: invalid number format (incomplete number).</summary>
    public const int CauseInvalidNumberFormat = 28;

    /// <summary>Q.850 cause 34: no circuit/channel available (congestion).</summary>
    public const int CauseCongestion = 34;

    /// <summary>
    /// Classifies an AMI <c>OriginateResponse</c>. <paramref name="hangupCause"/> is the <c>Cause</c>
    /// of the dialled channel's <c>Hangup</c> event (the non-zero one of a Local pair), if known.
    /// <paramref name="amdStatus"/> is the AMD result (<c>AMDSTATUS</c>: HUMAN, MACHINE, NOTSURE,
    /// HANGUP) for answered calls, if the campaign runs answering-machine detection.
    /// <paramref name="sitDetected"/> is true when the media path reported special information tones.
    /// </summary>
    public static CallOutcome FromOriginateResponse(int reason, int? hangupCause = null, string? amdStatus = null, bool sitDetected = false)
    {
        if (sitDetected)
        {
            return CallOutcome.InvalidNumber;
        }

        return reason switch
        {
            4 => FromAmdStatus(amdStatus),
            5 => CallOutcome.Busy,
            3 => CallOutcome.NoAnswer,
            8 => CallOutcome.Congestion,
            0 or 1 or 2 => hangupCause is { } cause ? FromHangupCause(cause) : CallOutcome.Failed,
            _ => CallOutcome.Failed,
        };
    }

    /// <summary>
    /// Classifies the final ARI <c>Dial</c> event <c>dialstatus</c>. Returns null for the
    /// intermediate statuses (RINGING, PROGRESS, empty) that do not end the attempt.
    /// </summary>
    public static CallOutcome? FromAriDialStatus(string? dialStatus, int? hangupCause = null, string? amdStatus = null, bool sitDetected = false)
    {
        if (sitDetected)
        {
            return CallOutcome.InvalidNumber;
        }

        switch (dialStatus?.Trim().ToUpperInvariant())
        {
            case null or "" or "RINGING" or "PROGRESS":
                return null;
            case "ANSWER":
                return FromAmdStatus(amdStatus);
            case "BUSY":
                return CallOutcome.Busy;
            case "NOANSWER":
                return CallOutcome.NoAnswer;
            case "CONGESTION":
                return hangupCause is CauseUnallocated or CauseInvalidNumberFormat or CauseNoRoute or CauseNumberChanged
                    ? CallOutcome.InvalidNumber
                    : CallOutcome.Congestion;
            case "CHANUNAVAIL":
                return hangupCause is { } cause ? FromHangupCause(cause) : CallOutcome.Failed;
            case "INVALIDARGS":
                return CallOutcome.InvalidNumber;
            default:
                // CANCEL, DONTCALL, TORTURE and anything newer: the attempt ended without a verdict on the number.
                return hangupCause is { } other ? FromHangupCause(other) : CallOutcome.Failed;
        }
    }

    /// <summary>Classifies a Q.850 hang-up cause of a call that was never answered.</summary>
    public static CallOutcome FromHangupCause(int cause) => cause switch
    {
        CauseUnallocated or CauseNoRoute or CauseNumberChanged or CauseInvalidNumberFormat => CallOutcome.InvalidNumber,
        CauseUserBusy => CallOutcome.Busy,
        18 or CauseNoAnswer => CallOutcome.NoAnswer,
        CauseSubscriberAbsent or CauseCallRejected => CallOutcome.Rejected,
        CauseCongestion or 38 or 41 or 42 or 44 => CallOutcome.Congestion,
        _ => CallOutcome.Failed,
    };

    /// <summary>
    /// Classifies the AMD verdict of an answered call. No AMD (null) and NOTSURE count as a person,
    /// because treating a person as a machine would hang up on them (a UK "silent call").
    /// </summary>
    public static CallOutcome FromAmdStatus(string? amdStatus) =>
        string.Equals(amdStatus?.Trim(), "MACHINE", StringComparison.OrdinalIgnoreCase)
            ? CallOutcome.Machine
            : CallOutcome.HumanAnswer;

    /// <summary>Parses an AMI <c>Reason</c> header value; throws a clear error for anything else.</summary>
    public static int ParseOriginateReason(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!int.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var reason))
        {
            throw new FormatException($"OriginateResponse Reason '{value}' is not a number (expected 0, 3, 4, 5, 8 ...).");
        }

        return reason;
    }
}
