namespace CtiBridge.PbxSim.Model;

/// <summary>Calls placed by endpoints (a phone dialling, a customer calling in on a trunk).</summary>
internal sealed partial class PbxModel
{
    /// <summary>A new inbound PJSIP channel from <paramref name="endpoint"/> runs its context at <paramref name="number"/>.</summary>
    internal Channel PlaceCallFrom(string endpoint, string number, string callerNumber, string callerName)
    {
        var options = _sim.Endpoints.Find(endpoint) ?? throw new InvalidOperationException($"No endpoint named '{endpoint}' is configured.");
        var channel = CreateChannel($"PJSIP/{options.Name}-{NextPjsipSuffix()}", null, null, ChannelState.Ring, options.Context, number);
        channel.Endpoint = options.Name;
        channel.CallerNum = callerNumber;
        channel.CallerName = callerName;
        channel.ConnectedNum = callerNumber;
        channel.ConnectedName = callerName;
        EmitNewchannel(channel);
        StartPbx(channel);
        return channel;
    }
}
