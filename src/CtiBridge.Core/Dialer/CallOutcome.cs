namespace CtiBridge.Core.Dialer;

/// <summary>What became of one dial attempt, in dialer terms.</summary>
public enum CallOutcome
{
    /// <summary>A person answered (or answering-machine detection said human / not sure).</summary>
    HumanAnswer,

    /// <summary>An answering machine or voicemail answered.</summary>
    Machine,

    /// <summary>The number was busy (AMI Reason 5, ARI BUSY, cause 17).</summary>
    Busy,

    /// <summary>It rang until the dial timeout (AMI Reason 3, ARI NOANSWER, cause 19).</summary>
    NoAnswer,

    /// <summary>The network was congested (AMI Reason 8, ARI CONGESTION, cause 34).</summary>
    Congestion,

    /// <summary>The called party rejected the call (cause 21) or the subscriber was absent (cause 20).</summary>
    Rejected,

    /// <summary>The number does not exist: unallocated (cause 1), invalid format (28), SIT tone. Never retried.</summary>
    InvalidNumber,

    /// <summary>The dial failed for another reason (channel unavailable, unknown failure).</summary>
    Failed,

    /// <summary>The PBX never said what happened (lost AMI/ARI reply); the line was released by timeout.</summary>
    LostReply,
}

/// <summary>How a live answer ended from the compliance point of view.</summary>
public enum LiveAnswerResult
{
    /// <summary>An agent was connected within the policy's connect deadline (2 s under the TSR).</summary>
    ConnectedInTime,

    /// <summary>No agent within the deadline: an abandoned call (even if an agent came later).</summary>
    Abandoned,
}

/// <summary>Classification helpers for <see cref="CallOutcome"/>.</summary>
public static class CallOutcomes
{
    /// <summary>True when the number itself is bad: the lead is marked and never dialled again.</summary>
    public static bool IsInvalidNumber(this CallOutcome outcome) => outcome == CallOutcome.InvalidNumber;

    /// <summary>True when something answered the call (a person or a machine).</summary>
    public static bool IsAnswered(this CallOutcome outcome) =>
        outcome is CallOutcome.HumanAnswer or CallOutcome.Machine;
}
