using CtiBridge.Asterisk.Ari;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;

namespace CtiBridge.Service.Dialer;

/// <summary>A campaign this instance dials: its domain dialer, agents and counters. Changed only on the dialer's loop.</summary>
internal sealed class RunningCampaign
{
    public RunningCampaign(CampaignDefinition definition, DateTimeOffset updatedAt)
    {
        CallIdPrefix = definition.Id + "-" + Guid.NewGuid().ToString("N")[..8];
        Definition = definition;
        UpdatedAt = updatedAt;
        Dialer = new CampaignDialer(definition.Campaign, definition.Zones) { CallIdPrefix = CallIdPrefix };
    }

    /// <summary>Call ids are channel ids in Asterisk and keys of the attempt rows: unique per instance and start.</summary>
    public string CallIdPrefix { get; }

    /// <summary>The dialer's count of work in hand, which the requests of this campaign's lines and agents join.</summary>
    public DialerActivity? Activity { get; init; }

    public CampaignDefinition Definition { get; private set; }

    public DateTimeOffset UpdatedAt { get; private set; }

    public CampaignDialer Dialer { get; private set; }

    /// <summary>False once the campaign is paused or stopped: no new calls; it goes when its calls and agents are gone.</summary>
    public bool Accepting { get; set; } = true;

    public List<DialerAgent> Agents { get; } = [];

    /// <summary>Live answers waiting for an agent, oldest first.</summary>
    public List<string> Waiting { get; } = [];

    /// <summary>Voice broadcast: people who pressed 1 and wait (music) for an agent, oldest first.</summary>
    public List<string> PressOneWaiting { get; } = [];

    public int LedgerWritten { get; set; }

    /// <summary>
    /// This instance's lines of the campaign that could still end abandoned, as it last wrote them to
    /// dialer_abandon_exposure (other instances take that much headroom as spent); null before the first write.
    /// </summary>
    public int? ExposureWritten { get; set; }

    /// <summary>Abandons the campaign's ledger counted here and not yet stored (they are not in the stored figures yet).</summary>
    public int UnstoredAbandons()
    {
        var entries = Dialer.Ledger.Entries;
        var count = 0;
        for (var i = LedgerWritten; i < entries.Count; i++)
        {
            if (entries[i].Kind == LedgerEntryKind.Abandoned)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>
    /// This instance's share of the campaign's <c>maxConcurrentLines</c> when several dialer instances hold
    /// its agents: in proportion to the agents on lines here (rounded up), read at each campaign refresh.
    /// The whole cap until then, and while no instance holds an agent (a message-only broadcast).
    /// </summary>
    public int LineShare { get; set; } = int.MaxValue;

    /// <summary>The unmet demand on its shared trunk this instance last wrote for the campaign (dialer_line_demand); 0 = no row.</summary>
    public int DemandWritten { get; set; }

    public long Dials { get; set; }

    public long LiveAnswers { get; set; }

    public long Abandons { get; set; }

    public long MachineAnswers { get; set; }

    /// <summary>New settings between calls: a new domain dialer whose statistics start from the old one's.</summary>
    public void Replace(CampaignDefinition definition, DateTimeOffset updatedAt)
    {
        Definition = definition;
        UpdatedAt = updatedAt;
        var old = Dialer;
        Dialer = new CampaignDialer(definition.Campaign, definition.Zones, estimator: old.Estimator) { CallIdPrefix = CallIdPrefix + "r" + updatedAt.ToUnixTimeSeconds() };
        LedgerWritten = 0;
    }

    /// <summary>The longest-idle agent, if any.</summary>
    public DialerAgent? IdleAgent() => Agents.Where(a => a.State == DialerAgentState.Idle).OrderBy(a => a.IdleSince).FirstOrDefault();

    /// <summary>The agents as the domain dialer sees them.</summary>
    public AgentSnapshot Snapshot(DateTimeOffset now)
    {
        var busy = new List<BusyAgent>();
        var ready = 0;
        var loggedIn = 0;
        foreach (var agent in Agents)
        {
            switch (agent.State)
            {
                case DialerAgentState.Idle:
                    ready++;
                    loggedIn++;
                    break;
                case DialerAgentState.Talking:
                    busy.Add(new BusyAgent(now - agent.TalkStartedAt));
                    loggedIn++;
                    break;
                case DialerAgentState.Previewing or DialerAgentState.PreviewDialling:
                    // Busy with one lead of their own (preview mode does not pace).
                    busy.Add(new BusyAgent(TimeSpan.Zero));
                    loggedIn++;
                    break;
                case DialerAgentState.WrapUp:
                    var left = agent.WrapUpUntil - now;
                    busy.Add(new BusyAgent(agent.TalkEndedAt - agent.TalkStartedAt, left > TimeSpan.Zero ? left : TimeSpan.Zero));
                    loggedIn++;
                    break;
            }
        }

        return new AgentSnapshot(loggedIn, ready, busy);
    }
}

/// <summary>Where a campaign agent stands.</summary>
internal enum DialerAgentState
{
    /// <summary>Their phone is being called (not yet in the holding bridge).</summary>
    Joining,

    /// <summary>In the holding bridge, waiting for a customer.</summary>
    Idle,

    /// <summary>Bridged with a customer.</summary>
    Talking,

    /// <summary>After a call, back in the holding bridge but not yet given calls.</summary>
    WrapUp,

    /// <summary>Preview mode: looking at a lead, to dial or skip it.</summary>
    Previewing,

    /// <summary>Preview mode: the agent's lead is being dialled; the agent waits for the answer.</summary>
    PreviewDialling,
}

/// <summary>An agent on a nailed-up channel in a campaign.</summary>
internal sealed class DialerAgent(string id, string endpoint, string channelId, string holdBridgeId, RunningCampaign campaign) : AriSequence(campaign.Activity)
{
    public string Id { get; } = id;

    public string Endpoint { get; } = endpoint;

    public string ChannelId { get; } = channelId;

    public string HoldBridgeId { get; } = holdBridgeId;

    public RunningCampaign Campaign { get; } = campaign;

    public DialerAgentState State { get; set; } = DialerAgentState.Joining;

    /// <summary>Since when the agent is in <see cref="State"/> (the start of its agent-state interval).</summary>
    public DateTimeOffset StateSince { get; set; }

    /// <summary>The agent-state intervals' session: one per join.</summary>
    public string SessionId => ChannelId;

    /// <summary>Preview mode: the lead shown to the agent now.</summary>
    public PreviewOffer? Preview { get; set; }

    public ITimer? PreviewTimer { get; set; }

    public string? CallId { get; set; }

    public DateTimeOffset IdleSince { get; set; }

    public DateTimeOffset TalkStartedAt { get; set; }

    public DateTimeOffset TalkEndedAt { get; set; }

    public DateTimeOffset WrapUpUntil { get; set; }

    public ITimer? WrapUpTimer { get; set; }

    /// <summary>The call the agent is wrapping up, written again with its wrap-up time when it ends.</summary>
    public (AttemptResult Result, DialerCallFacts Facts)? LastCall { get; set; }
}

/// <summary>A lead shown to a preview agent.</summary>
/// <param name="Lead">The claimed lead with its custom fields.</param>
/// <param name="OfferedAt">When it was shown.</param>
/// <param name="DecideBy">When the campaign's preview timeout decides for the agent.</param>
internal sealed record PreviewOffer(HopperLead Lead, DateTimeOffset OfferedAt, DateTimeOffset DecideBy);

/// <summary>One customer call up (its channel id is the domain call id).</summary>
internal sealed class DialerLine(string callId, RunningCampaign campaign) : AriSequence(campaign.Activity)
{
    public string CallId { get; } = callId;

    public RunningCampaign Campaign { get; } = campaign;

    /// <summary>The last dial status Asterisk reported for it (BUSY, CONGESTION ...).</summary>
    public string? DialStatus { get; set; }

    public int? HangupCause { get; set; }

    /// <summary>True when the call ended unseen in an events gap and nothing reported its end: its end is the gap's start, a bound (<c>calls.end_estimated</c>).</summary>
    public bool EndEstimated { get; set; }

    public string? AgentId { get; set; }

    public string? BridgeId { get; set; }

    public ITimer? DeadlineTimer { get; set; }

    /// <summary>The customer's channel name once answered (PJSIP/carrier-00000012).</summary>
    public string? ChannelName { get; set; }

    /// <summary>The recording played to whatever answered, if any.</summary>
    public string? MessagePlayed { get; set; }

    /// <summary>True once the dialer decided to end the call (not the customer hanging up).</summary>
    public bool HungUpByDialer { get; set; }

    /// <summary>True while the channel is in the AMD context (it left the app; its StasisEnd is not its end).</summary>
    public bool AmdListening { get; set; }

    /// <summary>The AMD verdict (MACHINE, HUMAN, NOTSURE, HANGUP), when detection ran.</summary>
    public string? AmdStatus { get; set; }

    /// <summary>Preview mode: the agent this lead was dialled for (they wait for it; nobody else takes it).</summary>
    public DialerAgent? ReservedAgent { get; set; }

    /// <summary>The playback after whose end the dialer hangs up (null: none, e.g. the person pressed 1).</summary>
    public string? HangUpAfterPlayback { get; set; }

    /// <summary>Voice broadcast: the person pressed 1 for an agent.</summary>
    public bool PressedOne { get; set; }

    /// <summary>Playbacks started on the line (each gets its own id).</summary>
    public int Playbacks { get; set; }

    public ITimer? PressOneTimer { get; set; }

    /// <summary>Music on hold was started on the line (a listener who pressed 1 waiting for an agent).</summary>
    public bool MusicOnHold { get; set; }

    /// <summary>The attempt's end and facts once stored (for the wrap-up revision of its call record).</summary>
    public (AttemptResult Result, DialerCallFacts Facts)? Ended { get; set; }
}

/// <summary>
/// ARI requests of one channel, chained so they reach Asterisk in the order decided, without the
/// dialer's loop waiting for them. Failures are logged (and optionally reported back), never thrown.
/// </summary>
internal abstract partial class AriSequence(DialerActivity? activity = null)
{
    private Task _tail = Task.CompletedTask;

    public void Run(string what, ILogger logger, Func<CancellationToken, Task> step, Action<Exception>? onFailure, CancellationToken stopping)
    {
        // Counted from the decision until the answer (and a failure reported back), so the dialer is not taken
        // for idle while a request it decided on is queued here or on its way (DialerActivity).
        activity?.Start();
        _tail = Chain(_tail, what, logger, step, onFailure, activity, stopping);
    }

    /// <summary>
    /// Runs <paramref name="step"/> in this sequence, but not before every request already queued in
    /// <paramref name="other"/> has been answered (or has failed): for a step that needs both channels
    /// in the state decided (a listener who pressed 1 joins the agent's bridge only once the message and
    /// the music on the listener's channel are stopped). Never waits the other way, so no two sequences
    /// can wait for each other.
    /// </summary>
    public void RunAfter(AriSequence other, string what, ILogger logger, Func<CancellationToken, Task> step, Action<Exception>? onFailure, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(other);
        var otherQueued = other._tail;
        Run(what, logger, async ct =>
        {
            // Whatever became of those requests (logged there), this step goes ahead once they are done.
            await otherQueued.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).ConfigureAwait(false);
            await step(ct).ConfigureAwait(false);
        }, onFailure, stopping);
    }

    private static async Task Chain(Task previous, string what, ILogger logger, Func<CancellationToken, Task> step, Action<Exception>? onFailure, DialerActivity? activity, CancellationToken stopping)
    {
        await previous.ConfigureAwait(false);
        try
        {
            await StepAsync(what, logger, step, onFailure, stopping).ConfigureAwait(false);
        }
        finally
        {
            activity?.End();
        }
    }

    private static async Task StepAsync(string what, ILogger logger, Func<CancellationToken, Task> step, Action<Exception>? onFailure, CancellationToken stopping)
    {
        try
        {
            await step(stopping).ConfigureAwait(false);
        }
        catch (AriRequestException ex) when (ex.StatusCode == 404 && onFailure is null)
        {
            // The channel or bridge is already gone (hung up meanwhile): nothing to do.
            LogGone(logger, what, ex.AsteriskMessage ?? ex.Message);
        }
        catch (Exception ex) when (ex is AriException or HttpRequestException or OperationCanceledException)
        {
            LogFailed(logger, what, ex.Message);
            onFailure?.Invoke(ex);
        }
    }

    [LoggerMessage(EventId = 1020, Level = LogLevel.Debug, Message = "Dialer: {What} found nothing to act on ({Reason})")]
    private static partial void LogGone(ILogger logger, string what, string reason);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Warning, Message = "Dialer: {What} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string what, string reason);
}

/// <summary>Fire-and-forget for requests whose failure does not matter (releasing what is already going).</summary>
internal static class TaskExtensions
{
    public static void Ignore(this Task task) => _ = task;
}
