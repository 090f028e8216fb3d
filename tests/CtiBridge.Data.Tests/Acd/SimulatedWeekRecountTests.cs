using CtiBridge.Core.Acd;
using CtiBridge.Core.Simulation;
using CtiBridge.Data.Records;
using CtiBridge.Data.Tests.Reports;
using CtiBridge.TestSupport;
using AgentState = CtiBridge.Core.Acd.AgentState;
using CallDisposition = CtiBridge.Core.Acd.CallDisposition;

namespace CtiBridge.Data.Tests.Acd;

/// <summary>
/// A simulated week of a small centre (day/night traffic, two shifts, lunch and training pauses,
/// ring-no-answers, impatient callers) goes through the ACD core, the record mapper and the writer;
/// the daily and weekly SQL reports must equal a recount made here straight from the engine's
/// event log, without the live statistics or the mapper.
/// </summary>
public sealed class SimulatedWeekRecountTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private const double Eps = 1e-3;
    private static readonly DateTimeOffset Monday = new(2026, 11, 30, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Db => fixture.Database;

    [Fact]
    public async Task SimulatedWeek_DailyAndWeeklyReports_EqualRecountFromEventLog()
    {
        var result = new CallCenterSimulation(Week(seed: 7)).Run();
        var mapper = new AcdRecordMapper("week-7");
        var records = result.Events.SelectMany(mapper.Map).ToList();
        records.AddRange(mapper.FlushOpenStates(result.EndedAt));
        var writer = new CallRecordWriter(Db.DataSource);
        foreach (var batch in records.Chunk(2_000))
        {
            await writer.WriteAsync(batch, Ct);
        }

        var sl = await Db.ScalarAsync<double>("SELECT setting_numeric('metrics.service_level_seconds')", Ct);
        var shortAbandon = await Db.ScalarAsync<double>("SELECT setting_numeric('metrics.short_abandon_seconds')", Ct);
        var recount = Recount.From(result.Events, result.EndedAt, sl, shortAbandon);
        Assert.True(recount.Queues.Count >= 3 * 7, $"traffic on only {recount.Queues.Count} queue-days");
        Assert.True(recount.Queues.Values.Sum(q => q.Abandoned) > 0, "no abandons in the week: the scenario is too easy to check abandons");
        Assert.True(recount.Agents.Values.Sum(a => a.Missed) > 0, "no ring-no-answers in the week");
        Assert.True(recount.Agents.Values.Sum(a => a.PausedByReason.Count) > 0, "no pauses in the week");

        const string Window = "'2026-11-30T00:00Z', '2026-12-07T00:00Z'";
        var days = await Rows.ReadAsync(Db, $"SELECT * FROM report_queue_traffic({Window}, '1d')", Ct);
        Assert.Equal(recount.Queues.Count, days.Count);
        foreach (var row in days)
        {
            AssertQueue(recount.Queues[(((DateTime)row["interval_start"]!).Date, (string)row["queue"]!)], row);
        }

        // The week as one interval is the sum of its days.
        var weeks = await Rows.ReadAsync(Db, $"SELECT * FROM report_queue_traffic({Window}, '1w')", Ct);
        foreach (var row in weeks)
        {
            Assert.Equal(Monday.UtcDateTime, (DateTime)row["interval_start"]!);
            AssertQueue(QueueDay.Sum(recount.Queues.Where(q => q.Key.Queue == (string)row["queue"]!).Select(q => q.Value)), row);
        }

        var agentDays = await Rows.ReadAsync(Db, $"SELECT * FROM report_agent_activity({Window}, '1d')", Ct);
        Assert.Equal(recount.Agents.Count, agentDays.Count);
        foreach (var row in agentDays)
        {
            AssertAgent(recount.Agents[(((DateTime)row["interval_start"]!).Date, (string)row["agent_id"]!)], row);
        }

        var agentWeeks = await Rows.ReadAsync(Db, $"SELECT * FROM report_agent_activity({Window}, '1w')", Ct);
        foreach (var row in agentWeeks)
        {
            AssertAgent(AgentDay.Sum(recount.Agents.Where(a => a.Key.Agent == (string)row["agent_id"]!).Select(a => a.Value)), row);
        }

        // Every call once, each with the disposition the engine ended it with.
        var ended = result.Events.OfType<CallEnded>().ToList();
        Assert.Equal(ended.Count, await Db.ScalarAsync<long>("SELECT count(*) FROM calls", Ct));
        foreach (var group in ended.GroupBy(e => e.Disposition))
        {
            var name = group.Key switch
            {
                CallDisposition.Answered => "answered",
                CallDisposition.Abandoned => "abandoned",
                CallDisposition.Overflowed => "overflowed",
                _ => null,
            };
            if (name is not null)
            {
                Assert.Equal(group.Count(), await Db.ScalarAsync<long>($"SELECT count(*) FROM calls WHERE disposition = '{name}'", Ct));
            }
        }
    }

    private static void AssertQueue(QueueDay expected, Dictionary<string, object?> row)
    {
        Assert.Equal(expected.Offered, row.L("offered"));
        Assert.Equal(expected.Answered, row.L("answered"));
        Assert.Equal(expected.AnsweredWithinSl, row.L("answered_within_sl"));
        Assert.Equal(expected.Abandoned, row.L("abandoned"));
        Assert.Equal(expected.AbandonedShort, row.L("abandoned_short"));
        Assert.Equal(expected.Overflowed, row.L("overflowed"));
        Assert.Equal(expected.LongestWait, row.F("longest_wait_seconds"), Eps);
        Assert.Equal(expected.Answered == 0 ? double.NaN : expected.WaitAnswered / expected.Answered, row["asa_seconds"] is null ? double.NaN : row.F("asa_seconds"), Eps);
        Assert.Equal(expected.Handled == 0 ? double.NaN : expected.HandleSum / expected.Handled, row["aht_seconds"] is null ? double.NaN : row.F("aht_seconds"), Eps);
        var counted = expected.Offered - expected.AbandonedShort;
        Assert.Equal(counted == 0 ? double.NaN : (double)expected.AnsweredWithinSl / counted, row["service_level"] is null ? double.NaN : row.F("service_level"), Eps);
    }

    private static void AssertAgent(AgentDay expected, Dictionary<string, object?> row)
    {
        Assert.Equal(expected.Calls, row.L("calls"));
        Assert.Equal(expected.Missed, row.L("missed_calls"));
        Assert.Equal(expected.Logins, row.L("logins"));
        Assert.Equal(expected.Talk, row.F("talk_seconds"), Eps);
        Assert.Equal(expected.WrapUp, row.F("wrap_up_seconds"), Eps);
        Assert.Equal(expected.State(AgentState.Ready), row.F("available_seconds"), Eps);
        Assert.Equal(expected.State(AgentState.Ringing), row.F("ringing_seconds"), Eps);
        Assert.Equal(expected.State(AgentState.OnCall), row.F("in_call_seconds"), Eps);
        Assert.Equal(expected.State(AgentState.WrapUp), row.F("wrap_up_state_seconds"), Eps);
        Assert.Equal(expected.State(AgentState.Paused), row.F("paused_seconds"), Eps);
        Assert.Equal(expected.StateSeconds.Values.Sum(), row.F("logged_in_seconds"), Eps);
        var byReason = System.Text.Json.JsonDocument.Parse(row["pause_by_reason"]!.ToString()!).RootElement;
        Assert.Equal(expected.PausedByReason.Count, byReason.EnumerateObject().Count());
        foreach (var (reason, seconds) in expected.PausedByReason)
        {
            Assert.Equal(seconds, byReason.GetProperty(reason).GetDouble(), Eps);
        }
    }

    /// <summary>Monday to Sunday: three queues, eight agents on two shifts, traffic 08:00–20:00.</summary>
    private static SimulationScenario Week(int seed)
    {
        var pinHash = AgentPin.Hash("0000", iterations: 1);
        string[] queues = ["sales", "support", "billing"];
        var shape = Enumerable.Range(0, 24).Select(h => h is >= 8 and < 20 ? (h is 10 or 11 or 15 ? 1.5 : 1.0) : 0.0).ToList();
        var agents = new List<SimulatedAgent>();
        var profiles = new List<AgentProfile>();
        for (var i = 0; i < 8; i++)
        {
            var id = $"wk{i:D2}";
            var early = i % 2 == 0;
            var shifts = new List<Shift>();
            var breaks = new List<Break>();
            for (var day = 0; day < 7; day++)
            {
                var start = TimeSpan.FromDays(day) + TimeSpan.FromHours(early ? 8 : 12);
                shifts.Add(new Shift(start, start + TimeSpan.FromHours(8)));
                breaks.Add(new Break(start + TimeSpan.FromHours(4) + TimeSpan.FromMinutes(i), TimeSpan.FromMinutes(30), "lunch"));
                if ((day + i) % 3 == 0)
                {
                    breaks.Add(new Break(start + TimeSpan.FromHours(2), TimeSpan.FromMinutes(15), "training"));
                }
            }

            agents.Add(new SimulatedAgent(id, "0000", "ext" + id, shifts) { Breaks = breaks });
            profiles.Add(new AgentProfile
            {
                AgentId = id,
                PinHash = pinHash,
                Queues = [new QueueMembership(queues[i % 3]), new QueueMembership(queues[(i + 1) % 3], 1)],
            });
        }

        return new SimulationScenario
        {
            Acd = new AcdConfiguration
            {
                Queues = [.. queues.Select(q => new QueueConfiguration
                {
                    Name = q,
                    Strategy = q == "sales" ? "rrmemory" : "leastrecent",
                    WrapUp = TimeSpan.FromSeconds(20),
                    RingTimeout = TimeSpan.FromSeconds(15),
                    Experience = new CallerExperience { PositionAnnouncementPeriod = TimeSpan.FromSeconds(60) },
                })],
                Agents = profiles,
                AutoPauseAfterConsecutiveNoAnswers = 0,
            },
            Start = Monday,
            Duration = TimeSpan.FromDays(7),
            Traffic = [.. queues.Select(q => new CallTraffic
            {
                Queue = q,
                CallsPerHour = 18,
                HourlyShape = shape,
                TalkTime = Distribution.LogNormal(170, 60),
                Patience = Distribution.Exponential(150),
            })],
            Agents = agents,
            AnswerDelay = Distribution.Uniform(1, 5),
            NoAnswerProbability = 0.03,
            Seed = seed,
            RecordEvents = true,
        };
    }

    private sealed class QueueDay
    {
        public long Offered { get; set; }

        public long Answered { get; set; }

        public long AnsweredWithinSl { get; set; }

        public long Abandoned { get; set; }

        public long AbandonedShort { get; set; }

        public long Overflowed { get; set; }

        public double LongestWait { get; set; }

        public double WaitAnswered { get; set; }

        public long Handled { get; set; }

        public double HandleSum { get; set; }

        public static QueueDay Sum(IEnumerable<QueueDay> days)
        {
            var sum = new QueueDay();
            foreach (var d in days)
            {
                sum.Offered += d.Offered;
                sum.Answered += d.Answered;
                sum.AnsweredWithinSl += d.AnsweredWithinSl;
                sum.Abandoned += d.Abandoned;
                sum.AbandonedShort += d.AbandonedShort;
                sum.Overflowed += d.Overflowed;
                sum.LongestWait = Math.Max(sum.LongestWait, d.LongestWait);
                sum.WaitAnswered += d.WaitAnswered;
                sum.Handled += d.Handled;
                sum.HandleSum += d.HandleSum;
            }

            return sum;
        }
    }

    private sealed class AgentDay
    {
        public long Calls { get; set; }

        public long Missed { get; set; }

        public long Logins { get; set; }

        public double Talk { get; set; }

        public double WrapUp { get; set; }

        public Dictionary<AgentState, double> StateSeconds { get; } = [];

        public Dictionary<string, double> PausedByReason { get; } = new(StringComparer.Ordinal);

        public double State(AgentState state) => StateSeconds.GetValueOrDefault(state);

        public static AgentDay Sum(IEnumerable<AgentDay> days)
        {
            var sum = new AgentDay();
            foreach (var d in days)
            {
                sum.Calls += d.Calls;
                sum.Missed += d.Missed;
                sum.Logins += d.Logins;
                sum.Talk += d.Talk;
                sum.WrapUp += d.WrapUp;
                foreach (var (state, seconds) in d.StateSeconds)
                {
                    sum.StateSeconds[state] = sum.State(state) + seconds;
                }

                foreach (var (reason, seconds) in d.PausedByReason)
                {
                    sum.PausedByReason[reason] = sum.PausedByReason.GetValueOrDefault(reason) + seconds;
                }
            }

            return sum;
        }
    }

    /// <summary>Daily figures counted from the engine's events alone, by the rules of docs/metrics.md.</summary>
    private sealed record Recount(Dictionary<(DateTime Day, string Queue), QueueDay> Queues, Dictionary<(DateTime Day, string Agent), AgentDay> Agents)
    {
        public static Recount From(IReadOnlyList<AcdEvent> events, DateTimeOffset end, double sl, double shortAbandon)
        {
            var queues = new Dictionary<(DateTime, string), QueueDay>();
            var agents = new Dictionary<(DateTime, string), AgentDay>();
            QueueDay Q(DateTimeOffset at, string queue) => Get(queues, (at.UtcDateTime.Date, queue));
            AgentDay A(DateTimeOffset at, string agent) => Get(agents, (at.UtcDateTime.Date, agent));
            var answers = new Dictionary<(string Call, string Agent), CallAnswered>();
            var states = new Dictionary<string, AgentStateChanged>(StringComparer.Ordinal);

            foreach (var e in events)
            {
                switch (e)
                {
                    case QueueVisitEnded visit:
                    {
                        // Queue figures count visits by entry time; every visit ends exactly once.
                        var day = Q(visit.EnqueuedAt, visit.Queue);
                        var wait = visit.Wait.TotalSeconds;
                        day.Offered++;
                        day.LongestWait = Math.Max(day.LongestWait, wait);
                        switch (visit)
                        {
                            case CallAnswered answered:
                                day.Answered++;
                                day.WaitAnswered += wait;
                                day.AnsweredWithinSl += wait <= sl ? 1 : 0;
                                answers[(answered.CallId, answered.AgentId)] = answered;
                                A(answered.EnqueuedAt + answered.Wait, answered.AgentId).Calls++;
                                break;
                            case CallAbandoned:
                                day.Abandoned++;
                                day.AbandonedShort += wait < shortAbandon ? 1 : 0;
                                break;
                            case CallOverflowed:
                                day.Overflowed++;
                                break;
                        }

                        break;
                    }

                    case CallHandlingEnded handled:
                    {
                        // Handling figures belong to the answer: its queue day (by entry) and agent day (by answer).
                        var answer = answers[(handled.CallId, handled.AgentId)];
                        var queueDay = Q(answer.EnqueuedAt, answer.Queue);
                        queueDay.Handled++;
                        queueDay.HandleSum += (handled.Talk + handled.Hold + handled.WrapUp).TotalSeconds;
                        var agentDay = A(answer.EnqueuedAt + answer.Wait, handled.AgentId);
                        agentDay.Talk += handled.Talk.TotalSeconds;
                        agentDay.WrapUp += handled.WrapUp.TotalSeconds;
                        break;
                    }

                    case CallOfferEnded { End: OfferEnd.RingTimeout or OfferEnd.Declined } missed:
                        A(missed.At, missed.AgentId).Missed++;
                        break;
                    case AgentStateChanged change:
                    {
                        if (states.TryGetValue(change.AgentId, out var previous))
                        {
                            AddState(previous, change.At);
                        }

                        if (change.From == AgentState.LoggedOut && change.To != AgentState.LoggedOut)
                        {
                            A(change.At, change.AgentId).Logins++;
                        }

                        states[change.AgentId] = change;
                        break;
                    }
                }
            }

            foreach (var open in states.Values)
            {
                AddState(open, end);
            }

            return new Recount(queues, agents);

            // State time split at UTC midnight, clipped to the run.
            void AddState(AgentStateChanged since, DateTimeOffset until)
            {
                if (since.To == AgentState.LoggedOut)
                {
                    return;
                }

                for (var from = since.At; from < until;)
                {
                    var midnight = new DateTimeOffset(from.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);
                    var to = until < midnight ? until : midnight;
                    var day = A(from, since.AgentId);
                    var seconds = (to - from).TotalSeconds;
                    day.StateSeconds[since.To] = day.State(since.To) + seconds;
                    if (since.To == AgentState.Paused)
                    {
                        day.PausedByReason[since.Reason] = day.PausedByReason.GetValueOrDefault(since.Reason) + seconds;
                    }

                    from = to;
                }
            }
        }

        private static TValue Get<TKey, TValue>(Dictionary<TKey, TValue> map, TKey key)
            where TKey : notnull
            where TValue : new()
        {
            if (!map.TryGetValue(key, out var value))
            {
                map[key] = value = new TValue();
            }

            return value;
        }
    }
}
