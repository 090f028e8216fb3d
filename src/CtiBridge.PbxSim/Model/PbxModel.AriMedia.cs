namespace CtiBridge.PbxSim.Model;

/// <summary>
/// ARI playbacks that can be stopped (<c>DELETE /playbacks/{id}</c>) and ARI channel recordings
/// (<c>POST /channels/{id}/record</c>), following the ARI 10 descriptions in asterisk-api/ari and
/// Asterisk 22's res_stasis_playback:
/// <list type="bullet">
/// <item>a play is answered <c>queued</c>; a channel plays one playback at a time, in the order asked
/// for, so a play asked for while another plays starts when that one ends (its <c>PlaybackStarted</c>
/// follows the other's <c>PlaybackFinished</c>);</item>
/// <item>a play of several media URIs says <c>PlaybackStarted</c> for each (with <c>next_media_uri</c>
/// while one follows) and <c>PlaybackContinuing</c> between them, then one <c>PlaybackFinished</c>;</item>
/// <item>a playing playback that is stopped ends with one <c>PlaybackFinished</c> and skips its other
/// media; a queued one that is stopped is cancelled: its only event is a <c>PlaybackFinished</c> when
/// its turn comes;</item>
/// <item>a channel that hangs up drops its queued playbacks without events.</item>
/// </list>
/// A recording sends <c>RecordingStarted</c>, then <c>RecordingFinished</c> when stopped, at its
/// maximum duration, on its terminating DTMF key, or when the channel hangs up, and is stored as a WAV
/// file of silence.
/// </summary>
internal sealed partial class PbxModel
{
    private readonly Dictionary<string, AriPlaybackState> _ariPlaybacks = new(StringComparer.Ordinal);

    /// <summary>The media URIs of one play request: ARI joins several with commas.</summary>
    internal static string[] SplitMedia(string media)
    {
        var medias = media.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return medias.Length == 0 ? [media] : medias;
    }

    private void TrackPlayback(AriPlaybackState playback) => _ariPlaybacks[playback.Id] = playback;

    /// <summary>Starts the channel's next queued playback; a cancelled one only says it finished.</summary>
    private void StartNextPlayback(Channel channel)
    {
        channel.CurrentPlayback = null;
        while (!channel.Gone && channel.QueuedPlaybacks.TryDequeue(out var next))
        {
            if (next.Canceled)
            {
                // res_stasis_playback: a cancelled playback's first update publishes "done", no start.
                _ariPlaybacks.Remove(next.Id);
                PlaybackEvent(next, "PlaybackFinished", "done", 0);
                continue;
            }

            channel.CurrentPlayback = next;
            PlayMedium(next, 0);
            return;
        }
    }

    /// <summary>Plays the playback's medium <paramref name="index"/>: Started now, then Continuing or Finished after its length.</summary>
    private void PlayMedium(AriPlaybackState playback, int index)
    {
        playback.Index = index;
        playback.Playing = true;
        var turn = ++playback.Turn;
        PlaybackEvent(playback, "PlaybackStarted", "playing", index);
        Schedule(Sounds.Length(playback.Medias[index]), () =>
        {
            if (playback.Turn != turn || playback.Stopped)
            {
                return;
            }

            if (playback.Channel is { Gone: true } gone)
            {
                // No events after hang-up; the queued ones are dropped with the channel.
                _ariPlaybacks.Remove(playback.Id);
                DropQueuedPlaybacks(gone);
                return;
            }

            if (index < playback.Medias.Length - 1)
            {
                PlaybackEvent(playback, "PlaybackContinuing", "continuing", index);
                PlayMedium(playback, index + 1);
                return;
            }

            EndPlayback(playback);
        });
    }

    private void EndPlayback(AriPlaybackState playback)
    {
        playback.Stopped = true;
        _ariPlaybacks.Remove(playback.Id);
        PlaybackEvent(playback, "PlaybackFinished", "done", playback.Index);
        if (playback.Bridge is { Members.Count: 2 } bridge && Bridges.ContainsKey(bridge.Id))
        {
            foreach (var member in bridge.Members)
            {
                SetVariable(member, "BRIDGEPEER", bridge.Members.First(m => m != member).Name);
            }
        }

        if (playback.Channel is { } channel && channel.CurrentPlayback == playback)
        {
            StartNextPlayback(channel);
        }
    }

    private void DropQueuedPlaybacks(Channel channel)
    {
        while (channel.QueuedPlaybacks.TryDequeue(out var queued))
        {
            _ariPlaybacks.Remove(queued.Id);
        }

        channel.CurrentPlayback = null;
    }

    private void PlaybackEvent(AriPlaybackState playback, string type, string state, int index)
    {
        var next = type != "PlaybackFinished" && index < playback.Medias.Length - 1 ? playback.Medias[index + 1] : null;
        _sim.AriEvents.Playback(playback.App, type, playback.Id, playback.Medias[index], playback.TargetUri, state, next, playback.Language);
    }

    /// <summary><c>DELETE /playbacks/{id}</c>: false when no such playback is queued or playing.</summary>
    internal bool StopAriPlayback(string playbackId)
    {
        if (!_ariPlaybacks.TryGetValue(playbackId, out var playback))
        {
            return false;
        }

        if (!playback.Playing)
        {
            // Still queued behind another playback: cancelled, it never starts.
            playback.Canceled = true;
            playback.Channel?.StoppedMedia.Add(string.Join(',', playback.Medias));
            return true;
        }

        playback.Channel?.StoppedMedia.Add(string.Join(',', playback.Medias));
        EndPlayback(playback);
        return true;
    }

    /// <summary>Whether a live recording with this name exists.</summary>
    internal bool IsRecording(string name) => LiveRecordings.ContainsKey(name);

    /// <summary><c>POST /channels/{id}/record</c> on a channel in Stasis.</summary>
    internal void StartAriRecording(Channel channel, string name, string format, int maxDurationSeconds, string terminateOn) =>
        StartRecording(channel.StasisApp!, name, format, null, channel, maxDurationSeconds, terminateOn);

    /// <summary><c>POST /recordings/live/{name}/stop</c>: false when no such recording is live.</summary>
    internal bool StopAriRecording(string name)
    {
        if (!LiveRecordings.TryGetValue(name, out var recording))
        {
            return false;
        }

        StopRecording(recording);
        return true;
    }

    /// <summary>A DTMF digit received on a recording channel ends the recording when it is a terminating key.</summary>
    private void RecordingHeardDigit(Channel channel, string digit)
    {
        foreach (var recording in LiveRecordings.Values.Where(r => r.Channel == channel).ToList())
        {
            if (recording.TerminateOn == "any" || (recording.TerminateOn != "none" && recording.TerminateOn.Contains(digit, StringComparison.Ordinal)))
            {
                StopRecording(recording);
            }
        }
    }

    /// <summary>One ARI playback: its media, where it plays, and how far it got.</summary>
    internal sealed class AriPlaybackState(string app, string id, string[] medias, string targetUri, Channel? channel, Bridge? bridge)
    {
        public string App { get; } = app;

        public string Id { get; } = id;

        public string[] Medias { get; } = medias;

        public string TargetUri { get; } = targetUri;

        /// <summary>The sounds' language (the play's <c>lang</c>, else the channel's).</summary>
        public string Language { get; init; } = "en";

        public Channel? Channel { get; } = channel;

        public Bridge? Bridge { get; } = bridge;

        /// <summary>The medium playing (or last played).</summary>
        public int Index { get; set; }

        /// <summary>Started (no longer queued).</summary>
        public bool Playing { get; set; }

        /// <summary>Finished or stopped: a pending timer of it does nothing.</summary>
        public bool Stopped { get; set; }

        /// <summary>Stopped while queued.</summary>
        public bool Canceled { get; set; }

        /// <summary>Counts the media started, so a timer of an earlier medium does nothing.</summary>
        public int Turn { get; set; }
    }
}
