using System.Collections.Concurrent;
using CtiBridge.Asterisk.Ami;
using CtiBridge.PbxSim;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// The inter-site SIP trunk between two PbxSims, as it would run between two Asterisk servers: a
/// call one server dials out on its trunk <c>to-&lt;other&gt;</c> with a number arrives on the other
/// server through its trunk <c>from-&lt;first&gt;</c> (context <c>from-site</c>, which dials the
/// phone); the far side answering answers the dialled leg; a hangup on either side hangs up the
/// other. Driven by each server's AMI events, like a test's view of the wire.
/// </summary>
internal sealed class SiteLink : IAsyncDisposable
{
    /// <summary>Q.850 102, recovery on timer expiry: what Asterisk gives a call whose SIP session timer ran out.</summary>
    private const int SessionTimerExpired = 102;

    private readonly List<Direction> _directions = [];
    private readonly ConcurrentDictionary<PbxSimulator, DateTimeOffset> _restartedAt = new(ReferenceEqualityComparer.Instance);

    private SiteLink()
    {
    }

    /// <summary>PbxSim options for a site: trunks to and from the other site, and the context a call from there runs in.</summary>
    public static void AddTrunks(PbxSimOptions options, string otherSite)
    {
        options.Endpoints.Add(new EndpointOptions { Name = "to-" + otherSite, IsTrunk = true, Context = "from-site" });
        options.Endpoints.Add(new EndpointOptions { Name = "from-" + otherSite, IsTrunk = true, Context = "from-site" });
        options.Dialplan ??= [];
        options.Dialplan["from-site"] = new() { ["_X."] = ["NoOp(Inter-site call to ${EXTEN})", "Dial(PJSIP/${EXTEN},60)", "Hangup()"] };
    }

    /// <summary>Links <paramref name="a"/> (site <paramref name="aName"/>) and <paramref name="b"/> both ways.</summary>
    public static async Task<SiteLink> StartAsync(PbxSimulator a, string aName, PbxSimulator b, string bName, CancellationToken ct)
    {
        // Calls dialled out on an inter-site trunk ring until the other server answers them.
        a.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 1, Invalid = 0, Machine = 0 };
        b.DialledCustomers = new DialledCustomers { Busy = 0, NoAnswer = 1, Invalid = 0, Machine = 0 };
        var link = new SiteLink();
        var aToB = new Direction(a, b, "PJSIP/to-" + bName + "-", "from-" + aName);
        var bToA = new Direction(b, a, "PJSIP/to-" + aName + "-", "from-" + bName);
        link._directions.Add(aToB);
        link._directions.Add(bToA);
        await aToB.StartAsync(ct);
        await bToA.StartAsync(ct);
        return link;
    }

    /// <summary>Calls carried over the link so far (each direction).</summary>
    public int Carried => _directions.Sum(d => d.Carried);

    /// <summary>
    /// <paramref name="restarted"/> restarted: its channels vanished without events, so the other
    /// server's halves of calls over the link fail as a SIP session timer ends them: Asterisk hangs them up
    /// itself with cause 102 (recovery on timer expiry), not with the normal clearing (16) of a BYE.
    /// </summary>
    public void ServerRestarted(PbxSimulator restarted)
    {
        _restartedAt[restarted] = TimeProvider.System.GetUtcNow();
        foreach (var direction in _directions)
        {
            direction.DropCallsOf(restarted);
        }
    }

    /// <summary>
    /// Waits until the link watches <paramref name="restarted"/> again after <see cref="ServerRestarted"/>: its AMI
    /// connections are back. Until then a call over the trunk is not carried (a Newchannel or an answer on the
    /// restarted server goes unseen), which the real SIP trunk would carry; a test that calls over the link after
    /// a restart waits for this as it waits for the Stasis app.
    /// </summary>
    public async Task WatchingAgainAsync(PbxSimulator restarted, CancellationToken ct)
    {
        var since = _restartedAt[restarted];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        while (!_directions.All(d => d.ConnectedSince(restarted, since)))
        {
            try
            {
                await Task.Delay(20, timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException("The site link's AMI connections to the restarted server were not back within 15 s");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var direction in _directions)
        {
            await direction.DisposeAsync();
        }
    }

    /// <summary>Calls dialled out on <c>from</c>'s trunk, carried into <c>to</c>.</summary>
    private sealed class Direction(PbxSimulator from, PbxSimulator to, string outPrefix, string inTrunk) : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, string> _outToIn = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, string> _inToOut = new(StringComparer.Ordinal);
        private readonly List<(PbxSimulator Sim, AmiClient Client, AmiEventSubscription Events, Task Pump)> _watchers = [];
        private int _carried;

        public int Carried => _carried;

        public async Task StartAsync(CancellationToken ct)
        {
            await WatchAsync(from, OnFromEvent, ct);
            await WatchAsync(to, OnToEvent, ct);
        }

        private async Task WatchAsync(PbxSimulator sim, Action<AmiMessage> handle, CancellationToken ct)
        {
            var client = new AmiClient(
                new AmiClientOptions { Host = "127.0.0.1", Port = sim.AmiEndPoint.Port, Username = "ctibridge", Secret = "ctibridge-secret" },
                NullLogger<AmiClient>.Instance, TimeProvider.System);
            var events = client.SubscribeEvents(["Newchannel", "Newstate", "Hangup"]);
            var pump = Task.Run(async () =>
            {
                await foreach (var item in events)
                {
                    if (item.Event is { } e)
                    {
                        handle(e);
                    }
                }
            }, CancellationToken.None);
            _watchers.Add((sim, client, events, pump));
            await client.StartAsync(ct);
        }

        private void OnFromEvent(AmiMessage e)
        {
            var channel = e["Channel"] ?? string.Empty;
            if (!channel.StartsWith(outPrefix, StringComparison.Ordinal))
            {
                return;
            }

            if (e.EventName == "Newchannel" && !_outToIn.ContainsKey(channel))
            {
                // The number dialled over the trunk is the phone on the other server.
                var inChannel = to.Trunk(inTrunk).CallIn(e["Exten"] ?? string.Empty, e["CallerIDNum"] ?? string.Empty, e["CallerIDName"] ?? string.Empty);
                _outToIn[channel] = inChannel;
                _inToOut[inChannel] = channel;
                Interlocked.Increment(ref _carried);
            }
            else if (e.EventName == "Hangup" && _outToIn.TryRemove(channel, out var inChannel))
            {
                _inToOut.TryRemove(inChannel, out _);
                to.Trunk(inTrunk).HangUp(inChannel);
            }
        }

        private void OnToEvent(AmiMessage e)
        {
            var channel = e["Channel"] ?? string.Empty;
            if (!_inToOut.TryGetValue(channel, out var outChannel))
            {
                return;
            }

            if (e.EventName == "Newstate" && e["ChannelState"] == "6")
            {
                // The phone answered on the other server: the trunk leg answers on this one.
                from.Trunk(outPrefix["PJSIP/".Length..^1]).Answer(outChannel);
            }
            else if (e.EventName == "Hangup" && _inToOut.TryRemove(channel, out _))
            {
                _outToIn.TryRemove(outChannel, out _);
                from.Trunk(outPrefix["PJSIP/".Length..^1]).HangUp(outChannel);
            }
        }

        /// <summary>Whether this direction's AMI connections to <paramref name="sim"/> (if any) were (re)opened at or after <paramref name="since"/>.</summary>
        public bool ConnectedSince(PbxSimulator sim, DateTimeOffset since) =>
            _watchers.Where(w => ReferenceEquals(w.Sim, sim)).All(w => w.Client.State is { State: AmiConnectionState.Connected } state && state.At >= since);

        public void DropCallsOf(PbxSimulator restarted)
        {
            foreach (var (outChannel, inChannel) in _outToIn.ToArray())
            {
                _outToIn.TryRemove(outChannel, out _);
                _inToOut.TryRemove(inChannel, out _);
                if (ReferenceEquals(restarted, from))
                {
                    to.Trunk(inTrunk).Drop(inChannel, SessionTimerExpired);
                }
                else
                {
                    from.Trunk(outPrefix["PJSIP/".Length..^1]).Drop(outChannel, SessionTimerExpired);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var (_, client, events, pump) in _watchers)
            {
                events.Dispose();
                await client.DisposeAsync();
                await pump;
            }
        }
    }
}
