namespace CtiBridge.PbxSim.Model;

/// <summary>
/// ARI playbacks that can be stopped (<c>DELETE /playbacks/{id}</c>) and ARI channel recordings
/// (<c>POST /channels/{id}/record</c>), following the ARI 10 descriptions in asterisk-api/ari:
/// a stopped playback ends with one <c>PlaybackFinished</c>; a recording sends
/// <c>RecordingStarted</c>, then <c>RecordingFinished</c> when stopped, at its maximum duration, on
/// its terminating DTMF key, or when the channel hangs up, and is stored as a WAV file of silence.
/// </summary>
internal sealed partial class PbxModel
{
    private readonly Dictionary<string, AriPlaybackState> _ariPlaybacks = new(StringComparer.Ordinal);

    private void TrackPlayback(string app, string playbackId, string media, string targetUri, Channel? channel) =>
        _ariPlaybacks[playbackId] = new AriPlaybackState(app, playbackId, media, targetUri, channel);

    /// <summary>Ends the tracked playback once (a stopped playback does not finish a second time).</summary>
    private bool FinishPlayback(string playbackId) => _ariPlaybacks.Remove(playbackId);

    /// <summary><c>DELETE /playbacks/{id}</c>: false when no such playback is playing.</summary>
    internal bool StopAriPlayback(string playbackId)
    {
        if (!_ariPlaybacks.Remove(playbackId, out var playback))
        {
            return false;
        }

        _sim.AriEvents.Playback(playback.App, "PlaybackFinished", playback.Id, playback.Media, playback.TargetUri, "done");
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

    private sealed record AriPlaybackState(string App, string Id, string Media, string TargetUri, Channel? Channel);
}
