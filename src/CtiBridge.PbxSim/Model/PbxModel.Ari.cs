namespace CtiBridge.PbxSim.Model;

/// <summary>Model operations ARI requests need beyond AMI's.</summary>
internal sealed partial class PbxModel
{
    /// <summary><c>POST /channels/create</c>: a Local pair that exists but is not dialled yet.</summary>
    internal Channel CreateForAri(string exten, string context, string? channelId, string? otherChannelId, string app)
    {
        var (one, _) = CreateLocalPair(exten, context, channelId, otherChannelId ?? (channelId is null ? null : channelId + ";2"), null, (a, b) =>
        {
            foreach (var channel in new[] { a, b! })
            {
                channel.AriApps.Add(app);
                channel.AriOriginated = true;
            }
        });
        return one;
    }

    /// <summary><c>POST /channels/{id}/dial</c>: dials a created Local pair, optionally on behalf of a caller.</summary>
    internal bool DialCreated(Channel one, Channel? caller, int timeoutSeconds, string app, IReadOnlyList<string> appArgs)
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
            Originate = new OriginateRequest { ChannelText = $"Local/{two.Exten}@{two.Context}", Application = "Stasis", Data = string.Join(',', new[] { app }.Concat(appArgs)) },
        };
        one.IncomingDial = dial;
        EmitLocalBridge(one, two);
        DialEvent("DialBegin", dial, ("DialString", dial.DialString));
        _sim.AriEvents.Dial(dial, "");
        if (!Dialplan.Exists(two.Context, two.Exten))
        {
            dial.Finished = true;
            Finish(two, 0);
            Finish(one, 0);
            return true;
        }

        if (timeoutSeconds > 0)
        {
            Schedule(TimeSpan.FromSeconds(timeoutSeconds), () =>
            {
                if (!dial.Finished && !one.Gone)
                {
                    dial.Finished = true;
                    Teardown(one, 19);
                }
            });
        }

        StartPbx(two);
        return true;
    }

    /// <summary>ARI playback on a channel or bridge: Started now, Finished after the sound's length.</summary>
    internal void AriPlayback(string app, string playbackId, string media, string targetUri, Channel? channel)
    {
        var length = Sounds.Length(media);
        var generation = channel?.Generation ?? 0;
        Defer(() => _sim.AriEvents.Playback(app, "PlaybackStarted", playbackId, media, targetUri, "playing"));
        Schedule(length, () =>
        {
            if (channel is null || !channel.Gone)
            {
                _sim.AriEvents.Playback(app, "PlaybackFinished", playbackId, media, targetUri, "done");
            }
        });
        _ = generation;
    }
}
