using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CtiBridge.Core.Acd;
using CoreOutcome = CtiBridge.Core.Acd.QueueVisitOutcome;
using CoreState = CtiBridge.Core.Acd.AgentState;

namespace CtiBridge.Data.Records;

/// <summary>
/// Turns the ACD core's event stream into call records: queue visits (answered visits first at the
/// answer, then again with handling times when wrap-up ends), queue_log events in Asterisk
/// vocabulary, agent state intervals, and one call row per call (written when the call ends, and
/// again with its wrap-up when handling ends). Feed it every event in order; what it returns goes
/// to the <see cref="CallRecordSink"/>. Replaying the same stream gives the same records (ids derive
/// from <c>streamId</c> and each event's sequence number), so the writer stores them once.
/// </summary>
public sealed class AcdRecordMapper
{
    private readonly string _streamId;
    private readonly Dictionary<string, CallTrack> _calls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AgentTrack> _agents = new(StringComparer.Ordinal);

    // Callback tasks (CallbackTasks): not inbound queue visits (docs/metrics.md §3a), so no queue
    // visit, queue_log event or call row comes from them here (call control writes each attempt as an
    // outbound call row); tracked only until they have ended and their handling is over.
    private readonly Dictionary<string, CallbackTaskTrack> _callbackTasks = new(StringComparer.Ordinal);

    // Call rows already written whose survey answer may still come (bounded: oldest forgotten first).
    private readonly Dictionary<string, CallRecord> _finished = new(StringComparer.Ordinal);
    private readonly Queue<string> _finishedOrder = new();
    private const int FinishedRemembered = 20_000;

    /// <summary>Creates a mapper for one engine event stream (e.g. the engine instance and its start time).</summary>
    public AcdRecordMapper(string streamId)
    {
        ArgumentException.ThrowIfNullOrEmpty(streamId);
        _streamId = streamId;
    }

    /// <summary>Calls still open (not yet ended, or answered and still in wrap-up).</summary>
    public int OpenCalls => _calls.Count;

    /// <summary>The records one event produces (often none).</summary>
    public IReadOnlyList<CallCenterRecord> Map(AcdEvent acdEvent)
    {
        ArgumentNullException.ThrowIfNull(acdEvent);
        var output = new List<CallCenterRecord>(3);
        if (IsCallbackTaskEvent(acdEvent))
        {
            return output;
        }

        switch (acdEvent)
        {
            case AgentLoggedIn x:
                // A restored login continues its session (the login before the restart or takeover). Its
                // login time comes back from live_agents at the database's microsecond precision, so the
                // session is named at that precision too: named from .NET's 0.1 µs ticks, nine restores in
                // ten started a second session and the reports counted two logins.
                Agent(x.AgentId).Session = SessionName(x.AgentId, x.RestoredLoginAt ?? x.At);
                break;
            case AgentStateChanged x:
                OnAgentState(x, output);
                break;
            case CallEnqueued x:
                OnEnqueued(x, output);
                break;
            case CallAdopted x:
                OnAdopted(x);
                break;
            case CallOfferEnded { End: OfferEnd.RingTimeout or OfferEnd.Declined } x:
                output.Add(Event(x, x.CallId, x.Queue, x.AgentId, "RINGNOANSWER", Whole(x.RingTime.TotalMilliseconds)));
                break;
            case CallAnswered x:
                OnAnswered(x, output);
                break;
            case QueueVisitEnded x:
                OnUnanswered(x, output);
                break;
            case CallTransferred x:
                var transferring = Call(x.CallId, x.At);
                transferring.TransferChain.Add(x.Target.ToString());
                transferring.PendingTransfer = x;
                break;
            case CallCompleted x:
                OnCompleted(x, output);
                break;
            case CallRecordingStarted x:
                var recorded = Call(x.CallId, x.At);
                recorded.RecordingId ??= x.RecordingId;
                recorded.Recordings[x.RecordingId] = new RecordingRecord
                {
                    RecordingId = x.RecordingId, StartedAt = x.StartedAt ?? x.At, CallId = x.CallId, AgentId = x.AgentId, Path = x.Path, Format = x.Format,
                };
                break;
            case CallRecordingEnded x:
                if (_calls.TryGetValue(x.CallId, out var withRecording) && withRecording.Recordings.Remove(x.RecordingId, out var recording))
                {
                    output.Add(recording with { EndedAt = x.At < recording.StartedAt ? recording.StartedAt : x.At });
                }

                break;
            case SurveyAnswered x:
                OnSurveyAnswered(x, output);
                break;
            case CallHandlingEnded x:
                OnHandlingEnded(x, output);
                break;
            case CallEnded x:
                OnCallEnded(x, output);
                break;
        }

        return output;
    }

    /// <summary>True for an event of a callback task (which leaves no record here), keeping track of its end.</summary>
    private bool IsCallbackTaskEvent(AcdEvent acdEvent)
    {
        switch (acdEvent)
        {
            case CallEnqueued x when CallbackTasks.IsCallbackTask(x.Caller):
                _callbackTasks.TryAdd(x.CallId, new CallbackTaskTrack());
                return true;
            case CallAdopted x when CallbackTasks.IsCallbackTask(x.Caller):
                // A callback conversation taken over after a restart: its handling is open (call control writes its row).
                _callbackTasks.TryAdd(x.CallId, new CallbackTaskTrack { OpenHandlings = x.AgentId is null ? 0 : 1 });
                return true;
            case CallAnswered x when _callbackTasks.TryGetValue(x.CallId, out var task):
                task.OpenHandlings++;
                return true;
            case CallHandlingEnded x when _callbackTasks.TryGetValue(x.CallId, out var task):
                task.OpenHandlings--;
                ForgetCallbackTaskWhenDone(x.CallId, task);
                return true;
            case CallEnded x when _callbackTasks.TryGetValue(x.CallId, out var task):
                task.Ended = true;
                ForgetCallbackTaskWhenDone(x.CallId, task);
                return true;
            case CallOffered x: return _callbackTasks.ContainsKey(x.CallId);
            case CallOfferEnded x: return _callbackTasks.ContainsKey(x.CallId);
            case QueueVisitEnded x: return _callbackTasks.ContainsKey(x.CallId);
            case CallTransferred x: return _callbackTasks.ContainsKey(x.CallId);
            case CallCompleted x: return _callbackTasks.ContainsKey(x.CallId);
            case CallRecordingStarted x: return _callbackTasks.ContainsKey(x.CallId);
            case CallRecordingEnded x: return _callbackTasks.ContainsKey(x.CallId);
            case SurveyAnswered x: return _callbackTasks.ContainsKey(x.CallId);
            default: return false;
        }
    }

    private void ForgetCallbackTaskWhenDone(string callId, CallbackTaskTrack task)
    {
        if (task.Ended && task.OpenHandlings <= 0)
        {
            _callbackTasks.Remove(callId);
        }
    }

    /// <summary>
    /// The states agents are in right now, as intervals ending at <paramref name="now"/> (e.g. at the
    /// end of a reporting day, so the reports see the time the wallboard already counts). When the
    /// state really ends, the interval is written again with its true end and a higher revision.
    /// </summary>
    public IReadOnlyList<CallCenterRecord> FlushOpenStates(DateTimeOffset now)
    {
        var output = new List<CallCenterRecord>();
        foreach (var (agentId, agent) in _agents.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            if (agent.State is { } state && state != CoreState.LoggedOut && AgentStateRecord.Spans(agent.Since, now))
            {
                agent.Flushes++;
                output.Add(StateRecord(agentId, agent, state, now, agent.Flushes));
            }
        }

        return output;
    }

    private static string SessionName(string agentId, DateTimeOffset loggedInAt)
    {
        var utc = loggedInAt.UtcDateTime;
        return $"{agentId}@{utc.AddTicks(-(utc.Ticks % TimeSpan.TicksPerMicrosecond)):yyyyMMddTHHmmss.ffffff}";
    }

    private static AgentStateRecord StateRecord(string agentId, AgentTrack agent, CoreState state, DateTimeOffset end, int revision) =>
        new()
        {
            AgentId = agentId, StartedAt = agent.Since, EndedAt = end, State = MapState(state), Revision = revision,
            Reason = state == CoreState.Paused ? agent.Reason : null, SessionId = agent.Session ?? agentId,
        };

    private void OnAgentState(AgentStateChanged x, List<CallCenterRecord> output)
    {
        var agent = Agent(x.AgentId);
        if (agent.State is { } state && state != CoreState.LoggedOut && AgentStateRecord.Spans(agent.Since, x.At))
        {
            output.Add(StateRecord(x.AgentId, agent, state, x.At, agent.Flushes + 1));
        }

        agent.Flushes = 0;

        if (x.To == CoreState.Paused && x.From != CoreState.Paused)
        {
            output.Add(Event(x, "NONE", x.Queue ?? "NONE", x.AgentId, "PAUSE", x.Reason));
        }
        else if (x.From == CoreState.Paused && x.To != CoreState.Paused)
        {
            output.Add(Event(x, "NONE", x.Queue ?? "NONE", x.AgentId, "UNPAUSE", string.Empty));
        }

        agent.State = x.To;
        agent.Since = x.At;
        agent.Reason = x.Reason;
    }

    private void OnEnqueued(CallEnqueued x, List<CallCenterRecord> output)
    {
        if (!_calls.TryGetValue(x.CallId, out var call))
        {
            call = new CallTrack { StartedAt = x.At, Caller = x.Caller.CallerNumber, Did = x.Caller.Did, AsteriskServer = x.Caller.Site };
            _calls[x.CallId] = call;
        }

        call.Queues.Add(x.Queue);
        call.FirstEnqueuedAt ??= x.At;
        call.Positions[(x.Queue, x.Visit)] = x.Position;
        output.Add(Event(x, x.CallId, x.Queue, "NONE", "ENTERQUEUE", string.Empty, x.Caller.CallerNumber ?? string.Empty, Whole(x.Position)));
    }

    /// <summary>
    /// A call taken over from another instance (restart, HA takeover): its record continues the one
    /// that instance began — same start, first enqueue, visit and answer — so the call row, the
    /// answered visit and its handling land on the keys that instance used, once. Nothing is
    /// written now: that instance wrote the entry and the answer already.
    /// </summary>
    private void OnAdopted(CallAdopted x)
    {
        var call = new CallTrack { StartedAt = x.StartedAt, Caller = x.Caller.CallerNumber, Did = x.Caller.Did, AsteriskServer = x.Caller.Site, FirstEnqueuedAt = x.FirstEnqueuedAt };
        call.Queues.AddRange(x.Queues);
        if (x.EntryPosition is { } position)
        {
            call.Positions[(x.Queue, x.Visit)] = position;
        }

        if (x.AgentId is { } agentId && x.AnsweredAt is { } answeredAt)
        {
            call.AnsweredAt = answeredAt;
            call.AgentId = agentId;
            call.Wait = answeredAt - x.EnqueuedAt;
            call.AnsweredVisits[agentId] = new QueueVisitRecord
            {
                CallId = x.CallId, Queue = x.Queue, EnteredAt = x.EnqueuedAt, Outcome = QueueVisitOutcome.Answered, LeftAt = answeredAt,
                AnsweredAt = answeredAt, AgentId = agentId, EntryPosition = x.EntryPosition,
            };
            call.OpenHandlings++;
        }

        _calls[x.CallId] = call;
    }

    private void OnAnswered(CallAnswered x, List<CallCenterRecord> output)
    {
        var call = Call(x.CallId, x.At);
        call.AnsweredAt ??= x.At;
        call.AgentId = x.AgentId;
        call.Wait ??= x.Wait;
        call.AnsweredVisits[x.AgentId] = new QueueVisitRecord
        {
            CallId = x.CallId, Queue = x.Queue, EnteredAt = x.EnqueuedAt, Outcome = QueueVisitOutcome.Answered, LeftAt = x.At,
            AnsweredAt = x.At, AgentId = x.AgentId, EntryPosition = call.Position(x.Queue, x.Visit),
        };
        output.Add(call.AnsweredVisits[x.AgentId]);
        call.OpenHandlings++;
        output.Add(Event(x, x.CallId, x.Queue, x.AgentId, "CONNECT", Whole(x.Wait.TotalSeconds), x.CallId, "0"));
    }

    private void OnUnanswered(QueueVisitEnded x, List<CallCenterRecord> output)
    {
        var call = Call(x.CallId, x.EnqueuedAt);
        call.Wait = x.Wait;
        var position = call.Position(x.Queue, x.Visit);
        output.Add(new QueueVisitRecord
        {
            CallId = x.CallId, Queue = x.Queue, EnteredAt = x.EnqueuedAt, Outcome = AcdRecordWords.Outcome(x.Outcome), LeftAt = x.At,
            EntryPosition = position,
        });
        var name = x.Outcome switch
        {
            CoreOutcome.Abandoned => "ABANDON",
            CoreOutcome.Timeout => "EXITWITHTIMEOUT",
            CoreOutcome.ExitEmpty => "EXITEMPTY",
            CoreOutcome.ExitKey => "EXITWITHKEY",
            _ => null, // a system loss has no queue_log event in Asterisk
        };
        if (name is not null)
        {
            var pos = Whole(position ?? 0);
            output.Add(Event(x, x.CallId, x.Queue, "NONE", name, pos, pos, Whole(x.Wait.TotalSeconds)));
        }
    }

    private void OnCompleted(CallCompleted x, List<CallCenterRecord> output)
    {
        var call = Call(x.CallId, x.At);
        call.Talk += x.Talk;
        call.Hold += x.Hold;
        call.ReleasedBy = AcdRecordWords.ReleasedBy(x.ReleasedBy);
        var origin = Whole(call.AnsweredVisits.GetValueOrDefault(x.AgentId)?.EntryPosition ?? 0);
        var wait = Whole((call.Wait ?? TimeSpan.Zero).TotalSeconds);
        if (call.PendingTransfer is { } transfer && transfer.FromAgentId == x.AgentId)
        {
            // queue_log: the transfer replaces COMPLETEAGENT (BLINDTRANSFER extension|context|hold|call|pos; ATTENDEDTRANSFER BRIDGE|target|…).
            call.PendingTransfer = null;
            call.ReleasedBy = null;
            output.Add(transfer.Attended
                ? Event(x, x.CallId, x.Queue, x.AgentId, "ATTENDEDTRANSFER", "BRIDGE", transfer.Target.ToString(), wait, Whole((x.Talk + x.Hold).TotalSeconds), origin)
                : Event(x, x.CallId, x.Queue, x.AgentId, "BLINDTRANSFER", transfer.Target.Destination, transfer.Target.Kind.ToString().ToLowerInvariant(), wait, Whole((x.Talk + x.Hold).TotalSeconds), origin));
            return;
        }

        output.Add(Event(x, x.CallId, x.Queue, x.AgentId, x.ReleasedBy == HangupParty.Agent ? "COMPLETEAGENT" : "COMPLETECALLER",
            wait, Whole((x.Talk + x.Hold).TotalSeconds), origin));
    }

    private void OnHandlingEnded(CallHandlingEnded x, List<CallCenterRecord> output)
    {
        var call = Call(x.CallId, x.At);
        call.WrapUp += x.WrapUp;
        call.OpenHandlings = Math.Max(0, call.OpenHandlings - 1);
        if (call.AnsweredVisits.Remove(x.AgentId, out var visit))
        {
            output.Add(visit with { Revision = 1, TalkSeconds = x.Talk.TotalSeconds, HoldSeconds = x.Hold.TotalSeconds, WrapUpSeconds = x.WrapUp.TotalSeconds, Handled = true });
        }

        if (call.Ended is not null)
        {
            output.Add(CallRow(x.CallId, call, revision: ++call.Revision));
            if (call.OpenHandlings == 0)
            {
                Forget(x.CallId, call, output);
            }
        }
    }

    private void OnCallEnded(CallEnded x, List<CallCenterRecord> output)
    {
        var call = Call(x.CallId, x.At);
        call.Ended = x;
        output.Add(CallRow(x.CallId, call, revision: call.Revision));

        if (call.OpenHandlings == 0)
        {
            Forget(x.CallId, call, output);
        }
    }

    /// <summary>The call is complete: its recordings end with it; its row is kept a while for a late survey answer.</summary>
    private void Forget(string callId, CallTrack call, List<CallCenterRecord> output)
    {
        foreach (var recording in call.Recordings.Values)
        {
            output.Add(recording with { EndedAt = call.Ended!.At < recording.StartedAt ? recording.StartedAt : call.Ended.At });
        }

        _calls.Remove(callId);

        var row = CallRow(callId, call, call.Revision);
        if (_finished.TryAdd(callId, row))
        {
            _finishedOrder.Enqueue(callId);
            while (_finishedOrder.Count > FinishedRemembered)
            {
                _finished.Remove(_finishedOrder.Dequeue());
            }
        }
        else
        {
            _finished[callId] = row;
        }
    }

    private void OnSurveyAnswered(SurveyAnswered x, List<CallCenterRecord> output)
    {
        output.Add(new SurveyAnswerRecord
        {
            CallId = x.CallId, Question = x.Question, AnsweredAt = x.At, Score = (short)x.Score, ScaleMax = (short)x.ScaleMax, AgentId = x.AgentId, Queue = x.Queue,
        });
        if (_calls.TryGetValue(x.CallId, out var open))
        {
            open.SurveyScore = (short)x.Score;
            if (open.Ended is not null)
            {
                output.Add(CallRow(x.CallId, open, ++open.Revision));
            }
        }
        else if (_finished.TryGetValue(x.CallId, out var row))
        {
            var scored = row with { SurveyScore = (short)x.Score, Revision = row.Revision + 1 };
            _finished[x.CallId] = scored;
            output.Add(scored);
        }
    }

    private static CallRecord CallRow(string callId, CallTrack call, int revision)
    {
        var ended = call.Ended!;
        return new InboundCallRow
        {
            CallId = callId, StartedAt = call.StartedAt, EndedAt = ended.At, Disposition = AcdRecordWords.Disposition(ended.Disposition), Did = call.Did, Caller = call.Caller,
            AsteriskServer = call.AsteriskServer, Queues = call.Queues, FirstEnqueuedAt = call.FirstEnqueuedAt, AnsweredAt = call.AnsweredAt, LastVisitWait = call.Wait,
            Talk = call.Talk, Hold = call.Hold, WrapUp = call.WrapUp, AgentId = call.AgentId, ReleasedBy = call.ReleasedBy, TransferChain = call.TransferChain,
            RecordingId = call.RecordingId, SurveyScore = call.SurveyScore, EndEstimated = ended.EndEstimated,
        }.ToRecord(revision);
    }

    private QueueEventRecord Event(AcdEvent source, string callId, string queue, string agent, string name, params string[] data) =>
        new()
        {
            EventId = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"{_streamId}\n{source.Sequence}\n{name}")).AsSpan(0, 16)),
            EventTime = source.At, CallId = callId, Queue = queue, Agent = agent, Event = name, Data = data,
        };

    private CallTrack Call(string callId, DateTimeOffset at)
    {
        if (!_calls.TryGetValue(callId, out var call))
        {
            // A call first seen mid-life (mapper started after it was enqueued): keep what is known.
            call = new CallTrack { StartedAt = at };
            _calls[callId] = call;
        }

        return call;
    }

    private AgentTrack Agent(string agentId)
    {
        if (!_agents.TryGetValue(agentId, out var agent))
        {
            agent = new AgentTrack();
            _agents[agentId] = agent;
        }

        return agent;
    }

    private static string Whole(double value) => ((long)Math.Floor(value)).ToString(CultureInfo.InvariantCulture);

    private static AgentState MapState(CoreState state) => state switch
    {
        CoreState.Ready => AgentState.Available,
        CoreState.Ringing => AgentState.Ringing,
        CoreState.OnCall => AgentState.InCall,
        CoreState.WrapUp => AgentState.WrapUp,
        _ => AgentState.Paused,
    };

    private sealed class CallTrack
    {
        public DateTimeOffset StartedAt { get; init; }
        public string? Caller { get; init; }
        public string? Did { get; init; }
        public string? AsteriskServer { get; init; }
        public List<string> Queues { get; } = [];
        public Dictionary<(string Queue, int Visit), int> Positions { get; } = [];
        public DateTimeOffset? FirstEnqueuedAt { get; set; }
        public DateTimeOffset? AnsweredAt { get; set; }
        public string? AgentId { get; set; }
        public TimeSpan? Wait { get; set; }
        public TimeSpan Talk { get; set; }
        public TimeSpan Hold { get; set; }
        public TimeSpan WrapUp { get; set; }
        public ReleasedBy? ReleasedBy { get; set; }
        public Dictionary<string, QueueVisitRecord> AnsweredVisits { get; } = new(StringComparer.Ordinal);
        public int OpenHandlings { get; set; }
        public int Revision { get; set; }
        public CallEnded? Ended { get; set; }
        public List<string> TransferChain { get; } = [];
        public CallTransferred? PendingTransfer { get; set; }
        public string? RecordingId { get; set; }
        public Dictionary<string, RecordingRecord> Recordings { get; } = new(StringComparer.Ordinal);
        public short? SurveyScore { get; set; }

        public int? Position(string queue, int visit) => Positions.TryGetValue((queue, visit), out var p) ? p : null;
    }

    private sealed class AgentTrack
    {
        public string? Session { get; set; }
        public CoreState? State { get; set; }
        public DateTimeOffset Since { get; set; }
        public string? Reason { get; set; }
        public int Flushes { get; set; }
    }

    private sealed class CallbackTaskTrack
    {
        public int OpenHandlings;
        public bool Ended;
    }
}
