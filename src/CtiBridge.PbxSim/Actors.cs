using CtiBridge.PbxSim.Model;

namespace CtiBridge.PbxSim;

/// <summary>
/// A desk phone (a PJSIP endpoint) that a test or the traffic model drives: how it reacts when it
/// rings, and what its user does (answer, dial a feature code, press keys, hold, hang up).
/// </summary>
public sealed class Phone
{
    private readonly PbxSimulator _sim;

    internal Phone(PbxSimulator simulator, string name)
    {
        _sim = simulator;
        Name = name;
    }

    /// <summary>The endpoint name (<c>PJSIP/&lt;name&gt;</c>).</summary>
    public string Name { get; }

    /// <summary>Channels currently on this phone, oldest first.</summary>
    public IReadOnlyList<string> Channels
    {
        get
        {
            lock (_sim.Gate)
            {
                return _sim.Model.Channels.Values.Where(c => c.Endpoint == Name).OrderBy(c => c.Sequence).Select(c => c.Name).ToList();
            }
        }
    }

    /// <summary>Answers after <paramref name="delay"/> whenever it rings.</summary>
    public Phone AnswersAfter(TimeSpan delay) => Script(PhoneBehaviour.Answer, delay);

    /// <summary>
    /// Answers like a person whenever it rings: after a uniform draw between <paramref name="min"/>
    /// and <paramref name="max"/>; then, with <paramref name="talkMin"/>, hangs up after a talk time
    /// drawn between <paramref name="talkMin"/> and <paramref name="talkMax"/> (unless the other side hangs up first).
    /// </summary>
    public Phone AnswersLikeAPerson(TimeSpan min, TimeSpan max, TimeSpan? talkMin = null, TimeSpan? talkMax = null)
    {
        lock (_sim.Gate)
        {
            _sim.Endpoints.SetScript(Name, new PhoneScript(PhoneBehaviour.Answer, min)
            {
                AnswerAfterMax = max,
                HangUpAfter = talkMin,
                HangUpAfterMax = talkMax ?? talkMin,
            });
        }

        return this;
    }

    /// <summary>
    /// The phone of a dialer agent on a nailed-up line: answers like a person (after a draw between
    /// <paramref name="min"/> and <paramref name="max"/>) and keeps the line up; each customer the
    /// dialer bridges to it is talked to for a draw between <paramref name="talkMin"/> and
    /// <paramref name="talkMax"/> (without <paramref name="talkMin"/>: until the customer or CtiBridge
    /// ends it), then that conversation ends on the customer's side, and the line waits for the next
    /// customer. Only CtiBridge (leaving the campaign, stopping) or the test ends the line itself.
    /// </summary>
    public Phone HoldsANailedUpLine(TimeSpan min, TimeSpan max, TimeSpan? talkMin = null, TimeSpan? talkMax = null)
    {
        lock (_sim.Gate)
        {
            _sim.Endpoints.SetScript(Name, new PhoneScript(PhoneBehaviour.Answer, min)
            {
                AnswerAfterMax = max,
                HangUpAfter = talkMin,
                HangUpAfterMax = talkMax ?? talkMin,
                NailedUp = true,
            });
        }

        return this;
    }

    /// <summary>Rings for <paramref name="after"/>, then rejects (cause 21).</summary>
    public Phone Rejects(TimeSpan after) => Script(PhoneBehaviour.Reject, after);

    /// <summary>Is busy (cause 17) whenever it is called.</summary>
    public Phone StaysBusy() => Script(PhoneBehaviour.Busy, TimeSpan.Zero);

    /// <summary>Rings until the caller gives up.</summary>
    public Phone NeverAnswers() => Script(PhoneBehaviour.NeverAnswer, TimeSpan.Zero);

    private Phone Script(PhoneBehaviour behaviour, TimeSpan delay)
    {
        lock (_sim.Gate)
        {
            _sim.Endpoints.SetScript(Name, new PhoneScript(behaviour, delay));
        }

        return this;
    }

    /// <summary>
    /// Registers or unregisters the phone (an unregistered phone cannot be called). A change is
    /// published as Asterisk does for a PJSIP contact: DeviceStateChange <c>UNAVAILABLE</c> /
    /// <c>NOT_INUSE</c> for <c>PJSIP/&lt;name&gt;</c>.
    /// </summary>
    public Phone Registered(bool registered)
    {
        lock (_sim.Gate)
        {
            var endpoint = _sim.Endpoints.Find(Name)!;
            if (endpoint.Registered != registered)
            {
                endpoint.Registered = registered;
                _sim.Model.SetDeviceState("PJSIP/" + Name, registered ? "NOT_INUSE" : "UNAVAILABLE");
                _sim.Model.Settle();
            }
        }

        return this;
    }

    /// <summary>The user picks up the ringing call now.</summary>
    public void Answer() => OnNewest(c => c.State == ChannelState.Ringing, c => _sim.Model.RemoteAnswer(c), "ringing");

    /// <summary>The user hangs up the newest call on the phone (cause 16).</summary>
    public void Hangup() => OnNewest(_ => true, c => _sim.Model.RemoteHangup(c, 16), "active");

    /// <summary>
    /// The phone's line fails on the current call (network cut, RTP or SIP session timer): Asterisk hangs the
    /// channel up itself, and the hangup request and the hang-up carry <paramref name="cause"/> (e.g. 38, network out of order).
    /// </summary>
    public void Drop(int cause) => OnNewest(_ => true, c => _sim.Model.RemoteHangup(c, cause, lineFailed: true), "active");

    /// <summary>The user presses keys on the current call (one DTMF digit each, 100 ms apart from each other's start).</summary>
    public void PressDigits(string digits) => OnNewest(_ => true, c =>
    {
        var at = TimeSpan.Zero;
        foreach (var digit in digits)
        {
            var d = digit;
            _sim.Model.Schedule(at, () => _sim.Model.RemoteDtmf(c, d));
            at += TimeSpan.FromMilliseconds(250);
        }
    }, "active");

    /// <summary>The user puts the current call on hold, or takes it off hold.</summary>
    public void Hold(bool on) => OnNewest(_ => true, c => _sim.Model.Hold(c, on), "active");

    /// <summary>The user dials <paramref name="number"/> (a feature code such as <c>*45</c>, or an extension): the call runs the phone's context.</summary>
    public string Dial(string number)
    {
        lock (_sim.Gate)
        {
            var channel = _sim.Model.PlaceCallFrom(Name, number, Name, Name);
            _sim.Model.Settle();
            return channel.Name;
        }
    }

    private void OnNewest(Func<Channel, bool> filter, Action<Channel> action, string what)
    {
        lock (_sim.Gate)
        {
            var channel = _sim.Model.Channels.Values.Where(c => c.Endpoint == Name && filter(c)).MaxBy(c => c.Sequence)
                ?? throw new InvalidOperationException($"Phone {Name} has no {what} call.");
            action(channel);
            _sim.Model.Settle();
        }
    }
}

/// <summary>A trunk to the carrier: customers call in through it, and dialled customers answer (or not) on it.</summary>
public sealed class Trunk
{
    private readonly PbxSimulator _sim;

    internal Trunk(PbxSimulator simulator, string name)
    {
        _sim = simulator;
        Name = name;
    }

    /// <summary>The endpoint name.</summary>
    public string Name { get; }

    /// <summary>A customer calls <paramref name="number"/> from <paramref name="callerNumber"/>; returns the new channel's name.</summary>
    public string CallIn(string number, string callerNumber, string callerName = "")
    {
        lock (_sim.Gate)
        {
            var channel = _sim.Model.PlaceCallFrom(Name, number, callerNumber, callerName);
            _sim.Model.Settle();
            return channel.Name;
        }
    }

    /// <summary>The customer on <paramref name="channelName"/> presses keys (one DTMF digit each, 250 ms apart, like <see cref="Phone.PressDigits"/>).</summary>
    public void PressDigits(string channelName, string digits)
    {
        lock (_sim.Gate)
        {
            var channel = _sim.Model.FindChannel(channelName) ?? throw new InvalidOperationException($"Trunk {Name} has no channel {channelName}.");
            var at = TimeSpan.Zero;
            foreach (var digit in digits)
            {
                var d = digit;
                _sim.Model.Schedule(at, () =>
                {
                    if (!channel.Gone)
                    {
                        _sim.Model.RemoteDtmf(channel, d);
                    }
                });
                at += TimeSpan.FromMilliseconds(250);
            }

            _sim.Model.Settle();
        }
    }

    /// <summary>
    /// The far end of <paramref name="channelName"/>, a call dialled out through this trunk, answers
    /// now (a customer, or another PBX behind an inter-site trunk); false when the channel is gone.
    /// </summary>
    public bool Answer(string channelName)
    {
        lock (_sim.Gate)
        {
            if (_sim.Model.FindChannel(channelName) is not { Gone: false } channel)
            {
                return false;
            }

            _sim.Model.RemoteAnswer(channel);
            _sim.Model.Settle();
            return true;
        }
    }

    /// <summary>The customer on <paramref name="channelName"/> hangs up (cause 16).</summary>
    public void HangUp(string channelName)
    {
        lock (_sim.Gate)
        {
            if (_sim.Model.FindChannel(channelName) is { } channel)
            {
                _sim.Model.RemoteHangup(channel, 16);
                _sim.Model.Settle();
            }
        }
    }

    /// <summary>
    /// The line behind <paramref name="channelName"/> fails without a hang-up from the far end (a SIP session
    /// timer or RTP timeout after the other server went away): Asterisk hangs the channel up itself, and the
    /// hangup request and the hang-up carry <paramref name="cause"/> (e.g. 102, recovery on timer expiry).
    /// </summary>
    public void Drop(string channelName, int cause)
    {
        lock (_sim.Gate)
        {
            if (_sim.Model.FindChannel(channelName) is { } channel)
            {
                _sim.Model.RemoteHangup(channel, cause, lineFailed: true);
                _sim.Model.Settle();
            }
        }
    }
}
