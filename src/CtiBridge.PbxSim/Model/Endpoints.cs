using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>How a scripted phone (or a dialled customer) reacts when it rings.</summary>
public enum PhoneBehaviour
{
    /// <summary>Answers after <see cref="PhoneScript.AnswerAfter"/>.</summary>
    Answer,
    /// <summary>Rejects after ringing for <see cref="PhoneScript.AnswerAfter"/> (cause 21).</summary>
    Reject,
    /// <summary>Is busy at once (cause 17).</summary>
    Busy,
    /// <summary>Rings until the caller gives up.</summary>
    NeverAnswer,
    /// <summary>Is unreachable (cause 20, CHANUNAVAIL).</summary>
    Unavailable,
    /// <summary>Congestion at once (cause 34).</summary>
    Congestion,
}

/// <summary>The script a PJSIP endpoint follows when called.</summary>
public sealed record PhoneScript(PhoneBehaviour Behaviour, TimeSpan AnswerAfter)
{
    /// <summary>For an answering machine: how long it talks before hanging up.</summary>
    public TimeSpan? Machine { get; init; }

    /// <summary>
    /// When set, each ring answers after a uniform draw between <see cref="AnswerAfter"/> and this
    /// (a person picking up, not a machine with a fixed delay).
    /// </summary>
    public TimeSpan? AnswerAfterMax { get; init; }

    /// <summary>When set, the phone's user hangs up this long after answering (a talk time), unless the other side hangs up first.</summary>
    public TimeSpan? HangUpAfter { get; init; }

    /// <summary>With <see cref="HangUpAfter"/>: each call's talk time is a uniform draw between the two.</summary>
    public TimeSpan? HangUpAfterMax { get; init; }

    /// <summary>
    /// A dialer agent's nailed-up line: the person picks up and keeps the line up (never hangs it
    /// up); <see cref="HangUpAfter"/>..<see cref="HangUpAfterMax"/> is then the talk time with
    /// <em>each</em> customer bridged to the line, after which that conversation ends (the
    /// customer's leg hangs up, cause 16) and the line waits for the next customer.
    /// </summary>
    public bool NailedUp { get; init; }
}

/// <summary>PJSIP endpoints (desk phones and trunks): registration, busy state and ring scripts.</summary>
internal sealed class Endpoints
{
    private readonly Dictionary<string, EndpointOptions> _endpoints = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, PhoneScript> _scripts = new(StringComparer.OrdinalIgnoreCase);

    private readonly PhoneScript _unscripted;

    public Endpoints(IEnumerable<EndpointOptions> configured, TimeSpan? unscriptedAnswersAfter = null)
    {
        _unscripted = new PhoneScript(PhoneBehaviour.Answer, unscriptedAnswersAfter ?? TimeSpan.FromSeconds(1));
        foreach (var endpoint in configured)
        {
            _endpoints[endpoint.Name] = endpoint;
        }
    }

    public IReadOnlyCollection<EndpointOptions> All => _endpoints.Values;

    public EndpointOptions? Find(string name) => _endpoints.GetValueOrDefault(name);

    public void Add(EndpointOptions endpoint) => _endpoints[endpoint.Name] = endpoint;

    public void SetScript(string name, PhoneScript script) => _scripts[name] = script;

    public PhoneScript ScriptOf(string name) => _scripts.GetValueOrDefault(name) ?? _unscripted;

    /// <summary>Channels currently on an endpoint.</summary>
    public static int InUse(PbxModel model, string endpoint) =>
        model.Channels.Values.Count(c => string.Equals(c.Endpoint, endpoint, StringComparison.OrdinalIgnoreCase));

    /// <summary>How customers dialled through trunks answer (setting it forgets which numbers exist).</summary>
    public DialledCustomers Customers
    {
        get => _customers;
        set
        {
            _customers = value;
            lock (_numberExists)
            {
                _numberExists.Clear();
            }
        }
    }

    private DialledCustomers _customers = new();

    private readonly Random _random = new(7);

    /// <summary>
    /// Whether each number dialled so far exists. Busy, no answer, a person or a machine are drawn
    /// anew for every call, but an unallocated number is the number's, not the call's: one that rang
    /// or was busy once is never "unallocated" on a later call, and one that was stays so (otherwise
    /// a retried busy number could come back invalid, which no real network does).
    /// </summary>
    private readonly Dictionary<string, bool> _numberExists = new(StringComparer.Ordinal);

    /// <summary>Draws a dialled customer's behaviour from <see cref="Customers"/> for a call to <paramref name="number"/>.</summary>
    internal PhoneScript DrawCustomer(string number)
    {
        var c = Customers;
        var ring = TimeSpan.FromSeconds(c.RingSeconds);
        if (c.Numbers.TryGetValue(number, out var scripted))
        {
            return scripted switch
            {
                DialledCustomerKind.Busy => new PhoneScript(PhoneBehaviour.Busy, TimeSpan.Zero),
                DialledCustomerKind.NoAnswer => new PhoneScript(PhoneBehaviour.NeverAnswer, TimeSpan.Zero),
                DialledCustomerKind.Congestion => new PhoneScript(PhoneBehaviour.Congestion, TimeSpan.Zero),
                DialledCustomerKind.Invalid => new PhoneScript(PhoneBehaviour.Unavailable, TimeSpan.Zero),
                DialledCustomerKind.Machine => new PhoneScript(PhoneBehaviour.Answer, ring) { Machine = TimeSpan.FromSeconds(c.MachineMessageSeconds) },
                _ => new PhoneScript(PhoneBehaviour.Answer, ring) { HangUpAfter = c.TalkSeconds > 0 ? TimeSpan.FromSeconds(c.TalkSeconds) : null },
            };
        }

        bool known, exists;
        lock (_numberExists)
        {
            known = _numberExists.TryGetValue(number, out exists);
        }

        if (known && !exists)
        {
            return new PhoneScript(PhoneBehaviour.Unavailable, TimeSpan.Zero);
        }

        // A number known to exist draws among the other kinds only, in their proportions.
        var invalid = known ? 0 : c.Invalid;
        var roll = _random.NextDouble() * (known ? 1 - c.Invalid : 1);
        PhoneScript script;
        if ((roll -= c.Busy) < 0)
        {
            script = new PhoneScript(PhoneBehaviour.Busy, TimeSpan.Zero);
        }
        else if ((roll -= c.NoAnswer) < 0)
        {
            script = new PhoneScript(PhoneBehaviour.NeverAnswer, TimeSpan.Zero);
        }
        else if ((roll -= invalid) < 0)
        {
            script = new PhoneScript(PhoneBehaviour.Unavailable, TimeSpan.Zero);
        }
        else
        {
            script = (roll -= c.Machine) < 0
                ? new PhoneScript(PhoneBehaviour.Answer, ring) { Machine = TimeSpan.FromSeconds(c.MachineMessageSeconds) }
                : new PhoneScript(PhoneBehaviour.Answer, ring) { HangUpAfter = c.TalkSeconds > 0 ? TimeSpan.FromSeconds(c.TalkSeconds) : null };
        }

        if (number.Length > 0)
        {
            lock (_numberExists)
            {
                _numberExists[number] = script.Behaviour != PhoneBehaviour.Unavailable;
            }
        }

        return script;
    }

    /// <summary>Creates the outgoing PJSIP channel for a Dial, or returns false (unknown, unregistered, busy).</summary>
    public bool TryDial(PbxModel model, Channel caller, string name, out Channel channel)
    {
        channel = null!;
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        var number = slash < 0 ? "" : name[(slash + 1)..];
        name = slash < 0 ? name : name[..slash];
        var endpoint = Find(name);
        if (endpoint is null || !endpoint.Registered)
        {
            return false;
        }

        if (!endpoint.IsTrunk && !endpoint.CallWaiting && InUse(model, name) > 0)
        {
            return false;
        }

        channel = model.CreateChannel($"PJSIP/{endpoint.Name}-{model.NextPjsipSuffix()}", null, caller.LinkedId, ChannelState.Down, endpoint.Context, number);
        channel.Endpoint = endpoint.Name;
        AssignCustomer(channel);

        channel.CallerNum = caller.CallerNum;
        channel.CallerName = caller.CallerName;
        channel.ConnectedNum = caller.CallerNum;
        channel.ConnectedName = caller.CallerName;
        model.EmitNewchannel(channel);
        return true;
    }

    /// <summary>The phone rings and follows its script.</summary>
    private readonly Dictionary<Channel, PhoneScript> _customerScripts = [];

    /// <summary>A call out through a trunk reaches a customer whose behaviour is drawn now.</summary>
    public void AssignCustomer(Channel channel)
    {
        if (channel.Endpoint is { } name && Find(name) is { IsTrunk: true })
        {
            var script = DrawCustomer(channel.Exten);
            _customerScripts[channel] = script;
            channel.AmdVerdict = Customers.AmdResults.TryGetValue(channel.Exten, out var verdict) ? verdict
                : script.Machine is not null ? "MACHINE" : "HUMAN";
        }
    }

    /// <summary>A uniform draw between <paramref name="min"/> and <paramref name="max"/> (just <paramref name="min"/> without a larger max).</summary>
    private TimeSpan Draw(TimeSpan min, TimeSpan? max) =>
        max is { } upper && upper > min ? min + ((upper - min) * _random.NextDouble()) : min;

    public void Ring(PbxModel model, Channel channel)
    {
        var script = _customerScripts.Remove(channel, out var customer) ? customer : ScriptOf(channel.Endpoint!);
        var generation = channel.Generation;
        switch (script.Behaviour)
        {
            case PhoneBehaviour.Busy:
                model.Defer(() => model.RemoteHangup(channel, 17));
                return;
            case PhoneBehaviour.Congestion:
                model.Defer(() => model.RemoteHangup(channel, 34));
                return;
            case PhoneBehaviour.Unavailable:
                model.Defer(() => model.RemoteHangup(channel, channel.Endpoint is { } e && Find(e) is { IsTrunk: true } ? 1 : 20));
                return;
        }

        model.RemoteRinging(channel);
        if (script.Behaviour == PhoneBehaviour.NeverAnswer)
        {
            return;
        }

        model.Schedule(Draw(script.AnswerAfter, script.AnswerAfterMax), () =>
        {
            if (channel.Gone || channel.Generation != generation)
            {
                return;
            }

            if (script.Behaviour == PhoneBehaviour.Answer)
            {
                model.RemoteAnswer(channel);
                if (script.Machine is { } message)
                {
                    model.Schedule(message, () => model.RemoteHangup(channel, 16));
                }
                else if (script.NailedUp)
                {
                    WatchNailedUpLine(model, channel, script, []);
                }
                else if (script.HangUpAfter is { } talk)
                {
                    model.Schedule(Draw(talk, script.HangUpAfterMax), () =>
                    {
                        // Not tied to the generation: answering moves the channel on in the dialplan or into Stasis.
                        if (!channel.Gone)
                        {
                            model.RemoteHangup(channel, 16);
                        }
                    });
                }
            }
            else
            {
                model.RemoteHangup(channel, 21);
            }
        });
    }

    /// <summary>How often a nailed-up line's user looks whether a new customer was bridged to them.</summary>
    private static readonly TimeSpan NailedUpWatchPeriod = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// The person on a nailed-up line: each customer who joins the line's bridge gets a talk time of
    /// its own; when it is over the conversation ends on the customer's side (as when the agent says
    /// goodbye, or ends the call from the desktop) and the line itself stays up for the next one.
    /// Helpers in the bridge (a supervisor's snoop, a recorder) are not customers.
    /// </summary>
    private void WatchNailedUpLine(PbxModel model, Channel line, PhoneScript script, HashSet<Channel> talkedTo)
    {
        if (line.Gone)
        {
            return;
        }

        talkedTo.RemoveWhere(c => c.Gone);
        if (line.Bridge is { } bridge && script.HangUpAfter is { } talk)
        {
            foreach (var customer in bridge.Members.Where(m => m != line && !m.Gone && !IsHelper(m)).ToList())
            {
                if (talkedTo.Add(customer))
                {
                    model.Schedule(Draw(talk, script.HangUpAfterMax), () =>
                    {
                        // Only while the customer is still with this line (the dialer may have moved either).
                        if (!customer.Gone && !line.Gone && customer.Bridge is { } now && now == line.Bridge)
                        {
                            model.RemoteHangup(customer, 16);
                        }
                    });
                }
            }
        }

        model.Schedule(NailedUpWatchPeriod, () => WatchNailedUpLine(model, line, script, talkedTo));
    }

    private static bool IsHelper(Channel channel) =>
        channel.Name.StartsWith("Snoop/", StringComparison.Ordinal) || channel.Name.StartsWith("Recorder/", StringComparison.Ordinal);
}
