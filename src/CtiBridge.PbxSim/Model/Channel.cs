namespace CtiBridge.PbxSim.Model;

/// <summary>Asterisk channel states with their AMI numbers.</summary>
internal enum ChannelState
{
    Down = 0,
    Reserved = 1,
    OffHook = 2,
    Dialing = 3,
    Ring = 4,
    Ringing = 5,
    Up = 6,
    Busy = 7,
}

/// <summary>One Asterisk channel: a Local half (<c>;1</c>/<c>;2</c>) or a PJSIP leg.</summary>
internal sealed class Channel
{
    public required string Name { get; init; }

    public required string UniqueId { get; init; }

    public required string LinkedId { get; set; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Creation sequence, so listings come out in a stable order.</summary>
    public long Sequence { get; init; }

    public ChannelState State { get; set; }

    public string CallerNum { get; set; } = "";

    public string CallerName { get; set; } = "";

    public string ConnectedNum { get; set; } = "";

    public string ConnectedName { get; set; } = "";

    public string Context { get; set; } = "default";

    public string Exten { get; set; } = "";

    public int Priority { get; set; } = 1;

    public string Language { get; set; } = "en";

    public string AccountCode { get; set; } = "";

    /// <summary>The application the channel is in (Status/CoreShowChannels), e.g. <c>Wait</c>.</summary>
    public string Application { get; set; } = "";

    public string AppData { get; set; } = "";

    public Dictionary<string, string> Variables { get; } = new(StringComparer.Ordinal);

    /// <summary>The other half of a Local pair.</summary>
    public Channel? LocalPeer { get; set; }

    /// <summary>True for the <c>;2</c> half (the one that runs the dialplan).</summary>
    public bool IsLocalTwo { get; init; }

    public bool IsLocal => LocalPeer is not null || Name.StartsWith("Local/", StringComparison.Ordinal);

    public Bridge? Bridge { get; set; }

    public DateTimeOffset? AnsweredAt { get; set; }

    /// <summary>Cause the channel will hang up with (set by Busy/Congestion/Hangup apps or a request).</summary>
    public int? HangupCause { get; set; }

    public bool Gone { get; set; }

    /// <summary>True while a hangup is in progress (no second teardown).</summary>
    public bool Ending { get; set; }

    /// <summary>True while the channel runs dialplan (so hangup runs <c>h</c> and emits SoftHangupRequest).</summary>
    public bool InPbx { get; set; }

    /// <summary>True once the channel has run dialplan (ARI then reports an empty app when it is destroyed).</summary>
    public bool RanPbx { get; set; }

    /// <summary>The caller id changed underneath (connected line of the Local partner); reported at the next dialplan step.</summary>
    public bool CallerIdPending => PendingCallerId is not null;

    /// <summary>
    /// The caller id chan_local copied from the partner's connected line: the channel's snapshot
    /// still shows the old one until its next dialplan step publishes both (ChannelDialplan, then
    /// ChannelCallerId).
    /// </summary>
    public (string Number, string Name)? PendingCallerId { get; set; }

    /// <summary>Application and data before the channel entered Stasis (restored when it leaves).</summary>
    public (string Application, string Data)? BeforeStasis { get; set; }

    /// <summary>Bumped whenever what the channel is doing changes; stale timers compare and give up.</summary>
    public long Generation { get; set; }

    /// <summary>CEL: the application the channel was created for (a dialled channel's AppDial...), shown while nothing runs.</summary>
    public (string Application, string Data) CelBase { get; set; } = ("", "");

    /// <summary>CEL: the application running on the channel now, if any.</summary>
    public (string Application, string Data)? CelRunning { get; set; }

    /// <summary>CEL: bumped by each playback so the stream events of an earlier one stop.</summary>
    public long CelStreamToken { get; set; }

    /// <summary>CEL: the last outcome of a dial this channel made (HANGUP's <c>dialstatus</c>).</summary>
    public string CelDialStatus { get; set; } = "";

    /// <summary>The caller's ANI (an Originate's caller id sets it on the outbound half).</summary>
    public string CallerAni { get; set; } = "";

    /// <summary>True when the dialplan's Hangup() ended the channel (CEL's hangupsource <c>dialplan/builtin</c>).</summary>
    public bool HungUpByDialplan { get; set; }

    /// <summary>The dial (Originate or Dial app) that created this channel as its destination.</summary>
    public DialAttempt? IncomingDial { get; set; }

    /// <summary>The dial this channel placed with the Dial app, while it is in progress or bridged.</summary>
    public DialAttempt? OutgoingDial { get; set; }

    /// <summary>The Stasis application the channel is in, if any.</summary>
    public string? StasisApp { get; set; }

    /// <summary>ARI applications subscribed to this channel.</summary>
    public HashSet<string> AriApps { get; } = new(StringComparer.Ordinal);

    /// <summary>True when ARI created the channel into an application (it then also gets ChannelDestroyed).</summary>
    public bool AriOriginated { get; set; }

    /// <summary>What the AMD application concludes on this channel (MACHINE, HUMAN, NOTSURE); null: HUMAN.</summary>
    public string? AmdVerdict { get; set; }

    public bool OnHold { get; set; }

    /// <summary>ARI mute direction (<c>in</c>, <c>out</c>, <c>both</c>), or null when not muted.</summary>
    public string? Muted { get; set; }

    /// <summary>ARI media played on this channel, in order (e.g. <c>sound:vm-youhave,number:3</c>), for tests.</summary>
    public List<string> PlayedMedia { get; } = [];

    /// <summary>The language of each ARI play in <see cref="PlayedMedia"/> (its <c>lang</c>, else the channel's), same order, for tests.</summary>
    public List<string> PlayedLanguages { get; } = [];

    /// <summary>ARI media stopped (<c>DELETE /playbacks/{id}</c>) before they had played to the end, in order, for tests.</summary>
    public List<string> StoppedMedia { get; } = [];

    /// <summary>The ARI playback playing on this channel, or null.</summary>
    internal PbxModel.AriPlaybackState? CurrentPlayback { get; set; }

    /// <summary>ARI playbacks asked for while another plays, in order (Asterisk plays them one after another).</summary>
    internal Queue<PbxModel.AriPlaybackState> QueuedPlaybacks { get; } = new();

    /// <summary>For an ARI snoop channel: the spied channel and the spy / whisper directions asked for.</summary>
    public (string Spied, string Spy, string Whisper)? Snooping { get; set; }

    public string? MusicOnHoldClass { get; set; }

    public string Technology => Name[..Name.IndexOf('/', StringComparison.Ordinal)];

    /// <summary>Last dialplan application and data, for the CDR.</summary>
    public string LastApplication { get; set; } = "";

    public string LastData { get; set; } = "";

    /// <summary>CDR disposition when the channel ends unanswered (BUSY, FAILED, NO ANSWER, CONGESTION).</summary>
    public string? UnansweredDisposition { get; set; }

    /// <summary>The channel this one dialled (the CDR's DestinationChannel).</summary>
    public string CdrPeer { get; set; } = "";

    /// <summary>True for a channel created by the Dial app: its CDR is the caller's (no record of its own).</summary>
    public bool CdrMerged { get; set; }

    /// <summary>When the channel's current CDR started (a transfer starts a new record).</summary>
    public DateTimeOffset? CdrStartedAt { get; set; }

    /// <summary>When the channel's current CDR was answered, if it started answered after a transfer.</summary>
    public DateTimeOffset? CdrAnsweredAt { get; set; }

    /// <summary>CDRs already closed (by a transfer), sent with the final one when the channel hangs up.</summary>
    public List<Ami.AmiMessage> ClosedCdrs { get; } = [];

    /// <summary>
    /// Where a transfer sends this channel once its Dial's bridge breaks up (an async goto): the new
    /// location is published at once with the old application (Newexten), and its first step then
    /// runs without a Newexten of its own, as Asterisk only reports location changes.
    /// </summary>
    public (string Context, string Exten, int Priority)? PendingGoto { get; set; }

    /// <summary>The location was already published by an async goto: the next step emits no Newexten.</summary>
    public bool LocationPublished { get; set; }

    /// <summary>The queue this channel waits in or was connected from (the Queue application), if any.</summary>
    public QueueEntry? QueueEntry { get; set; }

    /// <summary>PJSIP endpoint this channel belongs to, if any.</summary>
    public string? Endpoint { get; set; }

    public override string ToString() => Name;
}

/// <summary>A call being placed to a destination channel, by Originate or the Dial app.</summary>
internal sealed class DialAttempt
{
    /// <summary>The calling channel (null for Originate: DialBegin then has no caller headers).</summary>
    public Channel? Caller { get; init; }

    public required Channel Destination { get; init; }

    public required string DialString { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset? RingingAt { get; set; }

    public DateTimeOffset? AnsweredAt { get; set; }

    public bool Finished { get; set; }

    /// <summary>Originate details when the dial came from the Originate action.</summary>
    public OriginateRequest? Originate { get; init; }

    /// <summary>Dial options (e.g. <c>tTA(beep)</c>).</summary>
    public string Options { get; init; } = "";

    public long TimeoutGeneration { get; set; }

    /// <summary>An ARI <c>/dial</c>: the answered channel stays in its application (no bridge, no dialplan).</summary>
    public bool FromAri { get; init; }

    /// <summary>
    /// The ARI <c>Dial</c> event that starts an ARI dial is not sent yet: Asterisk's dialling thread
    /// publishes it once the call is placed, and a destination that is busy at once (<c>Busy()</c>)
    /// can report <c>BUSY</c> before it (as recorded in <c>ari/dialer</c>).
    /// </summary>
    public bool AriBeginPending { get; set; }

    /// <summary>The consultation call of an attended transfer (its <c>;1</c> half shows the target's progress).</summary>
    public bool IsConsultation { get; init; }

    /// <summary>The queue caller this dial rings a member for (the Queue application), if any.</summary>
    public QueueEntry? Queue { get; init; }

    /// <summary>The queue member being rung.</summary>
    public QueueMember? Member { get; init; }
}

/// <summary>What an Originate asked for.</summary>
internal sealed class OriginateRequest
{
    public required string ChannelText { get; init; }

    public string? ActionId { get; init; }

    public string? Application { get; init; }

    public string? Data { get; init; }

    public string? Context { get; init; }

    public string? Exten { get; init; }

    public int Priority { get; init; } = 1;

    public bool Async { get; init; }

    /// <summary>Completes with the OriginateResponse reason (4 = answered).</summary>
    public TaskCompletionSource<int> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Called once the call is answered or has failed, with the reason code.</summary>
    public Action<int>? OnOutcome { get; init; }

    /// <summary>Called as soon as the channel(s) exist, before any other event (ARI subscribes them here).</summary>
    public Action<Channel, Channel?>? OnCreated { get; init; }

    /// <summary>Called once the call is set up, just before the far side starts (ARI answers the POST with this snapshot).</summary>
    public Action<Channel>? OnDialling { get; init; }
}

/// <summary>A bridge (mixing or holding), created by Dial, ARI or a transfer.</summary>
internal sealed class Bridge
{
    public required string Id { get; init; }

    /// <summary>CEL: set once a Local optimisation swapped a channel in; its later BRIDGE_EXITs name no peer (as recorded).</summary>
    public bool CelPeersHidden { get; set; }

    /// <summary>The AMI BridgeType (basic for Dial bridges, stasis for ARI ones).</summary>
    public string Type { get; init; } = "basic";

    /// <summary>ARI's bridge_type (mixing or holding).</summary>
    public string AriType { get; init; } = "mixing";

    /// <summary>ARI's video_mode (talker for ARI bridges, none for Dial bridges).</summary>
    public string VideoMode { get; init; } = "none";

    public string Technology { get; set; } = "simple_bridge";

    public string Creator { get; init; } = "";

    public string BridgeName { get; init; } = "";

    public string BridgeClass { get; init; } = "basic";

    public List<Channel> Members { get; } = [];

    public DateTimeOffset CreatedAt { get; init; }

    public bool CreatedByAri { get; init; }

    /// <summary>ARI applications subscribed to this bridge.</summary>
    public HashSet<string> AriApps { get; } = new(StringComparer.Ordinal);

    /// <summary>Helper channels in the bridge (an ARI recorder), listed first in each member's BRIDGEPEER.</summary>
    public List<string> Helpers { get; } = [];
}
