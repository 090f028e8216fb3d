using CtiBridge.PbxSim;
using CtiBridge.Service.CallControl;

namespace CtiBridge.Service.Tests.CallControl;

/// <summary>
/// What the two-site tests share (<c>SitesTests</c>, <c>SplitSitesTests</c>, and the fault suite's split kill -9
/// test, which links this file): the two servers' names, a site's PbxSim dialplan (callers from the carrier into the
/// Stasis app, the fallback and internal contexts) and an agent on a site's phone.
/// </summary>
internal static class TwoSites
{
    public const string SiteA = "site-a";
    public const string SiteB = "site-b";

    /// <summary>A site's PbxSim: <paramref name="systemName"/> (empty: none, as an Asterisk left at the default) and the dialplan.</summary>
    public static PbxSimOptions PbxOptions(string systemName, long? uniqueIdSeconds = null) => new()
    {
        SystemName = systemName,
        UniqueIdSeconds = uniqueIdSeconds,
        Dialplan = new()
        {
            ["from-trunk"] = new() { ["_X."] = ["Stasis(ctibridge,inbound,${EXTEN})", "Hangup()"] },
            ["ctibridge-fallback"] = new() { ["_X."] = ["Wait(60)", "Hangup()"] },
            ["from-internal"] = new() { ["_X."] = ["Hangup()"] },
        },
    };

    /// <summary>Agent <paramref name="id"/> on <paramref name="server"/>'s phone <c>PJSIP/</c><paramref name="phone"/>, PIN <see cref="CallCenterRig.Pin"/>.</summary>
    public static CallAgentSettings Agent(string id, string phone, string server, string queue) =>
        new() { Id = id, Extension = "PJSIP/" + phone, Server = server, PinHash = CallCenterRig.PinHash, Queues = [queue] };
}
