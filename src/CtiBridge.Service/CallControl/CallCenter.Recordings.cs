using CtiBridge.Core.Acd;
using CtiBridge.Data.LiveState;
using CtiBridge.Data.Records;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// Recordings of every call (issue 8, REC-05), where the agent's bridge recording
/// (<c>CallCenter.AgentCalls.cs</c>) does not reach:
/// <list type="bullet">
/// <item>a caller put through to an outside number (an IVR <c>external</c> node, or a queue's overflow to
/// a mobile): the bridge of caller and outside party is recorded as <c>call-&lt;callId&gt;-ext</c>
/// (<c>callControl.recordCalls</c>). The ACD has no part in the call by then (an overflowed call's row
/// was written when it left the queue), so call control writes the recording's row itself at the
/// call's end, and the records writer links it to the call's row (<c>calls.recording_id</c>, when the
/// row has none: calls_recording_link.sql);</item>
/// <item>a connected call adopted after a restart or an HA takeover: Asterisk goes on recording its
/// bridge (<c>{call}-bridge-{n}</c> as <c>call-{call}-{n}</c>); the adopter asks Asterisk whether that
/// recording is live and, if so, takes it as the call's recording, so it is stored once with the
/// call when it ends, as if no restart had happened.</item>
/// </list>
/// </summary>
public sealed partial class CallCenter
{
    private static string ExternalRecordingName(string callId) => $"call-{callId}-ext";

    /// <summary>Starts recording the caller's bridge with the outside party, once per call (after both are in it: the session's steps run in order).</summary>
    private void RecordExternal(CallSession session, string bridgeId)
    {
        if (!_settings.RecordCalls || session.ExternalRecording is not null)
        {
            return;
        }

        var recording = ExternalRecordingName(session.CallId);
        session.ExternalRecording = recording;
        RecordBridge(session, "record the outside call", bridgeId, recording, at =>
        {
            session.ExternalRecordingStartedAt ??= at;
            if (session.Ended)
            {
                // The call ended while Asterisk started it: the file exists, so its row does too (linked by the writer).
                WriteExternalRecording(session, at);
            }
        });
    }

    /// <summary>
    /// Asks Asterisk to record <paramref name="bridgeId"/> as <paramref name="recording"/> (as one of the session's
    /// steps, in order); once it has started, <paramref name="started"/> runs on the loop with the time.
    /// </summary>
    private void RecordBridge(CallSession session, string what, string bridgeId, string recording, Action<DateTimeOffset> started)
    {
        var format = _settings.RecordingFormat;
        var ari = session.App.Ari;
        session.Run(what, async ct =>
        {
            await ari.Bridges.RecordAsync(bridgeId, recording, format, ifExists: "overwrite", cancellationToken: ct).ConfigureAwait(false);
            Post(at =>
            {
                started(at);
                return null;
            });
        });
    }

    /// <summary>An outside number still bridged with an adopted caller: its recording goes on, when Asterisk has it live.</summary>
    private void AdoptExternalRecording(CallSession session)
    {
        if (!_settings.RecordCalls)
        {
            return;
        }

        var recording = ExternalRecordingName(session.CallId);
        session.ExternalRecording = recording;
        var ari = session.App.Ari;
        session.Run("find the outside call's recording", async ct =>
        {
            // Not live (404, logged by the session): the previous owner never started it; nothing to store.
            await ari.Recordings.GetLiveAsync(recording, ct).ConfigureAwait(false);
            Post(at =>
            {
                // Started when the outside party answered and was bridged (stored with the call's IVR state).
                session.ExternalRecordingStartedAt ??= session.ExternalAnsweredAt ?? at;
                if (session.Ended)
                {
                    WriteExternalRecording(session, at);
                }

                return null;
            });
        });
    }

    /// <summary>The outside call's recording row, once, when Asterisk started one; its name (for the call's own row), else null.</summary>
    private RecordingRecord? WriteExternalRecording(CallSession session, DateTimeOffset endedAt)
    {
        if (session.ExternalRecording is not { } recording || session.ExternalRecordingStartedAt is not { } startedAt)
        {
            return null;
        }

        var format = _settings.RecordingFormat;
        var row = new RecordingRecord
        {
            RecordingId = recording, StartedAt = startedAt, CallId = session.CallId, LegId = session.CallId + "-ext",
            EndedAt = endedAt < startedAt ? startedAt : endedAt, Path = Path.Combine(_settings.RecordingDirectory, $"{recording}.{format}"), Format = format,
        };
        if (!session.ExternalRecordingWritten)
        {
            session.ExternalRecordingWritten = true;
            _records.Writer.TryWrite(row);
        }

        return row;
    }

    /// <summary>
    /// A connected call adopted with its bridge <paramref name="bridgeId"/> (<c>{call}-bridge-{n}</c>): Asterisk
    /// still records it as <c>call-{call}-{n}</c> when the previous owner started that recording. Asked of
    /// Asterisk (the truth about what runs); live, it becomes the call's recording here, its start the
    /// answer of the agent now on the call (the bridge and its recording were made then, stored in
    /// <c>live_calls</c>), so the records store it once, linked to the call, when it ends.
    /// </summary>
    private void AdoptCallRecording(CallSession session, LiveCall call, string bridgeId, string agentId)
    {
        var prefix = session.CallId + "-bridge-";
        if (!_settings.RecordCalls || !bridgeId.StartsWith(prefix, StringComparison.Ordinal))
        {
            return;
        }

        var recording = $"call-{session.CallId}-{bridgeId[prefix.Length..]}";
        var startedAt = call.AnsweredAt;
        var ari = session.App.Ari;
        session.Run("find the call's recording", async ct =>
        {
            // Not live (404, logged by the session): nothing was being recorded; nothing to store.
            var live = await ari.Recordings.GetLiveAsync(recording, ct).ConfigureAwait(false);
            var format = string.IsNullOrEmpty(live.Format) ? _settings.RecordingFormat : live.Format;
            var path = Path.Combine(_settings.RecordingDirectory, $"{recording}.{format}");
            Post(at =>
            {
                var started = startedAt is { } s && s <= at ? s : at;
                if (!session.Ended && session.BridgeId == bridgeId && session.CallRecording is null)
                {
                    session.CallRecording = recording;
                    _engine.Note(at, new CallRecordingStarted(session.CallId, recording, path, format, agentId, started));
                    LogRecordingAdopted(_logger, session.CallId, recording);
                }
                else if (session.Ended)
                {
                    // The call ended while Asterisk was asked: its row is (being) written; the recording's is linked to it by the writer.
                    _records.Writer.TryWrite(new RecordingRecord
                    {
                        RecordingId = recording, StartedAt = started, CallId = session.CallId, AgentId = agentId, EndedAt = at, Path = path, Format = format,
                    });
                }

                return null;
            });
        });
    }

    [LoggerMessage(EventId = 837, Level = LogLevel.Information, Message = "Call {CallId}: adopted with its bridge recording {Recording}, which goes on")]
    private static partial void LogRecordingAdopted(ILogger logger, string callId, string recording);
}
