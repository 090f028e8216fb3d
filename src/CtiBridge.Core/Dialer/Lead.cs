namespace CtiBridge.Core.Dialer;

/// <summary>Where a lead stands in its campaign.</summary>
public enum LeadStatus
{
    /// <summary>Waiting for its next attempt (at <see cref="Lead.NextAttemptAt"/>, or now when null).</summary>
    Open,

    /// <summary>A person was reached (or the voicemail / broadcast message was delivered): no more dialling.</summary>
    Reached,

    /// <summary>The number is invalid (unallocated, bad format, SIT): never dialled again.</summary>
    InvalidNumber,

    /// <summary>All <see cref="Campaign.MaxAttempts"/> were used without reaching anyone.</summary>
    AttemptsExhausted,
}

/// <summary>One number to call in a campaign, with its attempt history summary.</summary>
public sealed record Lead
{
    /// <summary>Unique lead id (the hopper's key).</summary>
    public required string Id { get; init; }

    /// <summary>The number in E.164 form (e.g. +12125550100).</summary>
    public required string PhoneNumber { get; init; }

    /// <summary>IANA time-zone id from the lead's own data; null = derive it from the number.</summary>
    public string? TimeZoneId { get; init; }

    /// <summary>Attempts made so far.</summary>
    public int Attempts { get; init; }

    /// <summary>Not to be dialled before this instant (retry delay); null = as soon as possible.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }

    /// <summary>Current status.</summary>
    public LeadStatus Status { get; init; } = LeadStatus.Open;

    /// <summary>The outcome of the last attempt, if any.</summary>
    public CallOutcome? LastOutcome { get; init; }

    /// <summary>True when the lead may be dialled at <paramref name="now"/> (status and retry time only; windows and DNC are checked by the dialer).</summary>
    public bool IsDue(DateTimeOffset now) => Status == LeadStatus.Open && (NextAttemptAt is not { } at || at <= now);
}

/// <summary>Decides what happens to a lead after an attempt: done, invalid, exhausted, or retry at a time.</summary>
public static class LeadRetryPolicy
{
    /// <summary>
    /// The lead after an attempt that ended with <paramref name="outcome"/> at <paramref name="endedAt"/>.
    /// <paramref name="abandoned"/> is true when a live answer got no agent in time (it is retried
    /// after <see cref="RetryDelays.Abandoned"/>, since the person never spoke to anyone).
    /// </summary>
    public static Lead AfterAttempt(Campaign campaign, Lead lead, CallOutcome outcome, DateTimeOffset endedAt, bool abandoned = false)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(lead);
        var attempts = lead.Attempts + 1;
        if (outcome.IsInvalidNumber())
        {
            return lead with { Attempts = attempts, Status = LeadStatus.InvalidNumber, NextAttemptAt = null, LastOutcome = outcome };
        }

        TimeSpan? delay;
        if (abandoned && outcome == CallOutcome.HumanAnswer)
        {
            delay = campaign.Retry.Abandoned;
        }
        else if (outcome == CallOutcome.HumanAnswer)
        {
            delay = null;
        }
        else if (outcome == CallOutcome.Machine)
        {
            delay = campaign.Machines == MachineHandling.HangUpAndRetry ? campaign.Retry.Machine : null;
        }
        else
        {
            delay = campaign.Retry.After(outcome);
        }

        // Broadcast reaches its goal when anything answered and heard the message.
        if (campaign.Mode == DialingMode.VoiceBroadcast && outcome.IsAnswered())
        {
            delay = null;
        }

        if (delay is null)
        {
            return lead with { Attempts = attempts, Status = LeadStatus.Reached, NextAttemptAt = null, LastOutcome = outcome };
        }

        if (attempts >= campaign.MaxAttempts)
        {
            return lead with { Attempts = attempts, Status = LeadStatus.AttemptsExhausted, NextAttemptAt = null, LastOutcome = outcome };
        }

        return lead with { Attempts = attempts, Status = LeadStatus.Open, NextAttemptAt = endedAt + delay.Value, LastOutcome = outcome };
    }
}
