using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>What a call is doing outside the agent legs: IVR, announcements, external leg, voicemail.</summary>
internal enum CallStage
{
    /// <summary>Answered; waiting for the customer lookup.</summary>
    Entering,

    /// <summary>Walking an IVR plan.</summary>
    Ivr,

    /// <summary>In the ACD (waiting, ringing or talking to an agent).</summary>
    Acd,

    /// <summary>Connected (or being connected) to an external number.</summary>
    External,

    /// <summary>Hearing the voicemail greeting or leaving a message.</summary>
    Voicemail,

    /// <summary>Hearing a last prompt before being released.</summary>
    Leaving,
}

/// <summary>The IVR and caller-experience state of a call (changed on the call center's loop only).</summary>
internal sealed partial class CallSession
{
    /// <summary>When the call entered CtiBridge.</summary>
    public DateTimeOffset EnteredAt { get; set; }

    /// <summary>What the call is doing now.</summary>
    public CallStage Stage { get; set; }

    /// <summary>Caller number, name, DID, lookup results and IVR path, as they grow.</summary>
    public CallerData Caller { get; set; } = new();

    /// <summary>Customer lookup said: blacklisted; the call is released after the blocked prompt (disposition <c>blocked</c>).</summary>
    public bool Blocked { get; set; }

    /// <summary>Customer lookup said: member (会员).</summary>
    public bool IsMember { get; set; }

    /// <summary>The plan the call walks (kept when plans are reloaded meanwhile).</summary>
    public IvrPlan? Plan { get; set; }

    /// <summary>The node the call is at.</summary>
    public IvrNode? Node { get; set; }

    /// <summary>Nodes passed, as <c>plan/node</c>.</summary>
    public List<string> IvrPath { get; } = [];

    /// <summary>Tries used at the current menu or PIN node.</summary>
    public int Tries { get; set; }

    /// <summary>Keys typed before the IVR started (during the customer lookup).</summary>
    public string TypeAhead { get; set; } = string.Empty;

    /// <summary>Digits typed so far at a PIN node.</summary>
    public string Digits { get; set; } = string.Empty;

    /// <summary>Whether the current node waits for keys (after its prompt, or during it: barge-in).</summary>
    public bool CollectingKeys { get; set; }

    /// <summary>The IVR prompt playing now (its finish moves the node on).</summary>
    public string? IvrPlaybackId { get; set; }

    /// <summary>Playback counter for unique IDs.</summary>
    public int Playbacks { get; set; }

    /// <summary>Bumped to make older key timers stale.</summary>
    public int TimerVersion { get; set; }

    /// <summary>The key-wait timer of the current node.</summary>
    public ITimer? KeyTimer { get; set; }

    /// <summary>The external leg's channel ID while dialling or connected.</summary>
    public string? ExternalChannelId { get; set; }

    /// <summary>The number dialled for the external leg.</summary>
    public string? ExternalNumber { get; set; }

    /// <summary>When the external party answered.</summary>
    public DateTimeOffset? ExternalAnsweredAt { get; set; }

    /// <summary>When the external leg was dialled.</summary>
    public DateTimeOffset? ExternalStartedAt { get; set; }

    /// <summary>The recording of the caller's bridge with the outside number, once asked for (<c>call-{call}-ext</c>).</summary>
    public string? ExternalRecording { get; set; }

    /// <summary>When Asterisk started <see cref="ExternalRecording"/> (null: not, or not yet, confirmed).</summary>
    public DateTimeOffset? ExternalRecordingStartedAt { get; set; }

    /// <summary>The outside call's recording row is written (once, at the call's end).</summary>
    public bool ExternalRecordingWritten { get; set; }

    /// <summary>The voicemail recording's name while recording.</summary>
    public string? RecordingName { get; set; }

    /// <summary>When the call first entered a queue (a queue callback keeps that place in line).</summary>
    public DateTimeOffset? EnqueuedAt { get; set; }

    /// <summary>The queue that serves a callback for a voicemail left in the IVR.</summary>
    public string? CallbackQueue { get; set; }

    /// <summary>The mailbox of that recording.</summary>
    public string? Mailbox { get; set; }

    /// <summary>The call reached a self-service end (IVR <c>hangup</c> node with <c>completes</c>).</summary>
    public bool IvrCompleted { get; set; }

    /// <summary>The ACD ended the call (overflowed out): its call row comes from the ACD's events.</summary>
    public bool LeftAcd { get; set; }

    /// <summary>Where the caller is was stored for an adopter (<c>live_ivr_calls</c>): the call's end deletes it, or marks it ended while it keeps a record not stored yet.</summary>
    public bool IvrStateStored { get; set; }

    /// <summary>The survey's answer was stored with the caller's <c>live_ivr_calls</c> row: the call's end keeps the row until the answer's own row is stored.</summary>
    public bool SurveyAnswerStored { get; set; }

    /// <summary>The playback of the agent-ID announcement (queue <c>announceAgentId</c>), which the connect must not stop.</summary>
    public string? AgentIdPlayback { get; set; }

    /// <summary>Playbacks of announcements in the queue, awaited by the request chain.</summary>
    public Dictionary<string, TaskCompletionSource> AnnouncementPlaybacks { get; } = new(StringComparer.Ordinal);
}
