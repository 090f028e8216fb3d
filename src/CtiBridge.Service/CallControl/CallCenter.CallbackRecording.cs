using CtiBridge.Data.Records;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// A callback call is handled like an inbound one once the customer and the agent talk (issue 11): its
/// bridge is recorded (<c>callControl.recordCalls</c>), the recording linked to the attempt's <c>calls</c>
/// row, and when the agent hangs up first the customer is offered the queue's survey. The ACD's record
/// mapper writes nothing for callback tasks (docs/metrics.md §3a), so call control writes the recording
/// and the survey answer through its own record channel, with the row.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>Starts recording the callback's bridge, once per attempt, after both parties are in it (the session's steps run in order).</summary>
    private void RecordCallback(CallSession session, string bridgeId)
    {
        if (!_settings.RecordCalls || session.Placed is not { } placed || placed.RecordingId is not null)
        {
            return;
        }

        var recording = $"call-{session.CallId}-{session.BridgeCount}";
        placed.RecordingId = recording;
        RecordBridge(session, "record the callback", bridgeId, recording, at =>
        {
            placed.RecordingStartedAt = at;
            if (session.Ended)
            {
                // The attempt ended while Asterisk started it: the file exists, so its row does too (nothing left to link).
                WriteCallbackRecording(session, at);
            }
            else if (session.BridgeId == bridgeId)
            {
                session.CallRecording = recording; // as an inbound call's (ended with the bridge or the attempt)
                StoreCallbackCall(session); // an adopter links the recording too
            }
        });
    }

    /// <summary>The recording's row, when Asterisk started one for this attempt (written once, at the attempt's end).</summary>
    private void WriteCallbackRecording(CallSession session, DateTimeOffset endedAt)
    {
        if (session.Placed is not { RecordingId: { } recording, RecordingStartedAt: { } startedAt } placed)
        {
            return;
        }

        placed.RecordingStartedAt = null; // once
        session.CallRecording = null;
        var format = _settings.RecordingFormat;
        _records.Writer.TryWrite(new RecordingRecord
        {
            RecordingId = recording, StartedAt = startedAt, CallId = session.CallId, AgentId = placed.AgentId,
            EndedAt = endedAt < startedAt ? startedAt : endedAt, Path = Path.Combine(_settings.RecordingDirectory, $"{recording}.{format}"), Format = format,
        });
    }

    /// <summary>The agent left a callback conversation and the customer goes to the survey: the talk (and its recording) end here.</summary>
    private void CallbackConversationEnded(CallSession session)
    {
        if (session.Placed is { } placed)
        {
            placed.ConversationEndedAt ??= _lastAt;
            session.CallRecording = null; // the bridge ends now; the recording's row is written with the attempt's
            StoreCallbackCall(session); // the survey stage, for an adopter
        }
    }

    /// <summary>A callback's customer answered the survey: stored here (the ACD's mapper writes nothing for callback tasks).</summary>
    private void CallbackSurveyAnswered(CallSession session, SurveySettings survey, int score, DateTimeOffset at)
    {
        if (session.Placed is not { } placed)
        {
            return;
        }

        placed.SurveyScore = (short)score;
        _records.Writer.TryWrite(new SurveyAnswerRecord
        {
            CallId = session.CallId, Question = survey.Question, AnsweredAt = at, Score = (short)score, ScaleMax = 10,
            AgentId = session.LastAgentId, Queue = session.CurrentQueue ?? session.Queue,
        });
    }
}
