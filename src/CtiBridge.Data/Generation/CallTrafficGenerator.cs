using CtiBridge.Data.Records;

namespace CtiBridge.Data.Generation;

/// <summary>Shape of generated traffic.</summary>
public sealed record CallTrafficOptions
{
    /// <summary>Seed: the same options give the same records.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>First day (UTC midnight).</summary>
    public required DateOnly FirstDay { get; init; }
    /// <summary>Number of days.</summary>
    public int Days { get; init; } = 1;
    /// <summary>Inbound calls per day, spread over the opening hours.</summary>
    public int CallsPerDay { get; init; } = 10_000;
    /// <summary>Number of queues (queue-01, queue-02, ...).</summary>
    public int Queues { get; init; } = 8;
    /// <summary>Number of agents (agent-001, ...); each serves one queue's team.</summary>
    public int Agents { get; init; } = 100;
    /// <summary>Opening hour (UTC).</summary>
    public int OpenHour { get; init; } = 8;
    /// <summary>Closing hour (UTC).</summary>
    public int CloseHour { get; init; } = 20;
    /// <summary>Also produce the queue_log events of each call.</summary>
    public bool QueueEvents { get; init; }
    /// <summary>Also produce agent state intervals (a coarse pattern per agent and hour).</summary>
    public bool AgentStates { get; init; } = true;
    /// <summary>
    /// Outbound campaign calls per day (default none): about 60 % answered and talked on by an agent
    /// (the agent's outbound calls of metrics definitions version 3), the rest no-answer or busy.
    /// Drawn from their own random stream, so the inbound records stay the same.
    /// </summary>
    public int OutboundCallsPerDay { get; init; }
}

/// <summary>
/// Deterministic synthetic call-center traffic for benchmarks and soak tests: per call a call
/// row and a queue visit (answered about 85 %, abandoned 10 % with a third of them short, the rest
/// timeouts and key exits), optional queue_log events, agent state intervals and outbound campaign calls. Streams records in
/// time order per day, so any volume can be generated in constant memory.
/// </summary>
public static class CallTrafficGenerator
{
    /// <summary>Generates the records.</summary>
    public static IEnumerable<CallCenterRecord> Generate(CallTrafficOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.CloseHour, options.OpenHour);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Queues);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Agents, options.Queues);
#pragma warning disable CA5394 // Synthetic traffic, not security.
        var random = new Random(options.Seed);
        var openSeconds = (options.CloseHour - options.OpenHour) * 3600;
        for (var day = 0; day < options.Days; day++)
        {
            var date = options.FirstDay.AddDays(day);
            var midnight = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            var opening = midnight.AddHours(options.OpenHour);
            var offsets = new double[options.CallsPerDay];
            for (var i = 0; i < offsets.Length; i++)
            {
                offsets[i] = random.NextDouble() * openSeconds;
            }

            Array.Sort(offsets);
            for (var i = 0; i < offsets.Length; i++)
            {
                var callId = $"g{options.Seed}-{date:yyyyMMdd}-{i:D7}";
                var entered = opening.AddTicks((long)(offsets[i] * TimeSpan.TicksPerSecond));
                var queueNo = random.Next(options.Queues);
                var queue = $"queue-{queueNo + 1:D2}";
                var roll = random.NextDouble();
                if (roll < 0.85)
                {
                    var agentsPerQueue = options.Agents / options.Queues;
                    var agent = $"agent-{(queueNo * agentsPerQueue) + random.Next(agentsPerQueue) + 1:D3}";
                    var wait = Math.Round(-Math.Log(1 - random.NextDouble()) * 18, 1);
                    var talk = Math.Round(60 + (random.NextDouble() * 420), 1);
                    var hold = random.NextDouble() < 0.2 ? Math.Round(10 + (random.NextDouble() * 50), 1) : 0;
                    var wrap = Math.Round(5 + (random.NextDouble() * 55), 1);
                    var answered = entered.AddSeconds(wait);
                    var ended = answered.AddSeconds(talk + hold);
                    yield return new CallRecord
                    {
                        CallId = callId, StartedAt = entered, Direction = CallDirection.Inbound, Did = "4008001000", Caller = Caller(random),
                        Queues = [queue], EnqueuedAt = entered, AnsweredAt = answered, EndedAt = ended, WaitSeconds = wait, TalkSeconds = talk,
                        HoldSeconds = hold, WrapUpSeconds = wrap, Disposition = CallDisposition.Answered, AgentId = agent, ReleasedBy = ReleasedBy.Caller,
                    };
                    yield return new QueueVisitRecord
                    {
                        CallId = callId, Queue = queue, EnteredAt = entered, Outcome = QueueVisitOutcome.Answered, LeftAt = answered, AnsweredAt = answered,
                        AgentId = agent, EntryPosition = 1, TalkSeconds = talk, HoldSeconds = hold, WrapUpSeconds = wrap, Handled = true,
                    };
                    if (options.QueueEvents)
                    {
                        yield return Event(callId, entered, queue, "NONE", "ENTERQUEUE", "", "", "1");
                        yield return Event(callId, answered, queue, agent, "CONNECT", Seconds(wait), callId + ".1", "1");
                        yield return Event(callId, ended, queue, agent, "COMPLETECALLER", Seconds(wait), Seconds(talk + hold), "1");
                    }
                }
                else
                {
                    var outcome = roll < 0.95 ? QueueVisitOutcome.Abandoned : roll < 0.98 ? QueueVisitOutcome.Timeout : QueueVisitOutcome.ExitKey;
                    var wait = outcome switch
                    {
                        QueueVisitOutcome.Abandoned when random.NextDouble() < 0.33 => Math.Round(random.NextDouble() * 5, 1),
                        QueueVisitOutcome.Abandoned => Math.Round(5 + (-Math.Log(1 - random.NextDouble()) * 40), 1),
                        QueueVisitOutcome.Timeout => 300,
                        _ => Math.Round(10 + (random.NextDouble() * 60), 1),
                    };
                    var left = entered.AddSeconds(wait);
                    yield return new CallRecord
                    {
                        CallId = callId, StartedAt = entered, Direction = CallDirection.Inbound, Did = "4008001000", Caller = Caller(random),
                        Queues = [queue], EnqueuedAt = entered, EndedAt = left, WaitSeconds = wait,
                        Disposition = outcome == QueueVisitOutcome.Abandoned ? CallDisposition.Abandoned : CallDisposition.Overflowed, ReleasedBy = ReleasedBy.Caller,
                    };
                    yield return new QueueVisitRecord { CallId = callId, Queue = queue, EnteredAt = entered, Outcome = outcome, LeftAt = left, EntryPosition = 1 };
                    if (options.QueueEvents)
                    {
                        yield return Event(callId, entered, queue, "NONE", "ENTERQUEUE", "", "", "1");
                        yield return Event(callId, left, queue, "NONE", outcome == QueueVisitOutcome.Abandoned ? "ABANDON" : outcome == QueueVisitOutcome.Timeout ? "EXITWITHTIMEOUT" : "EXITWITHKEY", "1", "1", Seconds(wait));
                    }
                }
            }

            foreach (var call in OutboundDay(options, date, opening, openSeconds))
            {
                yield return call;
            }

            if (options.AgentStates)
            {
                foreach (var state in AgentDay(options, opening, random))
                {
                    yield return state;
                }
            }
        }
#pragma warning restore CA5394
    }

    // A day's campaign calls, in time order, answered ones with their agent and wrap-up (written as revision 1, handled).
    private static IEnumerable<CallRecord> OutboundDay(CallTrafficOptions options, DateOnly date, DateTimeOffset opening, int openSeconds)
    {
#pragma warning disable CA5394
        var random = new Random(unchecked((options.Seed * 7919) + date.DayNumber));
        var offsets = new double[options.OutboundCallsPerDay];
        for (var i = 0; i < offsets.Length; i++)
        {
            offsets[i] = random.NextDouble() * openSeconds;
        }

        Array.Sort(offsets);
        for (var i = 0; i < offsets.Length; i++)
        {
            var started = opening.AddTicks((long)(offsets[i] * TimeSpan.TicksPerSecond));
            var roll = random.NextDouble();
            var callId = $"o{options.Seed}-{date:yyyyMMdd}-{i:D7}";
            if (roll < 0.6)
            {
                var answered = started.AddSeconds(Math.Round(8 + (random.NextDouble() * 20), 1));
                var talk = Math.Round(30 + (random.NextDouble() * 300), 1);
                yield return new CallRecord
                {
                    CallId = callId, StartedAt = started, Revision = 1, Direction = CallDirection.Outbound, Caller = "4008001000", Callee = $"13{random.Next(100_000_000, 999_999_999)}",
                    AnsweredAt = answered, EndedAt = answered.AddSeconds(talk), TalkSeconds = talk, WrapUpSeconds = Math.Round(3 + (random.NextDouble() * 30), 1),
                    Disposition = CallDisposition.Answered, AgentId = $"agent-{random.Next(options.Agents) + 1:D3}", ReleasedBy = ReleasedBy.Agent,
                    CampaignId = "campaign-1", LeadId = "lead-" + callId,
                };
            }
            else
            {
                yield return new CallRecord
                {
                    CallId = callId, StartedAt = started, Direction = CallDirection.Outbound, Caller = "4008001000", Callee = $"13{random.Next(100_000_000, 999_999_999)}",
                    EndedAt = started.AddSeconds(Math.Round(10 + (random.NextDouble() * 30), 1)),
                    Disposition = roll < 0.85 ? CallDisposition.NoAnswer : CallDisposition.Busy, ReleasedBy = ReleasedBy.System,
                    CampaignId = "campaign-1", LeadId = "lead-" + callId,
                };
            }
        }
#pragma warning restore CA5394
    }

    // Per agent and opening hour: available, in call, wrap-up and a pause, in shares that vary a little.
    private static IEnumerable<AgentStateRecord> AgentDay(CallTrafficOptions options, DateTimeOffset opening, Random random)
    {
#pragma warning disable CA5394
        for (var a = 1; a <= options.Agents; a++)
        {
            var agent = $"agent-{a:D3}";
            var session = $"{agent}-{opening:yyyyMMdd}";
            for (var h = 0; h < options.CloseHour - options.OpenHour; h++)
            {
                var start = opening.AddHours(h);
                var available = 300 + random.Next(600);
                var inCall = 1500 + random.Next(600);
                var wrap = 200 + random.Next(200);
                var paused = 3600 - available - inCall - wrap;
                yield return new AgentStateRecord { AgentId = agent, SessionId = session, StartedAt = start, EndedAt = start.AddSeconds(available), State = AgentState.Available };
                start = start.AddSeconds(available);
                yield return new AgentStateRecord { AgentId = agent, SessionId = session, StartedAt = start, EndedAt = start.AddSeconds(inCall), State = AgentState.InCall };
                start = start.AddSeconds(inCall);
                yield return new AgentStateRecord { AgentId = agent, SessionId = session, StartedAt = start, EndedAt = start.AddSeconds(wrap), State = AgentState.WrapUp };
                start = start.AddSeconds(wrap);
                yield return new AgentStateRecord { AgentId = agent, SessionId = session, StartedAt = start, EndedAt = start.AddSeconds(paused), State = AgentState.Paused, Reason = h % 4 == 3 ? "lunch" : "rest" };
            }
        }
#pragma warning restore CA5394
    }

    private static QueueEventRecord Event(string callId, DateTimeOffset time, string queue, string agent, string name, params string[] data) =>
        new()
        {
            EventId = new Guid(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{callId}|{name}|{agent}")).AsSpan(0, 16)),
            EventTime = time, CallId = callId, Queue = queue, Agent = agent, Event = name, Data = data,
        };

    private static string Seconds(double value) => ((long)value).ToString(System.Globalization.CultureInfo.InvariantCulture);

#pragma warning disable CA5394
    private static string Caller(Random random) => "13" + random.Next(100_000_000, 999_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);
#pragma warning restore CA5394
}
