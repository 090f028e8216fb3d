using System.Net;
using CtiBridge.PbxSim.Ami;
using CtiBridge.PbxSim.Ari;
using CtiBridge.PbxSim.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.PbxSim;

/// <summary>
/// An Asterisk 22 on loopback: AMI and ARI servers over a model of channels, bridges and a dialplan,
/// all on an injected <see cref="TimeProvider"/>. Start it with <see cref="StartAsync"/>; tests use
/// port 0 and read <see cref="AmiEndPoint"/> and the ARI end point.
/// </summary>
public sealed class PbxSimulator : IAsyncDisposable
{
    /// <summary>The Asterisk version PbxSim reports (the recording instance's).</summary>
    public const string AsteriskVersion = "22.10.1";

    internal static readonly HashSet<string> LoadedModules = new(StringComparer.Ordinal)
    {
        "app_queue.so", "app_dial.so", "app_playback.so", "app_stasis.so", "app_mixmonitor.so", "app_chanspy.so",
        "res_ari.so", "res_stasis.so", "chan_local.so", "cdr_manager.so", "cel_manager.so", "res_musiconhold.so",
    };

    private readonly Random _random;
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates a simulator; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Configuration; the defaults reproduce the recording instance.</param>
    /// <param name="time">The clock the whole model runs on (a fake clock in tests).</param>
    /// <param name="loggerFactory">Where logs go; none by default.</param>
    /// <param name="randomSeed">Seed for challenges, ids and traffic, so runs are repeatable.</param>
    public PbxSimulator(PbxSimOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, int randomSeed = 22)
    {
        Options = options ?? new PbxSimOptions();
        if (Options.Problems() is { Count: > 0 } problems)
        {
            throw new ArgumentException($"PbxSim options have {problems.Count} problem(s):\n  " + string.Join("\n  ", problems), nameof(options));
        }

        Time = time ?? TimeProvider.System;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _random = new Random(randomSeed);
        StartedAt = Time.GetUtcNow();
        LastReloadAt = StartedAt;
        Ami = new AmiServer(this, _loggerFactory.CreateLogger("CtiBridge.PbxSim.Ami"));
        Security = new SecurityEvents(this);
        Ari = new AriApplications();
        AriServer = new AriServer(this, _loggerFactory.CreateLogger("CtiBridge.PbxSim.Ari"));
        AriEvents = new AriEvents(this);
        Endpoints = new Endpoints(Options.Endpoints, Options.UnscriptedPhoneAnswersAfter);
        Model = new PbxModel(this);
    }

    /// <summary>The configuration in use.</summary>
    public PbxSimOptions Options { get; }

    /// <summary>The clock of the model and of every protocol delay.</summary>
    public TimeProvider Time { get; }

    /// <summary>When this instance "booted" (AMI <c>Uptime</c>, ARI <c>startup_time</c>).</summary>
    public DateTimeOffset StartedAt { get; private set; }

    /// <summary>When the configuration was last (re)loaded.</summary>
    public DateTimeOffset LastReloadAt { get; private set; }

    /// <summary>The AMI listening address, once started.</summary>
    public IPEndPoint AmiEndPoint => Ami.EndPoint ?? throw new InvalidOperationException("PbxSim is not started: call StartAsync first.");

    /// <summary>The ARI (HTTP and WebSocket) listening address, once started.</summary>
    public IPEndPoint AriEndPoint => AriServer.EndPoint ?? throw new InvalidOperationException("PbxSim is not started: call StartAsync first.");

    /// <summary>Fault injection: every AMI message written waits this long first.</summary>
    public TimeSpan AmiResponseDelay
    {
        get => Ami.ResponseDelay;
        set => Ami.ResponseDelay = value;
    }

    /// <summary>Fault injection: every AMI login fails with <c>Authentication failed</c>.</summary>
    public bool RefuseAmiLogins
    {
        get => Ami.RefuseLogins;
        set => Ami.RefuseLogins = value;
    }

    /// <summary>Lock that serialises the model and event publication, so every client sees one order.</summary>
    internal object Gate { get; } = new();

    internal AmiServer Ami { get; }

    internal SecurityEvents Security { get; }

    internal PbxModel Model { get; }

    internal AriApplications Ari { get; }

    internal AriServer AriServer { get; }

    internal AriEvents AriEvents { get; }

    internal Endpoints Endpoints { get; }

    internal ILoggerFactory LoggerFactory => _loggerFactory;

    /// <summary>Counts requests whose synchronous part has run, so tests can advance a fake clock safely.</summary>
    internal ProgressCounter Progress { get; } = new();

    /// <summary>Starts listening (AMI, then ARI) on the configured address and ports.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var address = IPAddress.Parse(Options.BindAddress);
        Ami.Start(address, Options.AmiPort);
        AriServer.Start(address, Options.AriPort);
        return Task.CompletedTask;
    }

    /// <summary>A desk phone; created (registered, answering after 1 s) if it is not configured.</summary>
    public Phone Phone(string name)
    {
        lock (Gate)
        {
            if (Endpoints.Find(name) is null)
            {
                Endpoints.Add(new EndpointOptions { Name = name, Context = "from-internal" });
            }
        }

        return new Phone(this, name);
    }

    /// <summary>A carrier trunk; created (context <c>from-trunk</c>) if it is not configured.</summary>
    public Trunk Trunk(string name)
    {
        lock (Gate)
        {
            if (Endpoints.Find(name) is null)
            {
                Endpoints.Add(new EndpointOptions { Name = name, IsTrunk = true, Context = "from-trunk" });
            }
        }

        return new Trunk(this, name);
    }

    /// <summary>How customers dialled out through trunks answer.</summary>
    public DialledCustomers DialledCustomers
    {
        get => Endpoints.Customers;
        set => Endpoints.Customers = value;
    }

    /// <summary>Starts inbound traffic on the model clock; returns a function that tells how many calls it has placed.</summary>
    public Func<int> StartTraffic(InboundTraffic profile)
    {
        var generator = new TrafficGenerator(this, profile, NextRandom());
        generator.Start();
        return () =>
        {
            lock (Gate)
            {
                return generator.Placed;
            }
        };
    }

    /// <summary>Runs <paramref name="action"/> after <paramref name="delay"/> of model time (scripted tests and load runs).</summary>
    public void ScheduleAfter(TimeSpan delay, Action action)
    {
        lock (Gate)
        {
            Model.Schedule(delay, action);
        }
    }

    /// <summary>Live channels that are not the second half of a Local pair.</summary>
    public int CallCount
    {
        get
        {
            lock (Gate)
            {
                return Model.Channels.Values.Count(c => !c.IsLocalTwo);
            }
        }
    }

    /// <summary>Live channels, both halves of Local pairs included (what <c>core show channels</c> counts).</summary>
    public int ChannelCount
    {
        get
        {
            lock (Gate)
            {
                return Model.Channels.Count;
            }
        }
    }

    /// <summary>Events published since start: AMI messages (to each subscribed session once) and ARI events.</summary>
    public (long Ami, long Ari) EventCounts
    {
        get
        {
            lock (Gate)
            {
                return (Model.AmiEventCount, AriEvents.Count);
            }
        }
    }

    /// <summary>
    /// ARI events handed so far to the <c>/ari/events</c> WebSockets subscribed to <paramref name="app"/> (once per
    /// connection), counted before they are queued for sending: a client that has read this many has read every
    /// event sent to it. A test driving PbxSim and a client on one fake clock compares it with what the client
    /// read, to move the clock only once nothing is in flight.
    /// </summary>
    public long AriEventsDeliveredTo(string app) => Ari.DeliveredTo(app);

    /// <summary>True while a client holds an <c>/ari/events</c> WebSocket for <paramref name="app"/>.</summary>
    public bool AriHasApplication(string app) => Ari.HasApplication(app);

    /// <summary>How ARI muted the channel (<c>in</c>, <c>out</c>, <c>both</c>), or null when it is not muted (no event shows this).</summary>
    public string? MuteDirectionOf(string channelName)
    {
        lock (Gate)
        {
            return Model.FindChannel(channelName)?.Muted;
        }
    }

    /// <summary>
    /// For a live ARI snoop channel: the channel it spies on and the spy / whisper directions it was
    /// made with (<c>none</c>, <c>in</c>, <c>out</c>, <c>both</c>); null for any other channel (no event shows this).
    /// </summary>
    public (string Spied, string Spy, string Whisper)? SnoopOf(string channelName)
    {
        lock (Gate)
        {
            return Model.FindChannel(channelName)?.Snooping;
        }
    }

    /// <summary>The ARI media played so far on a live channel, one entry per play request (media URIs joined by commas); empty for an unknown channel.</summary>
    public IReadOnlyList<string> MediaPlayedOn(string channelName)
    {
        lock (Gate)
        {
            return Model.FindChannel(channelName)?.PlayedMedia.ToList() ?? [];
        }
    }

    /// <summary>
    /// The ARI plays on a live channel with their language (the play's <c>lang</c> parameter, else the
    /// channel's language), one entry per play request; empty for an unknown channel.
    /// </summary>
    public IReadOnlyList<(string Media, string Language)> PlaysOn(string channelName)
    {
        lock (Gate)
        {
            return Model.FindChannel(channelName) is { } channel ? channel.PlayedMedia.Zip(channel.PlayedLanguages).ToList() : [];
        }
    }

    /// <summary>The ARI plays stopped on a live channel before their end (queued or playing), one entry per play request; empty for an unknown channel.</summary>
    public IReadOnlyList<string> MediaStoppedOn(string channelName)
    {
        lock (Gate)
        {
            return Model.FindChannel(channelName)?.StoppedMedia.ToList() ?? [];
        }
    }

    /// <summary>Names of the live channels, oldest first (for tests and the demo console).</summary>
    public IReadOnlyList<string> ChannelNames
    {
        get
        {
            lock (Gate)
            {
                return Model.Channels.Values.OrderBy(c => c.Sequence).Select(c => c.Name).ToList();
            }
        }
    }

    /// <summary>Fault injection: closes every AMI connection at once (the listener stays up).</summary>
    public void DropAmiConnections() => Ami.DropConnections();

    /// <summary>Fault injection: closes every ARI connection, event WebSockets included.</summary>
    public void DropAriConnections() => AriServer.DropConnections();

    /// <summary>Fault injection: every ARI response waits this long first.</summary>
    public TimeSpan AriResponseDelay
    {
        get => AriServer.ResponseDelay;
        set => AriServer.ResponseDelay = value;
    }

    /// <summary>
    /// Fault injection: ARI events published from now on are kept, in order, and sent when the returned
    /// handle is disposed, as if the events WebSocket lagged behind the REST answers (which it may in Asterisk).
    /// </summary>
    public IDisposable HoldAriEvents() => Ari.Hold();

    /// <summary>The ARI events kept by <see cref="HoldAriEvents"/> so far (JSON texts, in order).</summary>
    public IReadOnlyList<string> HeldAriEvents => Ari.Held;

    /// <summary>
    /// Fault injection: ARI requests for which <paramref name="matches"/>(method, path, e.g.
    /// <c>/ari/applications/ctibridge</c>) holds wait, before they are handled, until the returned handle
    /// is disposed; their answers then say what is true at that moment. The events WebSocket's upgrade
    /// (<c>GET /ari/events</c>) can be held too: after <see cref="DropAriConnections"/> the events gap then
    /// lasts until the handle is disposed, and events published meanwhile are lost, as in Asterisk.
    /// </summary>
    public IDisposable HoldAriRequests(Func<string, string, bool> matches) => AriServer.HoldRequests(matches);

    /// <summary>ARI requests that were held by <see cref="HoldAriRequests"/> since start.</summary>
    public int AriRequestsHeld => AriServer.RequestsHeld;

    /// <summary>
    /// Fault injection: Asterisk "restarts": every connection drops, every channel and bridge vanishes
    /// without events, and the uptime starts again (FullyBooted on the next login says so).
    /// </summary>
    public void Restart()
    {
        lock (Gate)
        {
            Model.Clear();
            StartedAt = Time.GetUtcNow();
            LastReloadAt = StartedAt;
        }

        Ami.DropConnections();
        AriServer.DropConnections();
    }

    internal int NextRandom()
    {
        lock (_random)
        {
            return _random.Next(100_000_000, int.MaxValue);
        }
    }

    /// <summary>Stops both servers and every timer of the model.</summary>
    public async ValueTask DisposeAsync()
    {
        Model.Dispose();
        await Ami.DisposeAsync();
        await AriServer.DisposeAsync();
    }
}
