using System.Globalization;

namespace CtiBridge.PbxSim.Model;

/// <summary>An ARI live recording of a bridge or a channel.</summary>
internal sealed class LiveRecording
{
    public required string Name { get; init; }

    public required string Format { get; init; }

    public required string TargetUri { get; init; }

    public required string App { get; init; }

    public required string Path { get; init; }

    public Bridge? Bridge { get; init; }

    public Channel? Channel { get; init; }

    /// <summary>Paused by <c>POST /recordings/live/{name}/pause</c> (shown as state <c>paused</c>).</summary>
    public bool Paused { get; set; }

    /// <summary>The recorder channel that joins a recorded bridge (it shows in BRIDGEPEER).</summary>
    public string? Recorder { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    /// <summary>DTMF keys that end a channel recording (<c>none</c>, <c>any</c>, or the keys).</summary>
    public string TerminateOn { get; init; } = "none";
}

/// <summary>ARI recordings (live and stored) and snoop channels.</summary>
internal sealed partial class PbxModel
{
    private long _snoopSeq;

    public Dictionary<string, LiveRecording> LiveRecordings { get; } = new(StringComparer.Ordinal);

    /// <summary>Stored recordings by name: format and file.</summary>
    public Dictionary<string, (string Format, string Path)> StoredRecordings { get; } = new(StringComparer.Ordinal);

    /// <summary>Snoop channels by the channel they spy on.</summary>
    private readonly List<(Channel Snoop, Channel Spied)> _snoops = [];

    /// <summary>
    /// Starts recording a bridge (a recorder channel joins it: each member's BRIDGEPEER names it
    /// first) or a channel; RecordingStarted goes to the application at once, RecordingFinished when it
    /// is stopped, reaches its maximum duration or loses its target.
    /// </summary>
    internal LiveRecording StartRecording(string app, string name, string format, Bridge? bridge, Channel? channel, int maxDurationSeconds, string terminateOn = "none")
    {
        var recording = new LiveRecording
        {
            Name = name,
            Format = format,
            App = app,
            TargetUri = bridge is not null ? "bridge:" + bridge.Id : "channel:" + channel!.UniqueId,
            Path = System.IO.Path.Combine(RecordingDirectory, name + "." + format),
            Bridge = bridge,
            Channel = channel,
            Recorder = bridge is null ? null : $"Recorder/ARI-{NextLocalSuffix()};2",
            StartedAt = Now,
            TerminateOn = terminateOn,
        };
        LiveRecordings[name] = recording;
        if (bridge is not null)
        {
            bridge.Helpers.Add(recording.Recorder!);
            SetBridgePeers(bridge);
        }

        _sim.AriEvents.Recording(app, "RecordingStarted", name, recording.TargetUri, "recording", null);
        if (maxDurationSeconds > 0)
        {
            Schedule(TimeSpan.FromSeconds(maxDurationSeconds), () =>
            {
                if (LiveRecordings.TryGetValue(name, out var live) && live == recording)
                {
                    StopRecording(recording);
                }
            });
        }

        return recording;
    }

    /// <summary>Stops a live recording: the file is written (silence of the recorded length) and stored.</summary>
    internal void StopRecording(LiveRecording recording)
    {
        if (!LiveRecordings.Remove(recording.Name))
        {
            return;
        }

        var length = Now - recording.StartedAt;
        WavFile.WriteSilence(recording.Path, length);
        StoredRecordings[recording.Name] = (recording.Format, recording.Path);
        _sim.AriEvents.Recording(recording.App, "RecordingFinished", recording.Name, recording.TargetUri, "done", (int)length.TotalSeconds);
        if (recording.Bridge is { } bridge && bridge.Helpers.Remove(recording.Recorder!) && Bridges.ContainsKey(bridge.Id))
        {
            SetBridgePeers(bridge);
        }
    }

    /// <summary>Deletes a stored recording and its file.</summary>
    internal bool DeleteStoredRecording(string name)
    {
        if (!StoredRecordings.Remove(name, out var stored))
        {
            return false;
        }

        File.Delete(stored.Path);
        return true;
    }

    /// <summary>Recordings whose bridge or channel went away end with it.</summary>
    private void StopRecordingsOf(Bridge? bridge, Channel? channel)
    {
        foreach (var recording in LiveRecordings.Values.Where(r => (bridge is not null && r.Bridge == bridge) || (channel is not null && r.Channel == channel)).ToList())
        {
            StopRecording(recording);
        }
    }

    /// <summary>
    /// ARI snoop: a <c>Snoop/&lt;spied id&gt;-NNNNNNNN</c> channel, up at once, that enters the application
    /// with the given arguments; attaching it makes the spied channel's bridge set BRIDGEPEER again.
    /// It ends (without ChannelDestroyed, as recorded) when the spied channel goes.
    /// </summary>
    internal Channel Snoop(Channel spied, string app, IReadOnlyList<string> args, string? snoopId, Action<Channel> created, string spy = "none", string whisper = "none")
    {
        var name = $"Snoop/{spied.UniqueId}-{(_snoopSeq++).ToString("x8", CultureInfo.InvariantCulture)}";
        var snoop = CreateChannel(name, snoopId, null, ChannelState.Up, "default", "s");
        snoop.AnsweredAt = Now;
        snoop.Snooping = (spied.Name, spy, whisper);
        EmitNewchannel(snoop);
        _snoops.Add((snoop, spied));
        created(snoop);
        RefreshBridgePeers(spied);
        _sim.AriEvents.EnterStasis(snoop, [app, .. args]);
        return snoop;
    }

    /// <summary>The spied channel is gone: its snoop channels hang up.</summary>
    private void EndSnoopsOf(Channel channel)
    {
        foreach (var pair in _snoops.Where(p => p.Spied == channel || p.Snoop == channel).ToList())
        {
            _snoops.Remove(pair);
            if (pair.Spied == channel && !pair.Snoop.Gone)
            {
                var snoop = pair.Snoop;
                Defer(() => Teardown(snoop, 16));
            }
        }
    }
}
