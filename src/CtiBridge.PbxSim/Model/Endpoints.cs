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
public sealed record PhoneScript(PhoneBehaviour Behaviour, TimeSpan AnswerAfter);

/// <summary>PJSIP endpoints (desk phones and trunks): registration, busy state and ring scripts.</summary>
internal sealed class Endpoints
{
    private readonly Dictionary<string, EndpointOptions> _endpoints = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, PhoneScript> _scripts = new(StringComparer.OrdinalIgnoreCase);

    public Endpoints(IEnumerable<EndpointOptions> configured)
    {
        foreach (var endpoint in configured)
        {
            _endpoints[endpoint.Name] = endpoint;
        }
    }

    public IReadOnlyCollection<EndpointOptions> All => _endpoints.Values;

    public EndpointOptions? Find(string name) => _endpoints.GetValueOrDefault(name);

    public void Add(EndpointOptions endpoint) => _endpoints[endpoint.Name] = endpoint;

    public void SetScript(string name, PhoneScript script) => _scripts[name] = script;

    public PhoneScript ScriptOf(string name) => _scripts.GetValueOrDefault(name) ?? new PhoneScript(PhoneBehaviour.Answer, TimeSpan.FromSeconds(1));

    /// <summary>Channels currently on an endpoint.</summary>
    public static int InUse(PbxModel model, string endpoint) =>
        model.Channels.Values.Count(c => string.Equals(c.Endpoint, endpoint, StringComparison.OrdinalIgnoreCase));

    /// <summary>Creates the outgoing PJSIP channel for a Dial, or returns false (unknown, unregistered, busy).</summary>
    public bool TryDial(PbxModel model, Channel caller, string name, out Channel channel)
    {
        channel = null!;
        var endpoint = Find(name);
        if (endpoint is null || !endpoint.Registered)
        {
            return false;
        }

        if (!endpoint.IsTrunk && !endpoint.CallWaiting && InUse(model, name) > 0)
        {
            return false;
        }

        channel = model.CreateChannel($"PJSIP/{endpoint.Name}-{model.NextPjsipSuffix()}", null, caller.LinkedId, ChannelState.Down, endpoint.Context, "");
        channel.Endpoint = endpoint.Name;
        channel.CallerNum = caller.CallerNum;
        channel.CallerName = caller.CallerName;
        channel.ConnectedNum = caller.CallerNum;
        channel.ConnectedName = caller.CallerName;
        model.EmitNewchannel(channel);
        return true;
    }

    /// <summary>The phone rings and follows its script.</summary>
    public void Ring(PbxModel model, Channel channel)
    {
        var script = ScriptOf(channel.Endpoint!);
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
                model.Defer(() => model.RemoteHangup(channel, 20));
                return;
        }

        model.RemoteRinging(channel);
        if (script.Behaviour == PhoneBehaviour.NeverAnswer)
        {
            return;
        }

        model.Schedule(script.AnswerAfter, () =>
        {
            if (channel.Gone || channel.Generation != generation)
            {
                return;
            }

            if (script.Behaviour == PhoneBehaviour.Answer)
            {
                model.RemoteAnswer(channel);
            }
            else
            {
                model.RemoteHangup(channel, 21);
            }
        });
    }
}
