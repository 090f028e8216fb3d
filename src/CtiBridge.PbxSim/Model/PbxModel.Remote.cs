using CtiBridge.PbxSim.Ami;

namespace CtiBridge.PbxSim.Model;

/// <summary>What the far end of a PJSIP channel does: ring, answer, hang up, press keys.</summary>
internal sealed partial class PbxModel
{
    /// <summary>The phone rings (180): the channel shows Ringing and its dial reports RINGING.</summary>
    internal void RemoteRinging(Channel channel)
    {
        SetState(channel, ChannelState.Ringing);
        if (channel.IncomingDial is { Finished: false, RingingAt: null } dial)
        {
            dial.RingingAt = Now;
            if (dial.Caller is { } caller)
            {
                SetVariable(caller, "RINGTIME", "0");
                SetVariable(caller, "RINGTIME_MS", ((long)(Now - dial.StartedAt).TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            DialEvent("DialState", dial, ("DialStatus", "RINGING"));
            AriDialStatus(dial, "RINGING");
        }
    }

    /// <summary>The phone answers (200 OK).</summary>
    internal void RemoteAnswer(Channel channel)
    {
        if (channel.Gone || channel.State == ChannelState.Up)
        {
            return;
        }

        SetState(channel, ChannelState.Up);
        if (channel.IncomingDial is { Finished: false } dial)
        {
            if (dial.Originate is not null && dial.Caller is null)
            {
                AnswerDial(dial);
                OnOriginateAnswered(dial);
            }
            else
            {
                AnswerDial(dial);
            }
        }
    }

    /// <summary>
    /// The far end hangs up (or refuses the call) with a cause; or, <paramref name="lineFailed"/>, the line failed
    /// and Asterisk ends the channel itself (RTP or SIP session timer: <c>ast_softhangup</c>), which publishes a
    /// hangup request with that cause whatever the channel is running (<see cref="Trunk.Drop"/>, <see cref="Phone.Drop"/>).
    /// </summary>
    internal void RemoteHangup(Channel channel, int cause, bool lineFailed = false)
    {
        if (channel.Gone)
        {
            return;
        }

        channel.HangupCause = cause;
        if (channel.IncomingDial is { Finished: false } dial && channel.State != ChannelState.Up)
        {
            FailDial(dial, cause, hangUpDestination: false);
        }

        if (lineFailed)
        {
            HangupRequestEvent(channel, cause, soft: true);
        }

        if (channel.InPbx)
        {
            if (!lineFailed)
            {
                HangupRequestEvent(channel, 16, soft: true);
            }

            Teardown(channel, cause, fromPbxEnd: true);
        }
        else
        {
            Teardown(channel, cause);
        }
    }

    /// <summary>The far end sends a DTMF digit.</summary>
    internal void RemoteDtmf(Channel channel, char digit)
    {
        Schedule(TimeSpan.Zero, () => DtmfEvent(channel, digit.ToString(), begin: true, "Received"));
        Schedule(TimeSpan.FromMilliseconds(100), () =>
        {
            if (!channel.Gone)
            {
                DtmfEvent(channel, digit.ToString(), begin: false, "Received");
            }
        });
    }

    /// <summary>Originate to a PJSIP endpoint: the phone is rung and the request completes when it answers or fails.</summary>
    private bool OriginateEndpoint(OriginateRequest request, IReadOnlyList<KeyValuePair<string, string>> variables, string? callerNum, string? callerName,
        string? channelId, TimeSpan timeout)
    {
        if (!request.ChannelText.StartsWith("PJSIP/", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var name = request.ChannelText[6..];
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        var endpoint = _sim.Endpoints.Find(slash < 0 ? name : name[..slash]);
        if (endpoint is null || !endpoint.Registered)
        {
            return false;
        }

        var channel = CreateChannel($"PJSIP/{endpoint.Name}-{NextPjsipSuffix()}", channelId, null, ChannelState.Down, endpoint.Context, slash < 0 ? "" : name[(slash + 1)..]);
        channel.Endpoint = endpoint.Name;
        request.OnCreated?.Invoke(channel, null);
        EmitNewchannel(channel);
        foreach (var variable in variables)
        {
            SetVariable(channel, variable.Key, variable.Value);
        }

        if (callerNum is not null || callerName is not null)
        {
            SetCallerId(channel, callerNum ?? "", callerName ?? "", alsoConnected: true);
        }

        var dial = new DialAttempt { Destination = channel, DialString = name, StartedAt = Now, Originate = request };
        channel.IncomingDial = dial;
        DialEvent("DialBegin", dial, ("DialString", name));
        _sim.AriEvents.Dial(dial, "");
        Schedule(timeout, () =>
        {
            if (!dial.Finished && !channel.Gone)
            {
                dial.Finished = true;
                CompleteOriginate(dial, 3, answered: false);
                Teardown(channel, 19);
            }
        });
        if (!endpoint.IsTrunk && !endpoint.CallWaiting && Endpoints.InUse(this, name) > 1)
        {
            Defer(() => RemoteHangup(channel, 17));
        }
        else
        {
            _sim.Endpoints.AssignCustomer(channel);
            _sim.Endpoints.Ring(this, channel);
        }

        return true;
    }
}
