namespace CtiBridge.PbxSim.Model;

/// <summary>Model operations ARI requests need beyond AMI's.</summary>
internal sealed partial class PbxModel
{
    /// <summary><c>POST /channels/create</c>: a Local pair that exists but is not dialled yet.</summary>
    internal Channel CreateForAri(string exten, string context, string? channelId, string? otherChannelId, string app, IReadOnlyList<string> appArgs, Action<Channel> created)
    {
        var (one, _) = CreateLocalPair(exten, context, channelId, otherChannelId ?? (channelId is null ? null : channelId + ";2"), null, (a, _) =>
        {
            // Only the created half belongs to the application; its dialplan half is not reported.
            a.AriApps.Add(app);
            a.AriOriginated = true;
        });
        created(one);
        if (app.Length > 0)
        {
            // The created channel is put into Stasis at once, before it is dialled.
            var args = new[] { app }.Concat(appArgs).ToList();
            EmitNewexten(one, "Stasis", string.Join(',', args));
            one.Application = "";
            one.AppData = "";
            _sim.AriEvents.EnterStasis(one, args);
        }

        return one;
    }

    /// <summary><c>POST /channels/{id}/dial</c>: dials a created Local pair, optionally on behalf of a caller.</summary>
    internal bool DialCreated(Channel one, Channel? caller, int timeoutSeconds)
    {
        if (one.LocalPeer is not { } two || one.IncomingDial is not null)
        {
            return false;
        }

        var dial = new DialAttempt
        {
            Caller = caller,
            Destination = one,
            DialString = $"{two.Exten}@{two.Context}",
            StartedAt = Now,
            Options = "",
            FromAri = true,
        };
        one.IncomingDial = dial;
        if (caller is not null)
        {
            SetConnectedLine(one, caller.CallerNum, caller.CallerName);
            two.CallerNum = caller.CallerNum;
            two.CallerName = caller.CallerName;
        }

        EmitLocalBridge(one, two);
        DialEvent("DialBegin", dial, ("DialString", dial.DialString));
        if (!Dialplan.Exists(two.Context, two.Exten))
        {
            _sim.AriEvents.Dial(dial, "");
            dial.Finished = true;
            Finish(two, 0);
            Finish(one, 0);
            return true;
        }

        if (timeoutSeconds > 0)
        {
            Schedule(TimeSpan.FromSeconds(timeoutSeconds), () =>
            {
                // Busy or congested dials stay until the timeout too (as recorded), then go with cause 19.
                if (!one.Gone && one.State != ChannelState.Up)
                {
                    dial.Finished = true;
                    HangupRequestEvent(one, 32, soft: true);
                    Teardown(one, 19);
                }
            });
        }

        dial.AriBeginPending = true;
        StartPbx(two);
        // After the destination's own deferred work: an immediate Busy() reports BUSY first.
        Defer(() => FlushAriDialBegin(dial));
        return true;
    }

    /// <summary>An ARI <c>Dial</c> event with a status; the pending start event goes first, except for BUSY.</summary>
    internal void AriDialStatus(DialAttempt dial, string status)
    {
        if (status != "BUSY")
        {
            FlushAriDialBegin(dial);
        }

        _sim.AriEvents.Dial(dial, status);
    }

    internal void FlushAriDialBegin(DialAttempt dial)
    {
        if (dial.AriBeginPending)
        {
            dial.AriBeginPending = false;
            _sim.AriEvents.Dial(dial, "");
        }
    }

    /// <summary>
    /// ARI playback on a channel or bridge. A channel's playbacks run one after another, in the order
    /// asked for (Asterisk queues each play as a command on the channel's Stasis control): a play asked
    /// for while another is playing waits for it (PbxModel.AriMedia.cs). A bridge playback starts now.
    /// </summary>
    internal void AriPlayback(string app, string playbackId, string media, string targetUri, Channel? channel, Bridge? bridge = null, string language = "en")
    {
        var playback = new AriPlaybackState(app, playbackId, SplitMedia(media), targetUri, channel, bridge) { Language = language };
        if (channel is not null)
        {
            channel.PlayedMedia.Add(media);
            channel.PlayedLanguages.Add(language);
            TrackPlayback(playback);
            channel.QueuedPlaybacks.Enqueue(playback);
            if (channel.CurrentPlayback is null)
            {
                StartNextPlayback(channel);
            }

            return;
        }

        if (bridge is { Members.Count: 2 })
        {
            // A bridge playback joins an announcer channel: each party's BRIDGEPEER lists it while it plays.
            var announcer = $"Announcer/ARI-{NextLocalSuffix()};2";
            foreach (var member in bridge.Members)
            {
                SetVariable(member, "BRIDGEPEER", announcer + "," + bridge.Members.First(m => m != member).Name);
            }
        }

        PlayMedium(playback, 0);
    }
}
