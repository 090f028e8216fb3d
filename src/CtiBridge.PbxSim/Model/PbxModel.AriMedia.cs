using System.Globalization;

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
    private readonly Dictionary<string, AriRecordingState> _ariRecordings = new(StringComparer.Ordinal);

    /// <summary>Recordings stored by ARI (name → file).</summary>
    internal Dictionary<string, string> StoredRecordings { get; } = new(StringComparer.Ordinal);

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
    internal bool IsRecording(string name) => _ariRecordings.ContainsKey(name);

    /// <summary><c>POST /channels/{id}/record</c> on a channel in Stasis.</summary>
    internal void StartAriRecording(Channel channel, string name, string format, int maxDurationSeconds, string terminateOn)
    {
        var file = Path.Combine(RecordingDirectory, name + "." + format);
        var recording = new AriRecordingState(channel.StasisApp!, name, format, "channel:" + channel.UniqueId, channel, Now, file, terminateOn);
        _ariRecordings[name] = recording;
        _sim.AriEvents.Recording(recording.App, "RecordingStarted", name, recording.TargetUri, "recording", null);
        if (maxDurationSeconds > 0)
        {
            var generation = recording.Generation;
            Schedule(TimeSpan.FromSeconds(maxDurationSeconds), () =>
            {
                if (_ariRecordings.TryGetValue(name, out var current) && current.Generation == generation)
                {
                    FinishAriRecording(current);
                }
            });
        }
    }

    /// <summary><c>POST /recordings/live/{name}/stop</c>: false when no such recording is live.</summary>
    internal bool StopAriRecording(string name)
    {
        if (!_ariRecordings.TryGetValue(name, out var recording))
        {
            return false;
        }

        FinishAriRecording(recording);
        return true;
    }

    /// <summary>A DTMF digit received on a recording channel ends the recording when it is a terminating key.</summary>
    private void RecordingHeardDigit(Channel channel, string digit)
    {
        foreach (var recording in _ariRecordings.Values.Where(r => r.Channel == channel).ToList())
        {
            if (recording.TerminateOn == "any" || (recording.TerminateOn != "none" && recording.TerminateOn.Contains(digit, StringComparison.Ordinal)))
            {
                FinishAriRecording(recording);
            }
        }
    }

    /// <summary>The channel hangs up: its recordings are stored with what was recorded so far.</summary>
    private void StopAriRecordings(Channel channel)
    {
        foreach (var recording in _ariRecordings.Values.Where(r => r.Channel == channel).ToList())
        {
            FinishAriRecording(recording);
        }
    }

    private void FinishAriRecording(AriRecordingState recording)
    {
        if (!_ariRecordings.Remove(recording.Name))
        {
            return;
        }

        var length = Now - recording.StartedAt;
        WavFile.WriteSilence(recording.File, length);
        StoredRecordings[recording.Name] = recording.File;
        _sim.AriEvents.Recording(recording.App, "RecordingFinished", recording.Name, recording.TargetUri, "done",
            (int)Math.Round(length.TotalSeconds, MidpointRounding.AwayFromZero));
    }

    private sealed record AriPlaybackState(string App, string Id, string Media, string TargetUri, Channel? Channel);

    private sealed record AriRecordingState(string App, string Name, string Format, string TargetUri, Channel Channel, DateTimeOffset StartedAt, string File, string TerminateOn)
    {
        private static int _generations;

        public int Generation { get; } = Interlocked.Increment(ref _generations);

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} on {Channel.Name}");
    }
}
