using System.Globalization;
using System.Threading.Channels;
using CtiBridge.Asterisk.Ami;
using CtiBridge.Asterisk.Ari;
using CtiBridge.Asterisk.Ari.Models;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using Npgsql;

namespace CtiBridge.Service.Dialer;

/// <summary>Live figures of one campaign on this instance, for the wallboard and metrics.</summary>
/// <param name="CampaignId">The campaign.</param>
/// <param name="Mode">The configured mode.</param>
/// <param name="EffectiveMode">The mode the last plan used (predictive falls back to progressive while warming up or at the limit).</param>
/// <param name="Dials">Calls placed since this instance started the campaign.</param>
/// <param name="LiveAnswers">Live answers since then.</param>
/// <param name="Abandons">Abandoned live answers since then.</param>
/// <param name="MachineAnswers">Answering machines since then.</param>
/// <param name="Lines">Calls up now.</param>
/// <param name="Ringing">Calls ringing now.</param>
/// <param name="WaitingForAgent">Live answers waiting (at most the connect deadline) for an agent.</param>
/// <param name="AgentsLoggedIn">Agents on their nailed-up channel.</param>
/// <param name="AgentsIdle">Agents waiting for a call.</param>
/// <param name="AgentsBusy">Agents talking or in wrap-up.</param>
/// <param name="AbandonRate">The abandon rate that counts under the policy (campaign-to-date, or the rolling window once the campaign is older), this instance's ledger.</param>
/// <param name="AbandonWindowLiveAnswers">Live answers in that measure.</param>
/// <param name="DialLevel">Lines ringing or waiting per idle agent.</param>
public sealed record CampaignWallboard(
    string CampaignId, DialingMode Mode, DialingMode EffectiveMode, long Dials, long LiveAnswers, long Abandons, long MachineAnswers,
    int Lines, int Ringing, int WaitingForAgent, int AgentsLoggedIn, int AgentsIdle, int AgentsBusy,
    double AbandonRate, int AbandonWindowLiveAnswers, double DialLevel);

/// <summary>
/// Runs the outbound campaigns marked running in the database: paces each one with its
/// <see cref="CampaignDialer"/>, takes leads from the PostgreSQL hopper (so several instances share
/// a campaign without dialling a lead twice), checks the do-not-call lists right before each dial,
/// originates customers through the trunk into its own Stasis app, keeps agents on nailed-up
/// channels in holding bridges and bridges an answered customer to an idle agent, plays the
/// abandon message when no agent is free within the connect deadline, and stores every attempt,
/// lead update and compliance-ledger row. Everything happens on one loop, one event at a time.
/// </summary>
public sealed partial class OutboundDialer : IAsyncDisposable
{
    /// <summary>
    /// Service key of a <see cref="TimeProvider"/> the service's dialer uses as its own clock instead of the
    /// host's, when one is registered under it: pacing rounds, retries, calling windows, connect deadlines and
    /// wrap-ups then run on that clock while the Asterisk connections keep the host's (as call control's
    /// <c>CallCenter.ClockServiceKey</c>). Tests register a fake clock here so a retry an hour away is dialled
    /// when the test moves the clock past it, with PbxSim's calls on real time.
    /// </summary>
    public const string ClockServiceKey = "dialer.clock";

    private const string CustomerArg = "dialer";
    private const string AgentArg = "dialer-agent";
    private const string AmdArg = "dialer-amd";

    // How long a line given up unanswered is remembered at most, for an answer reported after the give-up (RememberGivenUp).
    private static readonly TimeSpan GivenUpMemory = TimeSpan.FromSeconds(30);

    private readonly System.Threading.Channels.Channel<Func<DateTimeOffset, Task>> _work = System.Threading.Channels.Channel.CreateUnbounded<Func<DateTimeOffset, Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly DialerSettings _settings;
    private readonly AriClient _ari;
    private readonly AriEventConnection _events;
    private readonly TimeProvider _time;

    // The connections' clock (the events WebSocket's keep-alive and reconnects, the record writer's
    // retries, the relay's polling, the stop's wait): the host's, also when _time is the dialer's own.
    private readonly TimeProvider _connectionTime;
    private readonly ILogger<OutboundDialer> _logger;
    private readonly CampaignStore _campaigns;
    private readonly LeadHopper _hopper;
    private readonly AgentLines _agentLines;
    private readonly AttemptLog _attempts;
    private readonly DoNotCallList _doNotCall;
    private readonly TrunkLines _trunkLines;

    // Shared trunks (dialer.trunks) → every stored campaign dialling through each, read at each campaign refresh.
    private Dictionary<string, TrunkBudget> _trunks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RunningCampaign> _running = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DialerLine> _lines = new(StringComparer.Ordinal);

    // Lines given up unanswered an instant ago whose answer may still be reported (RememberGivenUp).
    private readonly Dictionary<string, GivenUpLine> _givenUp = new(StringComparer.Ordinal);

    // Customers' answers (StasisStart) read off an events connection and not yet handled on the loop, written by the
    // readers: a plan never gives up such a line (NoteAnswerRead; docs/dialer.md "Giving up unanswered lines").
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _answersRead = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DialerAgent> _agentsByChannel = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DialerAgent> _agents = new(StringComparer.Ordinal);

    // Agent → campaign of the agents on a nailed-up line, readable off the loop: call control refuses
    // their inbound login (one agent, one state at a time in the state log; docs/dialer.md).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _onLines = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _tasks = [];
    private DateTimeOffset _lastRefresh = DateTimeOffset.MinValue;
    private int _tickQueued;
    private DateTimeOffset _lastHeartbeat = DateTimeOffset.MinValue;
    private long _agentLegs;

    /// <summary>Creates the dialer (nothing runs until <see cref="StartAsync"/>).</summary>
    /// <param name="settings">The dialer settings.</param>
    /// <param name="ari">REST client of the Asterisk server that places the calls.</param>
    /// <param name="ariOptions">Its connection options (the events WebSocket subscribes <see cref="DialerSettings.Application"/>).</param>
    /// <param name="dataSource">The database.</param>
    /// <param name="timeProvider">
    /// The dialer's clock: pacing rounds, retries and calling windows, connect deadlines, wrap-ups, preview
    /// timeouts, lost-reply and line-audit limits, and every time it stores (attempts, leads, ledger, records).
    /// </param>
    /// <param name="loggerFactory">Logging.</param>
    /// <param name="asteriskServer">The name (asterisk[].name) of the server <paramref name="ari"/> talks to, stored on every attempt and call row; default <see cref="DialerSettings.Server"/>. One of the two is required.</param>
    /// <param name="connectionTimeProvider">
    /// The clock of the connections (the events WebSocket's keep-alive and reconnects, the record writer's retries,
    /// the cross-instance relay's polling, the stop's wait for calls to end); default <paramref name="timeProvider"/>.
    /// The service passes the host's clock here and the dialer's own (<see cref="ClockServiceKey"/>) as <paramref name="timeProvider"/>.
    /// </param>
    /// <param name="ami">
    /// The AMI client of the same Asterisk server (started by its owner), if any: its <c>Hangup</c> events tell when and how a
    /// line that ended inside an ARI events gap really ended (OutboundDialer.GapHangups.cs). Without it such a line ends at
    /// the gap's start, marked estimated.
    /// </param>
    /// <exception cref="ArgumentException">Neither <paramref name="asteriskServer"/> nor <see cref="DialerSettings.Server"/> names the server.</exception>
    public OutboundDialer(DialerSettings settings, AriClient ari, AriClientOptions ariOptions, NpgsqlDataSource dataSource, TimeProvider timeProvider, ILoggerFactory loggerFactory, string? asteriskServer = null,
        TimeProvider? connectionTimeProvider = null, AmiClient? ami = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(ariOptions);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _settings = settings;
        _ari = ari ?? throw new ArgumentNullException(nameof(ari));
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _connectionTime = connectionTimeProvider ?? timeProvider;
        _logger = loggerFactory.CreateLogger<OutboundDialer>();
        _events = new AriEventConnection(ariOptions with { Applications = [settings.Application] }, _connectionTime, loggerFactory);
        _ariOptions = ariOptions;
        _loggerFactory = loggerFactory;
        InstanceId = settings.InstanceId ?? $"{Environment.MachineName}-{Guid.NewGuid():N}"[..Math.Min(64, Environment.MachineName.Length + 13)];
        _campaigns = new CampaignStore(dataSource, timeProvider);
        _hopper = new LeadHopper(dataSource, InstanceId, timeProvider);
        _agentLines = new AgentLines(dataSource, timeProvider);
        // Every attempt and call row names its server (reports per site); a dialer that cannot say which is a wiring mistake.
        AsteriskServerName = (asteriskServer ?? settings.Server) is { Length: > 0 } server
            ? server
            : throw new ArgumentException("the dialer needs the name (asterisk[].name) of the Asterisk server it places its calls on, for the asterisk_server of its attempt and call rows: pass asteriskServer or set dialer.server", nameof(asteriskServer));
        _attempts = new AttemptLog(dataSource, InstanceId, timeProvider, AsteriskServerName);
        _doNotCall = new DoNotCallList(dataSource, timeProvider);
        _trunkLines = new TrunkLines(dataSource, InstanceId, AsteriskServerName);
        _dataSource = dataSource;
        _sessions = new DialerSessions(dataSource, InstanceId, timeProvider, logger: _logger);
        _ami = ami;
    }

    /// <summary>This instance's id in the hopper's claims and the attempt rows.</summary>
    public string InstanceId { get; }

    /// <summary>
    /// The work this dialer has in hand (loop steps, unanswered requests, background checks, events read): a test
    /// driving it on a fake clock moves the clock only when none is pending (docs/dialer.md, "Testing").
    /// </summary>
    internal DialerActivity Activity { get; } = new();

    /// <summary>The Asterisk server (asterisk[].name) this dialer places its calls on, as stored in its rows.</summary>
    public string AsteriskServerName { get; }

    /// <summary>Whether the dialer's events WebSocket is connected.</summary>
    public AriEventConnectionState EventsState => _events.State;

    /// <summary>Connects the events WebSocket (retrying until Asterisk answers) and starts the loop.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _runStartedAt = _time.GetUtcNow();
        await StartRecordsAsync(cancellationToken).ConfigureAwait(false);

        // The session lease first: from now on a survivor knows this instance is alive, and learns of its death
        // within about a second of a kill (the lock goes with the connection), then adopts its calls.
        await _sessions.StartAsync(_settings.Application, cancellationToken).ConfigureAwait(false);
        WatchLease();

        // An earlier run of this instance id that did not stop cleanly (killed) left its calls: taken back and resumed
        // as an adopter would, once the events connection is up (below). After a clean stop, its agent lines are cleared.
        var previousRun = await _sessions.TakeBackPreviousRunAsync(cancellationToken).ConfigureAwait(false);
        var takeBack = previousRun.AgentLines.Count > 0 || previousRun.Attempts.Count > 0;
        if (takeBack)
        {
            LogPreviousRunTakenBack(_logger, InstanceId, previousRun.AgentLines.Count, previousRun.Attempts.Count);
        }
        else
        {
            await ClearAgentLinesAsync(cancellationToken).ConfigureAwait(false); // left by an earlier run of this instance
        }

        await ClearAllLineDemandAsync(cancellationToken).ConfigureAwait(false);
        if (!takeBack)
        {
            // No line of an earlier run is up: nothing of this instance is at risk of abandon (with a take-back, the
            // earlier figures stand until the resumed campaigns' first rounds write theirs).
            await ClearAbandonExposureAsync(cancellationToken).ConfigureAwait(false);
        }

        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await _events.StartAsync(cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (AriException ex)
            {
                LogStartFailed(_logger, _settings.Application, ex.Message, delay.TotalSeconds);
                await Task.Delay(delay, _connectionTime, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 30));
            }
        }

        if (takeBack)
        {
            // The previous run's app is this one (same settings) or, renamed since, connected like a dead instance's.
            await TryPrepareAdoptionAsync(previousRun).ConfigureAwait(false);
        }

        _tasks.Add(Task.Run(() => RunLoopAsync(_stopping.Token), CancellationToken.None));
        _tasks.Add(Task.Run(() => ReadEventsAsync(_stopping.Token), CancellationToken.None));
        _tasks.Add(Task.Run(() => TickAsync(_stopping.Token), CancellationToken.None));
        _tasks.Add(Task.Run(() => RelayPreviewsAsync(_stopping.Token), CancellationToken.None));
        if (_ami is { } ami)
        {
            _tasks.Add(Task.Run(() => WatchAmiHangupsAsync(ami, _stopping.Token), CancellationToken.None));
        }
        LogStarted(_logger, InstanceId, _settings.Application);
    }

    /// <summary>
    /// An agent joins a campaign: their phone (<paramref name="endpoint"/>, e.g. <c>PJSIP/1001</c>)
    /// is called once and, answered, waits in a holding bridge for customers ("nailed up").
    /// </summary>
    /// <returns>Null when accepted, else the reason in operator words.</returns>
    public Task<string?> JoinAsync(string campaignId, string agentId, string endpoint, CancellationToken cancellationToken = default) =>
        RequestAsync(now =>
        {
            if (!_running.TryGetValue(campaignId, out var campaign))
            {
                return Task.FromResult<string?>($"campaign '{campaignId}' is not running on this instance");
            }

            if (_agents.TryGetValue(agentId, out var existing))
            {
                return Task.FromResult<string?>($"agent {agentId} is already in campaign {existing.Campaign.Definition.Id}");
            }

            return CallAgentLineAsync(campaign, agentId, endpoint, now);
        }, cancellationToken);

    /// <summary>
    /// Calls the agent's phone into the dialer's app for a nailed-up line: the line (its channel id and the
    /// phone) is stored first and only then is the phone called, so an adopter of this instance, if it is
    /// killed, knows which channel is the agent's line (issue 14).
    /// </summary>
    private async Task<string?> CallAgentLineAsync(RunningCampaign campaign, string agentId, string endpoint, DateTimeOffset now)
    {
        var campaignId = campaign.Definition.Id;
        var channelId = string.Create(CultureInfo.InvariantCulture, $"dagent-{agentId}-{InstanceId}-{++_agentLegs}");
        var agent = new DialerAgent(agentId, endpoint, channelId, "dhold-" + channelId, campaign) { StateSince = now };
        _agents[agentId] = agent;
        _onLines[agentId] = campaignId;
        _agentsByChannel[channelId] = agent;
        campaign.Agents.Add(agent);
        await RecordAgentLineAsync(agentId, campaignId, channelId, endpoint).ConfigureAwait(false);
        agent.Run("call the agent's phone", _logger, ct => _ari.Channels.OriginateAsync(
            endpoint: endpoint, app: _settings.Application, appArgs: $"{AgentArg},{campaignId},{agentId}",
            callerId: $"\"{campaign.Definition.Id}\" <{campaign.Definition.CallerId.TrimStart('+')}>", timeout: 60, channelId: channelId, cancellationToken: ct),
            onFailure: failure => Post(_ => { RemoveAgent(agent, "phone could not be called: " + failure.Message); return Task.CompletedTask; }), _stopping.Token);
        LogAgentJoining(_logger, agentId, campaignId, endpoint);
        return null;
    }

    /// <summary>The campaign whose nailed-up line the agent is on (joining or joined) on this instance, or null. Safe from any thread.</summary>
    public string? CampaignOf(string agentId) => _onLines.TryGetValue(agentId, out var campaign) ? campaign : null;

    /// <summary>An agent leaves their campaign (after the current call: the nailed-up channel is hung up now, which ends the call too).</summary>
    public Task<string?> LeaveAsync(string agentId, CancellationToken cancellationToken = default) =>
        RequestAsync(now =>
        {
            if (!_agents.TryGetValue(agentId, out var agent))
            {
                return Task.FromResult<string?>($"agent {agentId} is in no campaign");
            }

            agent.Run("hang up the agent's channel", _logger, ct => _ari.Channels.HangupAsync(agent.ChannelId, reason: "normal", cancellationToken: ct), null, _stopping.Token);
            return Task.FromResult<string?>(null);
        }, cancellationToken);

    /// <summary>Every running campaign's live figures on this instance.</summary>
    public Task<IReadOnlyList<CampaignWallboard>> GetStatsAsync(CancellationToken cancellationToken = default) =>
        RequestAsync(now => Task.FromResult<IReadOnlyList<CampaignWallboard>>([.. _running.Values.OrderBy(c => c.Definition.Id, StringComparer.Ordinal).Select(c => Wallboard(c, now))]), cancellationToken);

    /// <summary>Paces every running campaign now (the loop also does it every <see cref="DialerSettings.PlanIntervalSeconds"/>).</summary>
    public Task PlanNowAsync(CancellationToken cancellationToken = default) =>
        RequestAsync(async now => { await PlanAllAsync(now, forceRefresh: true).ConfigureAwait(false); return true; }, cancellationToken);

    private static CampaignWallboard Wallboard(RunningCampaign c, DateTimeOffset now)
    {
        var snapshot = c.Snapshot(now);
        var stats = c.Dialer.Stats(now, snapshot);
        return new CampaignWallboard(
            c.Definition.Id, c.Definition.Mode, stats.EffectiveMode, c.Dials, c.LiveAnswers, c.Abandons, c.MachineAnswers,
            stats.Lines, stats.Ringing, stats.WaitingForAgent, snapshot.LoggedIn, snapshot.Ready, snapshot.Busy.Count,
            stats.Measured.Rate, stats.Measured.LiveAnswers, stats.DialLevel);
    }

    private Task<T> RequestAsync<T>(Func<DateTimeOffset, Task<T>> action, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Activity.Start();
        if (!_work.Writer.TryWrite(async now =>
            {
                try
                {
                    done.TrySetResult(await action(now).ConfigureAwait(false));
                }
                catch (Exception ex)
                {
                    done.TrySetException(ex);
                    throw;
                }
            }))
        {
            Activity.End();
            throw new InvalidOperationException("The dialer has stopped.");
        }

        return done.Task.WaitAsync(cancellationToken);
    }

    private void Post(Func<DateTimeOffset, Task> work)
    {
        // Counted from now until the loop has run it (DialerActivity).
        Activity.Start();
        if (!_work.Writer.TryWrite(work))
        {
            Activity.End(); // stopped: it never runs
        }
    }

    private async Task RunLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var work in _work.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await work(_time.GetUtcNow()).ConfigureAwait(false);
                    CheckLinesGone();
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // One failed step (a database hiccup, a bad event) must not stop every campaign.
                    LogWorkFailed(_logger, ex);
                }
                finally
                {
                    Activity.End();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task ReadEventsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var message in _events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                NoteAnswerRead(message);
                Post(now => OnEventAsync(message, now));
                if (message is not AriEventGap)
                {
                    // Counted after the post: read and not yet handled is still work in hand.
                    Activity.EventRead();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        // The round is posted by the timer's own callback, so it is in hand the moment the clock reaches it (a test
        // moving a fake clock sees it pending at once); at most one waits on the loop, so a loop slower than the
        // interval skips rounds instead of piling them up (as PeriodicTimer, used before, did).
        Post(now => PlanAllAsync(now, forceRefresh: true));
        var interval = TimeSpan.FromSeconds(_settings.PlanIntervalSeconds);
        using var timer = _time.CreateTimer(_ =>
        {
            if (Interlocked.Exchange(ref _tickQueued, 1) == 0)
            {
                Post(now =>
                {
                    Volatile.Write(ref _tickQueued, 0);
                    return PlanAllAsync(now, forceRefresh: false);
                });
            }
        }, null, interval, interval);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task PlanAllAsync(DateTimeOffset now, bool forceRefresh)
    {
        if (_leaseLost)
        {
            return; // nothing is dialled, swept or adopted until the lease is ours again (OutboundDialer.LeaseLoss)
        }

        var ct = _stopping.Token;
        if (forceRefresh || now - _lastHeartbeat >= LeadHopper.ClaimLease / 3)
        {
            await _hopper.HeartbeatAsync(ct).ConfigureAwait(false);
            _lastHeartbeat = now;
            SweepOrphans();
        }

        if (forceRefresh || now - _lastRefresh >= TimeSpan.FromSeconds(_settings.CampaignRefreshSeconds))
        {
            await RefreshCampaignsAsync(ct).ConfigureAwait(false);
            _lastRefresh = now;
        }

        foreach (var campaign in InPriorityOrder())
        {
            await PlanAsync(campaign, now, ct).ConfigureAwait(false);
        }

        AuditLines(now);
        LookForDeadInstances(now);
    }

    private async Task PlanTrunkOfAsync(RunningCampaign campaign, DateTimeOffset now)
    {
        if (!_trunks.TryGetValue(campaign.Definition.Id, out var trunk))
        {
            await PlanAsync(campaign, now, _stopping.Token).ConfigureAwait(false);
            return;
        }

        foreach (var sharing in InPriorityOrder().Where(c => _trunks.TryGetValue(c.Definition.Id, out var t) && t.Key == trunk.Key))
        {
            await PlanAsync(sharing, now, _stopping.Token).ConfigureAwait(false);
        }
    }

    /// <summary>The running campaigns, higher priority first (then by id): the order every round paces them in.</summary>
    private List<RunningCampaign> InPriorityOrder() =>
        [.. _running.Values.OrderByDescending(c => c.Definition.Priority).ThenBy(c => c.Definition.Id, StringComparer.Ordinal)];

    private async Task RefreshCampaignsAsync(CancellationToken ct)
    {
        var stored = await _campaigns.ListAsync(null, ct).ConfigureAwait(false);
        _trunks = TrunkBudgets(stored);
        foreach (var s in stored)
        {
            if (_running.TryGetValue(s.Id, out var current))
            {
                current.Accepting = s.State == CampaignState.Running && !_draining;
                if (s.UpdatedAt != current.UpdatedAt && current.Dialer.Calls.Count == 0)
                {
                    // New settings take effect between calls; the statistics stay with the campaign, and the
                    // old ledger's rows (already stored) count as recorded elsewhere for the new one.
                    await FlushLedgerAsync(current, ct).ConfigureAwait(false);
                    current.Replace(s.Definition, s.UpdatedAt);
                }

                await ReadLedgerElsewhereAsync(current, ct).ConfigureAwait(false);
            }
            else if (s.State == CampaignState.Running && !_draining)
            {
                var campaign = new RunningCampaign(s.Definition, s.UpdatedAt) { Activity = Activity };
                _running[s.Id] = campaign;

                // The abandon rate goes on from what is stored (a restart, other instances), not from zero.
                await ReadLedgerElsewhereAsync(campaign, ct).ConfigureAwait(false);
                LogCampaignStarted(_logger, s.Id, s.Definition.Mode.ToString());
            }
        }

        await ShareLinesAsync(ct).ConfigureAwait(false);
    }

    private async Task PlanAsync(RunningCampaign campaign, DateTimeOffset now, CancellationToken ct)
    {
        var snapshot = campaign.Snapshot(now);
        var leads = new List<HopperLead>();
        var messageOnly = campaign.Definition.Mode == DialingMode.VoiceBroadcast && campaign.Definition.Broadcast == BroadcastKind.MessageOnly;
        var available = campaign.Definition.MaxConcurrentLines - campaign.Dialer.Calls.Count;
        var preview = campaign.Definition.Mode == DialingMode.Preview;
        available = Math.Min(available, campaign.LineShare - campaign.Dialer.Calls.Count);
        var wouldDial = campaign.Accepting && available > 0 && (snapshot.LoggedIn > 0 || messageOnly) && !preview;
        var onSharedTrunk = _trunks.ContainsKey(campaign.Definition.Id);
        if (!wouldDial && campaign.DemandWritten > 0)
        {
            await ClearLineDemandAsync(campaign).ConfigureAwait(false);
        }

        // The campaign's lines (every instance) and a shared trunk's are locked from their count to the
        // storing of the new attempts, so instances and campaigns never together pass either limit. On a shared
        // trunk the lease also leaves free lines to the unmet demand of higher priorities on other instances.
        await using var trunk = wouldDial
            ? await _trunkLines.LeaseAsync(LineBudgets(campaign), onSharedTrunk ? new LineRequest(campaign.Definition.Id, campaign.Definition.Priority, now) : null, ct).ConfigureAwait(false)
            : null;
        var ownLines = available;
        if (trunk is not null)
        {
            ownLines = Math.Min(available, trunk.LeftOnCampaignCaps);
            available = Math.Min(available, trunk.Left);

            // With no trunk line for it, a campaign on a shared trunk still paces: what it wanted is its unmet demand.
            wouldDial = available > 0 || (onSharedTrunk && ownLines > 0);
        }

        if (wouldDial)
        {
            // Enough candidates for any plan (windows and DNC may skip some); the rest go back at once. On a shared
            // trunk as many as the campaign could use were the trunk free, so its unmet demand can be told.
            var claimFor = onSharedTrunk ? ownLines : available;
            var limit = messageOnly ? claimFor : Math.Min(claimFor, Math.Max(4, 3 * snapshot.LoggedIn));
            leads.AddRange(await _hopper.ClaimAsync(campaign.Definition.Id, limit, now, ct).ConfigureAwait(false));
        }

        // Power and predictive lines may end abandoned: the campaign's abandon headroom is read and this instance's
        // lines at risk written under the campaign's lock (the lease), so two instances never spend the same headroom.
        var atRisk = campaign.Definition.Mode is DialingMode.Power or DialingMode.Predictive;
        int? abandonBudget = trunk is not null && atRisk ? await trunk.AbandonBudgetAsync(campaign.Definition.Id, campaign.Dialer.Ledger, now, campaign.UnstoredAbandons(), ct).ConfigureAwait(false) : null;
        var dialled = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyList<SkippedLead> skipped = [];
        try
        {
            var blocked = await _doNotCall.BlockedAmongAsync(campaign.Definition.Id, [.. leads.Select(l => l.Lead.PhoneNumber)], ct).ConfigureAwait(false);

            // Answers read while this round awaited the database are not given up (no await from here to their hang-ups).
            foreach (var answered in _answersRead.Keys)
            {
                campaign.Dialer.OnAnswerReported(answered);
            }

            var plan = campaign.Dialer.Plan(now, snapshot, leads.Select(l => l.Lead), blocked, trunk is null ? null : available, abandonBudget);

            // The give-ups' hang-ups go out first, before anything is stored: each moment in between is one in which the
            // person may answer and then be hung up on (the answer cannot be served once the hang-up is on its way).
            foreach (var givenUp in plan.GivenUp)
            {
                if (_lines.TryGetValue(givenUp.Call.CallId, out var givenUpLine))
                {
                    givenUpLine.HungUpByDialer = true;
                }

                RememberGivenUp(campaign, givenUp, now);
                Activity.Track(_ari.Channels.HangupAsync(givenUp.Call.CallId, reason: "normal", cancellationToken: ct));
            }

            skipped = plan.Skipped;
            foreach (var lost in plan.Released)
            {
                LogLineLost(_logger, lost.Call.CallId, campaign.Definition.Id);
                if (_lines.TryGetValue(lost.Call.CallId, out var lostLine))
                {
                    lostLine.HungUpByDialer = true;
                }

                await EndLineAsync(campaign, lost, ct).ConfigureAwait(false);
                Activity.Track(_ari.Channels.HangupAsync(lost.Call.CallId, reason: "normal", cancellationToken: ct));
            }

            foreach (var givenUp in plan.GivenUp)
            {
                // Rang the minimum ring time with no agent free for its answer: hung up above, stored as unanswered.
                LogLineGivenUp(_logger, givenUp.Call.CallId, campaign.Definition.Id, (givenUp.EndedAt - givenUp.Call.DialedAt).TotalSeconds);
                await EndLineAsync(campaign, givenUp, ct).ConfigureAwait(false);
            }

            if (trunk is not null)
            {
                // Unmet demand: lines pacing wanted (within the campaign's own caps) that the trunk did not give, as far as
                // there are leads to dial on them (leads the plan never looked at); written in the lease, before its commit.
                int? demand = null;
                if (onSharedTrunk)
                {
                    var wanted = Math.Min(plan.LinesWanted + plan.LinesWantedBeyondShared, ownLines);
                    demand = Math.Max(0, Math.Min(wanted - plan.Orders.Count, leads.Count - plan.Orders.Count - plan.Skipped.Count));
                }

                int? exposure = atRisk ? campaign.Dialer.LinesAtRiskOfAbandon(snapshot) + campaign.UnstoredAbandons() : null;
                await StartOnTrunkAsync(campaign, trunk, plan.Orders, now, demand, DemandValidity(), exposure, ct).ConfigureAwait(false);
            }
            else if (atRisk && campaign.ExposureWritten is { } written
                     && campaign.Dialer.LinesAtRiskOfAbandon(snapshot) + campaign.UnstoredAbandons() is var lower && lower < written)
            {
                // Nothing dialled (no lease): lines that ended give their headroom back; lowering needs no lock.
                await _trunkLines.LowerAbandonExposureAsync(campaign.Definition.Id, lower, now, ct).ConfigureAwait(false);
                campaign.ExposureWritten = lower;
            }

            foreach (var order in plan.Orders)
            {
                dialled.Add(order.Call.LeadId);
                Dial(campaign, order);
            }

            foreach (var skip in plan.Skipped.Where(s => s.Reason == SkipReason.DoNotCall))
            {
                LogDoNotCall(_logger, skip.Lead.Id, campaign.Definition.Id);
            }
        }
        finally
        {
            // Whatever happened, leads not dialled go back to the hopper at once.
            await ReleaseUndialledAsync(leads, dialled, skipped, now).ConfigureAwait(false);
        }

        if (preview && campaign.Accepting)
        {
            await OfferPreviewsAsync(campaign, now, ct).ConfigureAwait(false);
        }

        await FlushLedgerAsync(campaign, ct).ConfigureAwait(false);
        if (!campaign.Accepting && campaign.Dialer.Calls.Count == 0 && campaign.Agents.Count == 0)
        {
            _running.Remove(campaign.Definition.Id);
            LogCampaignStopped(_logger, campaign.Definition.Id);
        }
    }

    /// <summary>
    /// Stores a plan's attempts inside the trunk's lock, and the campaign's unmet demand on a shared trunk
    /// (<paramref name="demand"/>, null when not on one), then frees the trunk; on failure none is dialled.
    /// </summary>
    private static async Task StartOnTrunkAsync(
        RunningCampaign campaign, TrunkLease trunk, IReadOnlyList<DialOrder> orders, DateTimeOffset now, int? demand, TimeSpan demandValidity, int? exposure, CancellationToken ct)
    {
        try
        {
            foreach (var order in orders)
            {
                await trunk.StartAsync(campaign.Definition.Id, order.Call, ct).ConfigureAwait(false);
            }

            if (exposure is { } atRisk && atRisk != campaign.ExposureWritten)
            {
                await trunk.SetAbandonExposureAsync(campaign.Definition.Id, atRisk, now, ct).ConfigureAwait(false);
            }

            if (demand is { } lines && (lines > 0 || campaign.DemandWritten > 0))
            {
                await trunk.SetDemandAsync(campaign.Definition.Id, campaign.Definition.Priority, lines, now + demandValidity, ct).ConfigureAwait(false);
            }

            await trunk.CommitAsync(ct).ConfigureAwait(false);
            if (demand is { } written)
            {
                campaign.DemandWritten = written;
            }

            if (exposure is not null)
            {
                campaign.ExposureWritten = exposure;
            }
        }
        catch
        {
            // Nothing stored: the domain forgets every line of the plan, their leads go back.
            foreach (var order in orders)
            {
                campaign.Dialer.OnCallEnded(order.Call.CallId, now, CallOutcome.Failed);
            }

            throw;
        }
    }

    /// <summary>
    /// How long a campaign's unmet demand on a shared trunk holds lines back on other instances without being written
    /// again: a few of this instance's rounds, so an instance that stalls or dies stops holding lines back soon.
    /// </summary>
    private TimeSpan DemandValidity() => TimeSpan.FromSeconds(Math.Max(5, 3 * _settings.PlanIntervalSeconds));

    /// <summary>Removes the campaign's unmet demand (it wants no lines now, or stopped here). Best effort: the row lapses anyway.</summary>
    private async Task ClearLineDemandAsync(RunningCampaign campaign)
    {
        try
        {
            await _trunkLines.ClearDemandAsync(campaign.Definition.Id, _stopping.Token).ConfigureAwait(false);
            campaign.DemandWritten = 0;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogDemandNotCleared(_logger, campaign.Definition.Id, ex.Message);
        }
    }

    /// <summary>The line budgets a dial of <paramref name="campaign"/> takes from: its own cap over every instance, then its trunk's.</summary>
    private List<TrunkBudget> LineBudgets(RunningCampaign campaign)
    {
        List<TrunkBudget> budgets = [TrunkBudget.OfCampaign(campaign.Definition.Id, campaign.Definition.MaxConcurrentLines)];
        if (_trunks.TryGetValue(campaign.Definition.Id, out var trunk))
        {
            budgets.Add(trunk);
        }

        return budgets;
    }

    /// <summary>
    /// Each running campaign's share of its lines on this instance: in proportion to the agents on its
    /// lines here among those on every live instance (dialer_agent_lines), rounded up; the campaign-wide
    /// cap (<see cref="TrunkBudget.OfCampaign"/>) keeps the sum within <c>maxConcurrentLines</c>.
    /// </summary>
    private async Task ShareLinesAsync(CancellationToken ct)
    {
        var held = await _agentLines.HeldAsync(ct).ConfigureAwait(false);
        foreach (var campaign in _running.Values)
        {
            // This instance's agents as it knows them; the others' from their rows.
            var here = campaign.Agents.Count;
            var elsewhere = held.Count(l => l.CampaignId == campaign.Definition.Id && l.InstanceId != InstanceId);
            campaign.LineShare = elsewhere == 0
                ? int.MaxValue
                : (int)Math.Ceiling(campaign.Definition.MaxConcurrentLines * (double)here / (here + elsewhere));
        }
    }

    /// <summary>
    /// Which shared trunk (dialer.trunks) each stored campaign draws from: the one whose trunk prefix is the
    /// campaign's. The trunk's lines are counted over every campaign on it, running here or not.
    /// </summary>
    private Dictionary<string, TrunkBudget> TrunkBudgets(IReadOnlyList<StoredCampaign> stored)
    {
        var byCampaign = new Dictionary<string, TrunkBudget>(StringComparer.Ordinal);
        foreach (var group in stored.GroupBy(c => _settings.TrunkFor(c.Definition.Campaign.TrunkPrefix)))
        {
            if (group.Key is not { } trunk)
            {
                continue;
            }

            var budget = new TrunkBudget(trunk.Name, trunk.TrunkPrefix, trunk.MaxLines, [.. group.Select(c => c.Id)]);
            foreach (var campaign in group)
            {
                byCampaign[campaign.Id] = budget;
            }
        }

        return byCampaign;
    }

    private async Task ReleaseUndialledAsync(List<HopperLead> leads, HashSet<string> dialled, IReadOnlyList<SkippedLead> skipped, DateTimeOffset now)
    {
        var reasons = skipped.GroupBy(s => s.Lead.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var release = leads.Where(l => !dialled.Contains(l.Lead.Id)).Select(l =>
        {
            DateTimeOffset? notBefore = reasons.TryGetValue(l.Lead.Id, out var skip)
                ? skip.Reason switch
                {
                    SkipReason.OutsideCallingWindow or SkipReason.NotDue => skip.NotBefore,

                    // Looked at again later: the list or the lead's data may change meanwhile.
                    SkipReason.DoNotCall or SkipReason.UnknownTimeZone or SkipReason.InvalidNumber => now.AddHours(1),
                    _ => null,
                }
                : null;
            return (l.Lead.Id, notBefore);
        }).ToList();

        // Not cancelled with the dialer: a lead must not stay claimed because the service is stopping.
        await _hopper.ReleaseAsync(release, CancellationToken.None).ConfigureAwait(false);
    }

    private void Dial(RunningCampaign campaign, DialOrder order)
    {
        var call = order.Call;
        var line = new DialerLine(call.CallId, campaign);
        _lines[call.CallId] = line;
        campaign.Dials++;
        var callerId = order.CallerName is { Length: > 0 } name ? $"\"{name.Replace("\"", string.Empty, StringComparison.Ordinal)}\" <{order.CallerId}>" : order.CallerId;
        line.Run("originate", _logger, ct => _ari.Channels.OriginateAsync(
                endpoint: call.Endpoint, app: _settings.Application, appArgs: $"{CustomerArg},{campaign.Definition.Id},{call.LeadId}",
                callerId: callerId, timeout: (int)Math.Ceiling(order.RingTimeout.TotalSeconds), channelId: call.CallId, cancellationToken: ct),
            onFailure: failure => Post(async now =>
            {
                if (failure is not AriRequestException)
                {
                    // No answer (timeout, connection broken after the request went out): Asterisk may well
                    // have placed the call, and a dial we cannot rule out must not free the lead for
                    // another one while the first may still ring. The line stays; its events (answer,
                    // ChannelDestroyed) end it as usual, or, if none ever comes, the domain releases it as
                    // a lost reply after its ring timeout and grace, hangs the channel id up and retries.
                    LogOriginateUnanswered(_logger, call.CallId, call.Endpoint, failure.Message);
                    return;
                }

                // Asterisk refused the dial (unknown endpoint, no channel): the attempt failed.
                if (_lines.Remove(call.CallId) && campaign.Dialer.Find(call.CallId) is not null)
                {
                    LogOriginateFailed(_logger, call.CallId, call.Endpoint, failure.Message);
                    await EndLineAsync(campaign, campaign.Dialer.OnCallEnded(call.CallId, now, CallOutcome.Failed), _stopping.Token, line).ConfigureAwait(false);
                    FreeReservedAgent(line, now);
                }
            }), _stopping.Token);
    }

    /// <summary>
    /// On an events reader, before the event is posted to the loop: a customer's answer is noted at once, so a plan that
    /// runs before the answer is handled does not give that line up (<see cref="CampaignDialer.OnAnswerReported"/>). The
    /// answer then gets an agent or the abandon message as any other; a give-up would have hung up on the person.
    /// </summary>
    private void NoteAnswerRead(Message message)
    {
        if (message is StasisStart start && start.Args.Count > 0 && start.Args[0] == CustomerArg)
        {
            _answersRead.TryAdd(start.Channel.Id, 0);
        }
    }

    private async Task OnEventAsync(Message message, DateTimeOffset now)
    {
        if (message is StasisStart handled)
        {
            _answersRead.TryRemove(handled.Channel.Id, out _);
        }

        if (_leaseLost)
        {
            return; // these calls may be a survivor's now: not acted on (OutboundDialer.LeaseLoss)
        }

        switch (message)
        {
            case StasisStart start when start.Args.Count > 0 && start.Args[0] == AgentArg:
                OnAgentUp(start.Channel.Id);
                break;
            case StasisStart start when start.Args.Count > 0 && start.Args[0] == CustomerArg:
                await OnCustomerAnsweredAsync(start.Channel.Id, now, start.Args.Count > 3 ? start.Args[3] : null, start.Channel.Name).ConfigureAwait(false);
                break;
            case StasisStart start when start.Args.Count > 0 && start.Args[0] == AmdArg:
                // Back from the AMD context: Stasis(app,dialer-amd,${AMDSTATUS},${AMDCAUSE}).
                await OnCustomerAnsweredAsync(start.Channel.Id, now, start.Args.Count > 1 ? start.Args[1] : null, start.Channel.Name, amdDone: true).ConfigureAwait(false);
                break;
            case StasisStart start:
                LogUnknownChannel(_logger, start.Channel.Id, string.Join(',', start.Args));
                Activity.Track(_ari.Channels.HangupAsync(start.Channel.Id, reason: "normal"));
                break;
            case Dial dial when _lines.TryGetValue(dial.Peer.Id, out var dialling) && !string.IsNullOrEmpty(dial.Dialstatus):
                dialling.DialStatus = dial.Dialstatus;
                break;
            case ChannelDestroyed destroyed:
                _givenUp.Remove(destroyed.Channel.Id); // its answer, if any, was reported before its end
                await OnChannelGoneAsync(destroyed.Channel.Id, now, destroyed.Cause).ConfigureAwait(false);
                break;
            case StasisEnd end:
                _givenUp.Remove(end.Channel.Id);
                await OnChannelGoneAsync(end.Channel.Id, now, null).ConfigureAwait(false);
                break;
            case ChannelDtmfReceived dtmf when dtmf.Digit == "1" && _lines.TryGetValue(dtmf.Channel.Id, out var pressing):
                PressedOne(pressing, now);
                break;
            case PlaybackFinished finished when finished.Playback.TargetUri.StartsWith("channel:", StringComparison.Ordinal):
                var channelId = finished.Playback.TargetUri["channel:".Length..];
                if (_lines.TryGetValue(channelId, out var played) && played.HangUpAfterPlayback == finished.Playback.Id)
                {
                    played.Run("hang up after the message", _logger, ct => _ari.Channels.HangupAsync(channelId, reason: "normal", cancellationToken: ct), null, _stopping.Token);
                }

                break;
            case ChannelUserevent userEvent:
                await OnUserEventAsync(userEvent, now).ConfigureAwait(false);
                break;
            case AriEventGap gap:
                ResyncAfterGap(gap, now);
                break;
        }
    }

    private void OnAgentUp(string channelId)
    {
        if (!_agentsByChannel.TryGetValue(channelId, out var agent))
        {
            Activity.Track(_ari.Channels.HangupAsync(channelId, reason: "normal"));
            return;
        }

        agent.Run("park the agent in a holding bridge", _logger, async ct =>
        {
            await _ari.Bridges.CreateAsync(type: "holding", bridgeId: agent.HoldBridgeId, name: $"{agent.Campaign.Definition.Id}-{agent.Id}-wait", cancellationToken: ct).ConfigureAwait(false);
            await _ari.Bridges.AddChannelAsync(agent.HoldBridgeId, [agent.ChannelId], role: "participant", cancellationToken: ct).ConfigureAwait(false);
            await _ari.Bridges.StartMohAsync(agent.HoldBridgeId, "default", ct).ConfigureAwait(false);
        }, null, _stopping.Token);
        LogAgentReady(_logger, agent.Id, agent.Campaign.Definition.Id);
        MakeIdle(agent, _time.GetUtcNow());
    }

    private async Task OnCustomerAnsweredAsync(string callId, DateTimeOffset now, string? amdStatus, string? channelName, bool amdDone = false)
    {
        if (!_lines.TryGetValue(callId, out var line) || line.Campaign.Dialer.Find(callId) is not { State: DialedCallState.Ringing })
        {
            Activity.Track(_ari.Channels.HangupAsync(callId, reason: "normal"));
            if (line is null && _givenUp.Remove(callId, out var givenUp))
            {
                await CountAnswerAfterGiveUpAsync(givenUp, now, amdStatus).ConfigureAwait(false);
            }

            return;
        }

        line.ChannelName ??= channelName;
        var campaign = line.Campaign;
        if (!amdDone && amdStatus is null && !line.AmdListening && _settings.AmdContext is { Length: > 0 } amdContext
            && campaign.Definition.Machines != MachineHandling.ConnectToAgent && line.ReservedAgent is null)
        {
            // Answering-machine detection first: the channel leaves the app for the AMD context and comes
            // back with the verdict. The connect deadline starts then (the greeting is over).
            line.AmdListening = true;
            campaign.Dialer.OnScreening(callId);
            line.Run("answering-machine detection", _logger, ct => _ari.Channels.ContinueInDialplanAsync(callId, context: amdContext, extension: "s", priority: 1, cancellationToken: ct), null, _stopping.Token);
            return;
        }

        line.AmdListening = false;
        line.AmdStatus = amdStatus;

        var answeredBy = OutcomeClassifier.FromAmdStatus(amdStatus);
        campaign.Dialer.OnAnswered(callId, now, answeredBy);
        WriteAnswerAhead(callId, now, answeredBy);
        var call = campaign.Dialer.Find(callId)!;
        if (call.State == DialedCallState.WaitingForAgent)
        {
            if (answeredBy == CallOutcome.HumanAnswer)
            {
                campaign.LiveAnswers++;
            }

            if (line.ReservedAgent is { State: DialerAgentState.PreviewDialling } reserved && _agents.ContainsKey(reserved.Id))
            {
                // Preview: the agent who chose the lead is waiting for exactly this answer.
                Connect(campaign, line, reserved, now);
            }
            else if (campaign.IdleAgent() is { } agent)
            {
                Connect(campaign, line, agent, now);
            }
            else
            {
                // Nobody free: the connect deadline runs (2 s under the TSR from the greeting).
                campaign.Waiting.Add(callId);
                var deadline = campaign.Dialer.ConnectDeadlineOf(callId)!.Value;
                line.DeadlineTimer = _time.CreateTimer(_ => Post(at => AbandonIfStillWaitingAsync(line, at)), null, Max(deadline - now, TimeSpan.Zero), Timeout.InfiniteTimeSpan);
            }
        }
        else if (answeredBy == CallOutcome.Machine)
        {
            campaign.MachineAnswers++;
            if (campaign.Definition.Machines == MachineHandling.LeaveMessage && campaign.Definition.MachineMessage is { } message)
            {
                Play(line, message);
                campaign.Dialer.OnMessagePlayed(callId, now, message);
            }
            else
            {
                line.HungUpByDialer = true;
                line.Run("hang up on the machine", _logger, ct => _ari.Channels.HangupAsync(callId, reason: "normal", cancellationToken: ct), null, _stopping.Token);
            }
        }
        else if (campaign.Definition.BroadcastMessage is { } broadcast)
        {
            Play(line, broadcast);
            campaign.Dialer.OnMessagePlayed(callId, now, broadcast);
        }

        await FlushLedgerAsync(campaign, _stopping.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// A line given up unanswered (<see cref="DialPlan.GivenUp"/>) is remembered until Asterisk reports its channel's
    /// end or <see cref="GivenUpMemory"/> has passed: a person may answer between the plan and Asterisk acting on the
    /// hang-up, and must then be counted (<see cref="CountAnswerAfterGiveUpAsync"/>). Bounded: entries older than
    /// that are dropped here, at every give-up.
    /// </summary>
    private void RememberGivenUp(RunningCampaign campaign, AttemptResult givenUp, DateTimeOffset now)
    {
        if (_givenUp.Count > 0)
        {
            List<string>? stale = null;
            foreach (var (id, remembered) in _givenUp)
            {
                if (now - remembered.GivenUpAt >= GivenUpMemory)
                {
                    (stale ??= []).Add(id);
                }
            }

            foreach (var id in stale ?? [])
            {
                _givenUp.Remove(id);
            }
        }

        _givenUp[givenUp.Call.CallId] = new GivenUpLine(campaign, givenUp, now);
    }

    /// <summary>
    /// The answer of a line given up an instant before, reported after the give-up's hang-up was sent. Asterisk hangs a
    /// channel up the moment that request arrives (<c>DELETE /channels/{id}</c> is an immediate soft hang-up, and nothing
    /// in ARI revokes it), and here it arrived within the event's and the request's own transit of the answer: the person
    /// is hung up on at once, so neither an agent nor the abandon message can reach them (a playback asked for now finds
    /// the channel gone or leaving Stasis). What is left is to record it as it was, the same way as any abandoned live
    /// answer: the ledger counts a live answer abandoned, once, with no message played; the attempt is stored again as a
    /// person answered and abandoned; the lead is rescheduled as after any abandon (unless it changed meanwhile); the call
    /// record says abandoned. An AMD verdict of machine is not a live answer; an answer with no verdict counts as a person
    /// (docs/dialer.md, "Giving up unanswered lines").
    /// </summary>
    private async Task CountAnswerAfterGiveUpAsync(GivenUpLine givenUp, DateTimeOffset now, string? amdStatus)
    {
        var campaign = givenUp.Campaign;
        if (OutcomeClassifier.FromAmdStatus(amdStatus) != CallOutcome.HumanAnswer || campaign.Dialer.OnAnsweredAfterGivenUp(givenUp.Result, now) is not { } answered)
        {
            return;
        }

        campaign.LiveAnswers++;
        campaign.Abandons++;
        var callId = answered.Call.CallId;
        LogAnsweredAfterGiveUp(_logger, callId, campaign.Definition.Id, (now - givenUp.GivenUpAt).TotalMilliseconds);

        // The ledger's new rows (this abandon) with the attempt's and the lead's correction, in one transaction.
        var entries = campaign.Dialer.Ledger.Entries;
        var counted = entries.Count;
        IReadOnlyList<LedgerEntry> unstored = counted > campaign.LedgerWritten ? [.. entries.Skip(campaign.LedgerWritten)] : [];
        var stored = await _attempts.AnsweredAfterGiveUpAsync(givenUp.Result, answered, campaign.Definition.Id, unstored, _stopping.Token).ConfigureAwait(false);
        campaign.LedgerWritten = Math.Max(campaign.LedgerWritten, counted);
        if (!stored.LeadRescheduled)
        {
            LogGivenUpLeadNotRescheduled(_logger, callId, campaign.Definition.Id, answered.Call.LeadId);
        }

        // The call row again, a revision up: a person answered and nobody (no agent, no message) was put through.
        var facts = new DialerCallFacts(campaign.Definition.Id, campaign.Definition.CallerId, null, null, null, null, null, HungUpByDialer: true, AsteriskServerName);
        HandRecord(DialerCallRecords.Call(answered, facts, revision: 1));
        foreach (var leg in DialerCallRecords.Legs(answered, facts))
        {
            HandRecord(leg);
        }
    }

    private async Task AbandonIfStillWaitingAsync(DialerLine line, DateTimeOffset now)
    {
        var campaign = line.Campaign;
        if (!campaign.Waiting.Remove(line.CallId) || campaign.Dialer.Find(line.CallId) is not { State: DialedCallState.WaitingForAgent })
        {
            return;
        }

        // No agent within the deadline: the person hears the seller's name and number, then the call ends.
        campaign.Abandons++;
        var message = campaign.Definition.AbandonMessage;
        if (message is not null)
        {
            Play(line, message);
        }
        else
        {
            line.HungUpByDialer = true;
            line.Run("hang up the abandoned call", _logger, ct => _ari.Channels.HangupAsync(line.CallId, reason: "normal", cancellationToken: ct), null, _stopping.Token);
        }

        campaign.Dialer.OnAbandoned(line.CallId, now, messagePlayed: message is not null);
        LogAbandoned(_logger, line.CallId, campaign.Definition.Id);
        await FlushLedgerAsync(campaign, _stopping.Token).ConfigureAwait(false);
    }

    private void Play(DialerLine line, string sound, bool hangUpAfter = true)
    {
        // The dialer hangs up when the message has played (PlaybackFinished of this playback id;
        // a broadcast stopped because the person pressed 1 ends without a hang-up).
        line.MessagePlayed = sound;
        var playbackId = string.Create(CultureInfo.InvariantCulture, $"dplay-{line.CallId}-{++line.Playbacks}");
        line.HangUpAfterPlayback = hangUpAfter ? playbackId : null;
        line.HungUpByDialer = true;
        line.Run("play " + sound, _logger, ct => _ari.Channels.PlayAsync(line.CallId, ["sound:" + sound], playbackId: playbackId, cancellationToken: ct), null, _stopping.Token);
    }

    private void Connect(RunningCampaign campaign, DialerLine line, DialerAgent agent, DateTimeOffset now)
    {
        SetState(agent, DialerAgentState.Talking, now);
        agent.CallId = line.CallId;
        agent.TalkStartedAt = now;
        line.AgentId = agent.Id;
        line.BridgeId = "dcall-" + line.CallId;
        var bridgeId = line.BridgeId;
        line.DeadlineTimer?.Dispose();
        var inTime = campaign.Dialer.OnAgentConnected(line.CallId, now);
        if (!inTime)
        {
            campaign.Abandons++;
        }

        // The agent's leg is ordered with the agent's other requests, the customer's with the line's.
        agent.Run("bridge the agent with the customer", _logger, async ct =>
        {
            await _ari.Bridges.RemoveChannelAsync(agent.HoldBridgeId, [agent.ChannelId], ct).ConfigureAwait(false);
            await _ari.Bridges.CreateAsync(type: "mixing", bridgeId: bridgeId, name: line.CallId, cancellationToken: ct).ConfigureAwait(false);
            await _ari.Bridges.AddChannelAsync(bridgeId, [agent.ChannelId, line.CallId], cancellationToken: ct).ConfigureAwait(false);
        }, null, _stopping.Token);
        LogConnected(_logger, line.CallId, agent.Id, campaign.Definition.Id);
        WriteConnectAhead(line.CallId, agent.Id, campaign.Dialer.Find(line.CallId)?.AnsweredAt ?? now, now);
    }

    /// <summary>
    /// The connect is stored at once, off the loop (issue 14): if this instance is killed during the
    /// conversation, its attempt stays open, and the sweep of another instance that ends it must know the
    /// person was reached, or the lead would be dialled again. A failed write only loses that knowledge.
    /// </summary>
    private void WriteConnectAhead(string callId, string agentId, DateTimeOffset answeredAt, DateTimeOffset connectedAt) =>
        _ = Activity.Run(async () =>
        {
            try
            {
                await _attempts.ConnectedAsync(callId, agentId, answeredAt, connectedAt, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
            {
                LogConnectNotWritten(_logger, callId, ex.Message);
            }
        });

    /// <summary>
    /// The answer is stored at once, off the loop (issue 14): if this instance is killed before the person is put
    /// through, its adopter knows a person waits and since when (the 2 s rule). A failed write only loses that.
    /// </summary>
    private void WriteAnswerAhead(string callId, DateTimeOffset answeredAt, CallOutcome answeredBy) =>
        _ = Activity.Run(async () =>
        {
            try
            {
                await _attempts.AnsweredAsync(callId, answeredAt, answeredBy, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
            {
                LogConnectNotWritten(_logger, callId, ex.Message);
            }
        });

    /// <summary>
    /// A channel of the dialer ended (<paramref name="cause"/>: the Q.850 cause when known). <paramref name="endedAt"/>:
    /// when it really ended, if before <paramref name="now"/> (it ended unseen in an events gap and the resync
    /// learned its end: OutboundDialer.GapHangups.cs); the attempt, its ledger row, its call record and the agent's
    /// talk end then. What the dialer does next (free agents, pace) happens now.
    /// </summary>
    private async Task OnChannelGoneAsync(string channelId, DateTimeOffset now, int? cause, DateTimeOffset? endedAt = null)
    {
        var end = endedAt is { } real && real < now ? real : now;
        if (_agentsByChannel.TryGetValue(channelId, out var agent))
        {
            RemoveAgent(agent, "nailed-up channel ended", end);
            return;
        }

        if (!_lines.TryGetValue(channelId, out var line))
        {
            return; // StasisEnd and ChannelDestroyed both come; the second finds nothing
        }

        var campaign = line.Campaign;
        var call = campaign.Dialer.Find(channelId);
        if (call is null)
        {
            _lines.Remove(channelId);
            return;
        }

        if (line.AmdListening && call.State == DialedCallState.Ringing && cause is not null)
        {
            // Hung up while AMD listened (AMDSTATUS HANGUP): counted as a machine, not a live answer, and retried.
            line.AmdListening = false;
            line.AmdStatus = "HANGUP";
            campaign.Dialer.OnAnswered(channelId, now, CallOutcome.Machine);
            campaign.MachineAnswers++;
        }

        if (call.State == DialedCallState.Ringing && cause is null)
        {
            return; // not answered, so no StasisEnd is ours to act on; ChannelDestroyed carries the cause
        }

        _lines.Remove(channelId);
        line.DeadlineTimer?.Dispose();
        line.PressOneTimer?.Dispose();
        campaign.Waiting.Remove(channelId);
        campaign.PressOneWaiting.Remove(channelId);
        CallOutcome? outcome = null;
        if (call.State == DialedCallState.Ringing)
        {
            outcome = OutcomeClassifier.FromAriDialStatus(line.DialStatus, cause) ?? OutcomeClassifier.FromHangupCause(cause ?? 0);
            line.HangupCause = cause;
        }

        var result = campaign.Dialer.OnCallEnded(channelId, end, outcome);
        await EndLineAsync(campaign, result, _stopping.Token, line).ConfigureAwait(false);
        if (line.AgentId is { } agentId && _agents.TryGetValue(agentId, out var talking) && talking.CallId == channelId)
        {
            StartWrapUp(talking, line, end, now);
        }
        else if (line.BridgeId is { } bridge)
        {
            Activity.Track(_ari.Bridges.DestroyAsync(bridge));
        }

        FreeReservedAgent(line, now);
    }

    /// <summary>Preview: the lead's call ended before the agent talked to anyone; the agent gets the next lead.</summary>
    private void FreeReservedAgent(DialerLine line, DateTimeOffset now)
    {
        if (line.ReservedAgent is { State: DialerAgentState.PreviewDialling } agent && agent.CallId == line.CallId && _agents.ContainsKey(agent.Id))
        {
            MakeIdle(agent, now);
        }
    }

    /// <summary>
    /// The agent's call ended at <paramref name="endedAt"/> (before <paramref name="now"/> when learned late, at the
    /// resync of an events gap): the wrap-up runs from the call's end, and one already over now ended when it was due.
    /// </summary>
    private void StartWrapUp(DialerAgent agent, DialerLine line, DateTimeOffset endedAt, DateTimeOffset now)
    {
        SetState(agent, DialerAgentState.WrapUp, endedAt);
        agent.TalkEndedAt = endedAt;
        var wrapUp = TimeSpan.FromSeconds(agent.Campaign.Definition.WrapUpSeconds);
        agent.WrapUpUntil = endedAt + wrapUp;
        agent.LastCall = line.Ended;
        var bridgeId = line.BridgeId!;
        agent.Run("back to the holding bridge", _logger, async ct =>
        {
            await _ari.Bridges.DestroyAsync(bridgeId, ct).ConfigureAwait(false);
            await _ari.Bridges.AddChannelAsync(agent.HoldBridgeId, [agent.ChannelId], role: "participant", cancellationToken: ct).ConfigureAwait(false);
        }, null, _stopping.Token);
        if (endedAt < now && agent.WrapUpUntil <= now)
        {
            // Learned late and its wrap-up already over: it ended when it was due; the agent is free from now.
            agent.Campaign.Dialer.OnWrapUpEnded(wrapUp);
            WriteWrapUp(agent, agent.WrapUpUntil);
            SetState(agent, DialerAgentState.Idle, agent.WrapUpUntil);
            MakeIdle(agent, now);
            return;
        }

        agent.WrapUpTimer = _time.CreateTimer(_ => Post(at =>
        {
            if (agent.State == DialerAgentState.WrapUp && _agents.ContainsKey(agent.Id))
            {
                agent.Campaign.Dialer.OnWrapUpEnded(at - agent.TalkEndedAt);
                WriteWrapUp(agent, at);
                MakeIdle(agent, at);
            }

            return Task.CompletedTask;
        }), null, Max(agent.WrapUpUntil - now, TimeSpan.Zero), Timeout.InfiniteTimeSpan);
    }

    private void MakeIdle(DialerAgent agent, DateTimeOffset now)
    {
        SetState(agent, DialerAgentState.Idle, now);
        agent.CallId = null;
        agent.IdleSince = now;
        agent.WrapUpTimer?.Dispose();
        var campaign = agent.Campaign;

        // A live answer already waiting gets this agent at once (it is still within its deadline).
        while (campaign.Waiting.Count > 0)
        {
            var callId = campaign.Waiting[0];
            campaign.Waiting.RemoveAt(0);
            if (_lines.TryGetValue(callId, out var line) && campaign.Dialer.Find(callId) is { State: DialedCallState.WaitingForAgent })
            {
                Connect(campaign, line, agent, now);
                return;
            }
        }

        // Then broadcast listeners who pressed 1 (they are past the message; no connect deadline applies).
        while (campaign.PressOneWaiting.Count > 0)
        {
            var callId = campaign.PressOneWaiting[0];
            campaign.PressOneWaiting.RemoveAt(0);
            if (_lines.TryGetValue(callId, out var line) && line.PressedOne && campaign.Dialer.Find(callId) is { State: DialedCallState.Connected, AgentConnectedAt: null })
            {
                ConnectPressOne(campaign, line, agent, now);
                return;
            }
        }

        // An agent becoming ready is a moment to pace (not only the periodic tick). On a shared trunk every
        // campaign of the trunk is paced, higher priority first, so a line freed goes where priority says.
        Post(at => PlanTrunkOfAsync(campaign, at));
    }

    /// <summary>The agent leaves the campaign; <paramref name="at"/>: when their line really ended, if learned late (default now).</summary>
    private void RemoveAgent(DialerAgent agent, string why, DateTimeOffset? at = null)
    {
        if (!_agents.Remove(agent.Id))
        {
            return;
        }

        // The line's interval ends before the agent is seen off the line (CampaignOf), so a queue
        // login that follows can never start inside it (one state at a time in the state log).
        var current = _time.GetUtcNow();
        var now = at is { } real && real < current ? real : current;
        _onLines.TryRemove(agent.Id, out _);
        Activity.Track(ForgetAgentLineAsync(agent.Id));

        _agentsByChannel.Remove(agent.ChannelId);
        agent.Campaign.Agents.Remove(agent);
        agent.WrapUpTimer?.Dispose();
        LogAgentLeft(_logger, agent.Id, agent.Campaign.Definition.Id, why);
        if (agent.State == DialerAgentState.WrapUp)
        {
            WriteWrapUp(agent, now);
        }

        WriteStateInterval(agent, now);
        if (agent.Preview is { } offer)
        {
            // The lead shown goes back to the list for the others.
            agent.Preview = null;
            agent.PreviewTimer?.Dispose();
            agent.Campaign.Dialer.SkipPreviewed(offer.Lead.Lead.Id);
            Post(_ => _hopper.ReleaseAsync([(offer.Lead.Lead.Id, null)], CancellationToken.None));
            Raise(Describe("skipped", agent, offer, now) with { Reason = "left" });
        }

        if (agent.CallId is { } callId && _lines.TryGetValue(callId, out var agentLine))
        {
            agentLine.HungUpByDialer = true;
            // The customer cannot stay with nobody: the call ends (its end is stored from its own hang-up).
            Activity.Track(_ari.Channels.HangupAsync(callId, reason: "normal"));
        }

        Activity.Track(_ari.Bridges.DestroyAsync(agent.HoldBridgeId));
    }

    private async Task EndLineAsync(RunningCampaign campaign, AttemptResult result, CancellationToken ct, DialerLine? line = null)
    {
        line ??= _lines.GetValueOrDefault(result.Call.CallId);
        _lines.Remove(result.Call.CallId);

        // The attempt's end (which closes or reschedules its lead) and the ledger rows counted so far (e.g. the abandon of
        // a person who hung up waiting for an agent) in one transaction: a kill between two writes would lose the rows.
        var entries = campaign.Dialer.Ledger.Entries;
        var counted = entries.Count;
        IReadOnlyList<LedgerEntry> unstored = counted > campaign.LedgerWritten ? [.. entries.Skip(campaign.LedgerWritten)] : [];
        await _attempts.EndAsync(new StoredAttemptEnd(result, line?.AgentId, line?.HangupCause), campaign.Definition.Id, unstored, ct).ConfigureAwait(false);
        campaign.LedgerWritten = Math.Max(campaign.LedgerWritten, counted);
        WriteCallRecords(campaign, result, line);
    }

    /// <summary>Reads the campaign's ledger rows stored by other instances and earlier runs into its measured rates.</summary>
    private async Task ReadLedgerElsewhereAsync(RunningCampaign campaign, CancellationToken ct)
    {
        var ledger = campaign.Dialer.Ledger;
        var elsewhere = await _attempts.TallyElsewhereAsync(campaign.Definition.Id, campaign.Dialer.CallIdPrefix + "-", ledger.Policy.AbandonWindow, ct).ConfigureAwait(false);
        ledger.SetRecordedElsewhere(elsewhere.ToDate, elsewhere.InWindow, elsewhere.FirstRowAt);
    }

    private async Task FlushLedgerAsync(RunningCampaign campaign, CancellationToken ct)
    {
        var entries = campaign.Dialer.Ledger.Entries;
        if (entries.Count > campaign.LedgerWritten)
        {
            var fresh = entries.Skip(campaign.LedgerWritten).ToList();
            await _attempts.AppendLedgerAsync(campaign.Definition.Id, fresh, ct).ConfigureAwait(false);
            campaign.LedgerWritten = entries.Count;
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    // At the start (left by an earlier run of this instance) and at the stop: this instance wants no lines then.
    private async Task ClearAllLineDemandAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _trunkLines.ClearDemandAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            LogDemandNotCleared(_logger, "(all of this instance's)", ex.Message);
        }
    }

    // At the start (nothing of an earlier run up) and at the stop: no line of this instance is at risk of abandon then.
    private async Task ClearAbandonExposureAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _trunkLines.ClearAbandonExposureAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            LogExposureNotCleared(_logger, ex.Message);
        }
    }

    /// <summary>Stops the loop. Calls up in Asterisk are left to end by themselves (their claims expire with the heartbeat).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_work.Writer.TryComplete())
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_tasks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _events.DisposeAsync().ConfigureAwait(false);
        await StopAdoptedEventsAsync().ConfigureAwait(false);

        // The agents' time up to the stop is theirs (the next start begins new sessions).
        var stoppedAt = _time.GetUtcNow();
        foreach (var agent in _agents.Values)
        {
            WriteStateInterval(agent, stoppedAt);
        }

        await StopRecordsAsync().ConfigureAwait(false);
        using (var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await ClearAgentLinesAsync(bounded.Token).ConfigureAwait(false);
            await ClearAllLineDemandAsync(bounded.Token).ConfigureAwait(false);
            await ClearAbandonExposureAsync(bounded.Token).ConfigureAwait(false);
        }

        // Only now: open attempts left by this stop are adopted by a living instance once the lock is free.
        await StopLeaseWatchAsync().ConfigureAwait(false);
        await _sessions.DisposeAsync().ConfigureAwait(false);

        foreach (var line in _lines.Values)
        {
            line.DeadlineTimer?.Dispose();
        }

        foreach (var agent in _agents.Values)
        {
            agent.WrapUpTimer?.Dispose();
            agent.PreviewTimer?.Dispose();
        }

        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Dialer instance {Instance} receives the events of Stasis app {App}")]
    private static partial void LogStarted(ILogger logger, string instance, string app);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Dialer Stasis app {App} could not connect ({Reason}); retrying in {Seconds} s")]
    private static partial void LogStartFailed(ILogger logger, string app, string reason, double seconds);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Campaign {Campaign} runs on this instance ({Mode})")]
    private static partial void LogCampaignStarted(ILogger logger, string campaign, string mode);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Campaign {Campaign} stopped on this instance")]
    private static partial void LogCampaignStopped(ILogger logger, string campaign);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Agent {AgentId} joins campaign {Campaign}: calling {Endpoint}")]
    private static partial void LogAgentJoining(ILogger logger, string agentId, string campaign, string endpoint);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Agent {AgentId} is on the nailed-up line of campaign {Campaign}")]
    private static partial void LogAgentReady(ILogger logger, string agentId, string campaign);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Agent {AgentId} left campaign {Campaign}: {Why}")]
    private static partial void LogAgentLeft(ILogger logger, string agentId, string campaign, string why);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Call {CallId} of campaign {Campaign} bridged to agent {AgentId}")]
    private static partial void LogConnected(ILogger logger, string callId, string agentId, string campaign);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "Call {CallId} of campaign {Campaign} abandoned: no agent within the connect deadline")]
    private static partial void LogAbandoned(ILogger logger, string callId, string campaign);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "Dialling {Endpoint} for call {CallId} failed: {Reason}")]
    private static partial void LogOriginateFailed(ILogger logger, string callId, string endpoint, string reason);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "Call {CallId} of campaign {Campaign}: Asterisk never reported its end; line released")]
    private static partial void LogLineLost(ILogger logger, string callId, string campaign);

    [LoggerMessage(EventId = 1440, Level = LogLevel.Debug, Message = "Call {CallId} of campaign {Campaign} given up unanswered after {RingSeconds:0.0} s: no agent would be free for its answer")]
    private static partial void LogLineGivenUp(ILogger logger, string callId, string campaign, double ringSeconds);

    [LoggerMessage(EventId = 1500, Level = LogLevel.Warning, Message = "Call {CallId} of campaign {Campaign} answered {AfterMs:0} ms after its give-up's hang-up was sent: hung up with no agent and no message, counted as an abandoned live answer")]
    private static partial void LogAnsweredAfterGiveUp(ILogger logger, string callId, string campaign, double afterMs);

    [LoggerMessage(EventId = 1600, Level = LogLevel.Warning, Message = "Call {CallId} of campaign {Campaign}: answered after it was given up; its attempt is stored as abandoned, but lead {LeadId} had changed since the give-up (dialled again, moved, recycled or closed) and is left as it is")]
    private static partial void LogGivenUpLeadNotRescheduled(ILogger logger, string callId, string campaign, string leadId);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Lead {LeadId} of campaign {Campaign} not dialled: its number is on a do-not-call list")]
    private static partial void LogDoNotCall(ILogger logger, string leadId, string campaign);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "StasisStart for channel {ChannelId} the dialer does not know (args '{Args}'); hung up")]
    private static partial void LogUnknownChannel(ILogger logger, string channelId, string args);

    [LoggerMessage(EventId = 1017, Level = LogLevel.Warning, Message = "Dialling {Endpoint} for call {CallId} got no answer ({Reason}); the line is kept until Asterisk reports the call or its lost-reply grace ends")]
    private static partial void LogOriginateUnanswered(ILogger logger, string callId, string endpoint, string reason);

    [LoggerMessage(EventId = 1072, Level = LogLevel.Warning, Message = "Dialer: campaign {Campaign}'s unmet line demand could not be removed from dialer_line_demand ({Reason}); it lapses within a few rounds")]
    private static partial void LogDemandNotCleared(ILogger logger, string campaign, string reason);

    [LoggerMessage(EventId = 1360, Level = LogLevel.Warning, Message = "Dialer: this instance's abandon exposure could not be removed from dialer_abandon_exposure ({Reason}); it stops counting once the instance's heartbeat is older than the claim lease")]
    private static partial void LogExposureNotCleared(ILogger logger, string reason);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Error, Message = "Dialer step failed; continuing")]
    private static partial void LogWorkFailed(ILogger logger, Exception exception);

    /// <summary>A line given up unanswered: its campaign, the give-up's result (as stored), and when (see <see cref="RememberGivenUp"/>).</summary>
    private sealed record GivenUpLine(RunningCampaign Campaign, AttemptResult Result, DateTimeOffset GivenUpAt);
}
