namespace CtiBridge.PbxSim.Model;

/// <summary>ARI's <c>POST /channels/{id}/continue</c>: a channel handed back from the app to the dialplan.</summary>
internal sealed partial class PbxModel
{
    /// <summary>
    /// The channel leaves its bridge and the Stasis app (StasisEnd, <c>STASISSTATUS=SUCCESS</c>),
    /// and the dialplan goes on: at <paramref name="context"/>/<paramref name="exten"/> (priority 1
    /// unless given) when either is given, otherwise at the priority after <c>Stasis()</c> (as
    /// Asterisk's <c>ast_explicit_goto</c> under the PBX's autoloop).
    /// </summary>
    internal void ContinueFromStasis(Channel channel, string context, string exten, int? priority)
    {
        if (channel.Bridge is { } bridge)
        {
            LeaveBridge(channel, bridge);
        }

        _sim.AriEvents.LeaveStasis(channel);
        if (context.Length > 0 || exten.Length > 0)
        {
            channel.Context = context.Length > 0 ? context : channel.Context;
            channel.Exten = exten.Length > 0 ? exten : channel.Exten;
            channel.Priority = priority ?? 1;
        }
        else
        {
            channel.Priority = priority ?? channel.Priority + 1;
        }

        channel.Generation++;
        if (channel.InPbx)
        {
            Defer(() => ContinuePbx(channel));
        }
        else if (context.Length > 0 || exten.Length > 0)
        {
            // A channel ARI originated into the app never ran dialplan: continue starts it at the
            // location (how the dialer sends an answered customer to its AMD context).
            Defer(() =>
            {
                if (!channel.Gone && !channel.Ending)
                {
                    StartPbx(channel);
                }
            });
        }
    }
}
