using System.Globalization;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using CtiBridge.PbxSim;
using CtiBridge.Service.Dialer;
using CtiBridge.TestSupport;
using Npgsql;

namespace CtiBridge.Service.Tests.Dialer;

/// <summary>
/// Predictive mode gives up a line that has rung the 15 s legal minimum when at most one agent would be free for its
/// answer (<see cref="DialPlan.GivenUp"/>), end to end through the service's dialer and PbxSim on one fake clock
/// (<see cref="SteppedClock"/>). The campaign rings 30 s, so the give-up is what ends the line at 15 s; one agent,
/// so at most one is ever free. The campaign first warms up (six people answered and served, progressive) until
/// predictive is in effect; then the lead under test is imported. A no-answer is retried after 60 s, an abandon after 120 s.
/// </summary>
[Trait("Tier", "PbxSim")]
public sealed class GiveUpAtMinimumRingTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 15, 0, 0, TimeSpan.Zero);
    private const string Application = "dialer-giveup";
    private const string AgentPhone = "4101";
    private const int WarmUpLeads = 6;

    private readonly SteppedClock _clock = new(Start - TimeSpan.FromSeconds(30));
    private FakeClockDialers _floor = null!;
    private OutboundDialer _dialer = null!;
    private string _campaign = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TestDatabase Database => _floor.Database;

    private PbxSimulator Pbx => _floor.Pbx;

    public async ValueTask InitializeAsync() =>
        _floor = await FakeClockDialers.StartAsync("giveup", _clock, pbxOnTheClock: true, [Application], [AgentPhone], abandonMessage: TimeSpan.FromSeconds(3));

    public ValueTask DisposeAsync() => _floor.DisposeAsync();

    private static string WarmUpNumber(int i) => string.Create(CultureInfo.InvariantCulture, $"+1212555{i:D4}");

    private const string LeadNumber = "+14155550999";

    private Task WaitAsync(Func<bool> done, string what) =>
        BoundedWait.WaitUntilAsync(() => Task.FromResult(done()), $"{what} (at {_clock.GetUtcNow():O}, step {_floor.Steps})", TimeSpan.FromSeconds(120),
            async () => await SummaryAsync(), TimeSpan.FromMilliseconds(2));

    /// <summary>
    /// Moves the clock from one scheduled instant to the next, each time once nothing is in flight (or, when
    /// <paramref name="heldRequests"/> is given, once that many ARI requests wait at PbxSim's gate), until <paramref name="done"/>.
    /// </summary>
    private Task DriveAsync(string what, Func<Task<bool>> done, TimeSpan fakeLimit, int? heldRequests = null) =>
        _floor.DriveAsync(_clock, what, done, _clock.GetUtcNow() + fakeLimit, SummaryAsync, Ct,
            // With requests held: once the held ones are all the dialer has in hand.
            settledWhen: heldRequests is { } held ? () => Pbx.AriRequestsHeld >= held && _dialer.Activity.Pending <= Pbx.AriRequestsHeld : null);

    private Task<long> CountAsync(string sql) => _floor.CountAsync(sql, Ct);

    private Task<string> SummaryAsync() => Database.ScalarAsync<string>($"""
        SELECT coalesce((SELECT string_agg(format('%s %s dialed=%s ended=%s %s abandoned=%s', call_id, phone_number, dialed_at, ended_at, outcome, abandoned), E'\n' ORDER BY attempt_id)
                         FROM dialer_attempts WHERE campaign_id = '{_campaign}'), '')
            || E'\nledger: ' || coalesce((SELECT string_agg(format('%s %s %s ring=%s', call_id, kind, at, ring_ms), '; ' ORDER BY at) FROM dialer_ledger WHERE campaign_id = '{_campaign}'), '')
        """, Ct);

    private sealed record Attempt(string CallId, DateTimeOffset DialedAt, DateTimeOffset? EndedAt, string? Outcome, bool Abandoned);

    private async Task<List<Attempt>> AttemptsOfAsync(string number)
    {
        var list = new List<Attempt>();
        await using var command = Database.DataSource.CreateCommand(
            "SELECT call_id, dialed_at, ended_at, outcome, abandoned FROM dialer_attempts WHERE campaign_id = $1 AND phone_number = $2 ORDER BY attempt_id");
        command.Parameters.AddWithValue(_campaign);
        command.Parameters.AddWithValue(number);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            list.Add(new Attempt(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetBoolean(4)));
        }

        return list;
    }

    /// <summary>
    /// The campaign (predictive, 30 s ring timeout, one agent), warmed up until predictive is in effect and the agent
    /// is idle again; then the lead under test, whose customer is <paramref name="kind"/> answering after
    /// <paramref name="ringSeconds"/>, is imported.
    /// </summary>
    private async Task StartWarmedUpAsync(DialledCustomerKind kind, double ringSeconds, double? amdSeconds = null, double talkSeconds = 5, string campaignExtra = "")
    {
        Pbx.DialledCustomers = new DialledCustomers
        {
            RingSeconds = 1, TalkSeconds = 2 + (amdSeconds ?? 0), AmdSeconds = amdSeconds ?? 2.5,
            Numbers = Enumerable.Range(0, WarmUpLeads).ToDictionary(i => WarmUpNumber(i)[1..], _ => DialledCustomerKind.Person, StringComparer.Ordinal),
        };
        _campaign = "giveup" + Guid.NewGuid().ToString("N")[..6];
        var store = new CampaignStore(Database.DataSource, TimeProvider.System);
        await store.PutAsync(CampaignDefinition.Parse($$"""
            { {{campaignExtra}} "id": "{{_campaign}}", "agentGroup": "sales", "mode": "Predictive", "predictiveWarmUpCalls": 0, "maxAbandonRate": 0.5,
              "callerId": "+18005550100", "callerName": "Acme", "trunkPrefix": "PJSIP/carrier/",
              "start": "{{Start.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}}", "maxConcurrentLines": 4, "maxAttempts": 3,
              "retrySeconds": { "noAnswer": 60, "abandoned": 120 },
              "abandonMessage": "acme-abandon", "ringTimeoutSeconds": 30, "wrapUpSeconds": 1,
              "defaultTimeZone": "UTC", "windows": { "*": ["00:00-24:00"] } }
            """), "test", Ct);
        await ImportAsync(Enumerable.Range(0, WarmUpLeads).Select(WarmUpNumber), "warm-up.csv");
        await store.SetStateAsync(_campaign, CampaignState.Running, "test", Ct);

        _dialer = await _floor.StartDialerAsync(Application, "giveup-a", settings =>
        {
            settings.PlanIntervalSeconds = 1;
            settings.CampaignRefreshSeconds = 5;
            settings.AmdContext = amdSeconds is null ? null : settings.AmdContext; // AMD only where the test asks for it
        }, Ct);
        await BoundedWait.WaitUntilAsync(async () => (await _dialer.GetStatsAsync(Ct)).Any(s => s.CampaignId == _campaign), "the dialer to start the campaign", TimeSpan.FromSeconds(60));
        await WaitAsync(_floor.Quiet, "the dialer to settle after its start");
        var joined = await _dialer.JoinAsync(_campaign, "7101", "PJSIP/" + AgentPhone, Ct);
        Assert.True(joined is null, $"agent 7101: {joined}");

        // Six people answered, served and their talks ended (the estimator's minimum), the agent idle again.
        await DriveAsync("the warm-up", async () =>
            (await _dialer.GetStatsAsync(Ct)).Any(s => s.CampaignId == _campaign && s.EffectiveMode == DialingMode.Predictive && s.AgentsIdle == 1 && s.Lines == 0)
            && await CountAsync($"SELECT count(*) FROM dialer_leads WHERE campaign_id = '{_campaign}' AND status = 'open'") == 0,
            TimeSpan.FromMinutes(10));
        Assert.Equal(WarmUpLeads, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND kind = 'LiveAnswerConnected'"));

        Pbx.DialledCustomers = new DialledCustomers
        {
            RingSeconds = ringSeconds, TalkSeconds = talkSeconds + (amdSeconds ?? 0), AmdSeconds = amdSeconds ?? 2.5,
            Numbers = new(StringComparer.Ordinal) { [LeadNumber[1..]] = kind },
        };
        await ImportAsync([LeadNumber], "lead.csv");
    }

    private Task ImportAsync(IEnumerable<string> numbers, string file) =>
        _floor.ImportAsync(_campaign, numbers.Select(n => (n, $"Customer {n}")), file, Ct);

    [Fact]
    public async Task Predictive_LineRungFifteenSecondsWithOneAgentFree_IsGivenUpAsNoAnswer_AndRetriedLater()
    {
        await StartWarmedUpAsync(DialledCustomerKind.NoAnswer, ringSeconds: 1);

        // Until the second attempt is given up too (nothing left up when the host stops).
        await DriveAsync("the lead's second attempt", async () => (await AttemptsOfAsync(LeadNumber)) is { Count: >= 2 } all && all.TrueForAll(a => a.EndedAt is not null), TimeSpan.FromMinutes(5));
        var tries = await AttemptsOfAsync(LeadNumber);
        var first = tries[0];
        Assert.Equal("NoAnswer", first.Outcome);
        var rang = first.EndedAt!.Value - first.DialedAt;

        // Given up at the first round after the 15 s minimum, well before the 30 s ring timeout.
        Assert.InRange(rang, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(16));
        Assert.False(first.Abandoned);
        var ringMs = await Database.ScalarAsync<int>($"SELECT ring_ms FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{first.CallId}' AND kind = 'Unanswered' AND outcome = 'NoAnswer'", Ct);
        Assert.Equal((int)rang.TotalMilliseconds, ringMs);
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND kind = 'Unanswered' AND ring_ms < 15000"));

        // Retried after the no-answer delay, not before, by the first round at or after it.
        Assert.InRange(tries[1].DialedAt, first.EndedAt.Value + TimeSpan.FromSeconds(60), first.EndedAt.Value + TimeSpan.FromSeconds(61));
    }

    private sealed record LeadRow(int Attempts, string Status, DateTimeOffset? NextAttemptAt, string? LastOutcome);

    private async Task<LeadRow> LeadAsync(string number)
    {
        await using var command = Database.DataSource.CreateCommand(
            "SELECT attempts, status, next_attempt_at, last_outcome FROM dialer_leads WHERE campaign_id = $1 AND phone_number = $2");
        command.Parameters.AddWithValue(_campaign);
        command.Parameters.AddWithValue(number);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct), $"no lead {number}");
        return new LeadRow(reader.GetInt32(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

    private async Task<DateTimeOffset?> AnsweredAtAsync(string callId)
    {
        await using var command = Database.DataSource.CreateCommand("SELECT answered_at FROM dialer_attempts WHERE call_id = $1");
        command.Parameters.AddWithValue(callId);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct), $"no attempt {callId}");
        return reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0);
    }

    [Fact]
    public async Task Predictive_PersonAnswersAfterTheGiveUpsHangUpWasSent_StoredAsAnAbandonedLiveAnswerWithoutMessage_LeadRetriedAsAfterAnAbandon()
    {
        // The person answers half a second after the round that gives the line up at 15 s; the give-up's hang-up is
        // held at PbxSim until then, as when Asterisk acts on it late: the answer reaches the dialer after the hang-up
        // was sent. On Asterisk that hang-up is an immediate soft hang-up (docs/dialer.md): nothing can be played.
        await StartWarmedUpAsync(DialledCustomerKind.Person, ringSeconds: 15.5);
        var hold = Pbx.HoldAriRequests((method, path) => method == "DELETE" && path.StartsWith("/ari/channels/", StringComparison.Ordinal));
        try
        {
            await DriveAsync("the line given up, its hang-up held", async () => Pbx.AriRequestsHeld >= 1 && (await AttemptsOfAsync(LeadNumber)) is [{ EndedAt: not null }],
                TimeSpan.FromMinutes(2), heldRequests: 1);
            var givenUp = (await AttemptsOfAsync(LeadNumber)).Single();
            Assert.Equal("NoAnswer", givenUp.Outcome);
            Assert.InRange(givenUp.EndedAt!.Value - givenUp.DialedAt, TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(15.5) - TimeSpan.FromTicks(1));

            // The answer, at 15.5 s of ringing (before the next round).
            _floor.MoveClock(_clock, givenUp.DialedAt + TimeSpan.FromSeconds(15.5));

            // The dialer read the answer and hung up (that hang-up held too).
            await WaitAsync(() => Pbx.AriRequestsHeld >= 2 && Pbx.AriEventsDeliveredTo(Application) == _dialer.Activity.EventsRead, "the dialer to hang up the answered line");
        }
        finally
        {
            hold.Dispose();
        }

        await WaitAsync(_floor.Quiet, "the dialer to settle after the hang-up");
        var attempt = (await AttemptsOfAsync(LeadNumber)).Single();
        var explain = await SummaryAsync();
        var answeredAt = attempt.DialedAt + TimeSpan.FromSeconds(15.5);

        // The ledger, stored: the person is a live answer abandoned (no agent, no connect delay), answered at 15.5 s of
        // ringing, counted once; no message (none could be played), and the give-up's unanswered row stays.
        Assert.True(1 == await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{attempt.CallId}' AND kind = 'Abandoned' AND connect_delay_ms IS NULL AND ring_ms = 15500"), explain);
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND kind = 'Abandoned'"));
        Assert.Equal(WarmUpLeads + 1, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND kind IN ('LiveAnswerConnected', 'Abandoned')"));
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{attempt.CallId}' AND kind = 'MessagePlayed'"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{attempt.CallId}' AND kind = 'Unanswered'"));

        // The attempt as it really ended: a person answered, abandoned, at the answer; the lead retried as after an abandon.
        Assert.True(attempt is { Outcome: "HumanAnswer", Abandoned: true }, explain);
        Assert.Equal(answeredAt, await AnsweredAtAsync(attempt.CallId));
        Assert.Equal(answeredAt, attempt.EndedAt);
        Assert.Equal(new LeadRow(1, "open", answeredAt + TimeSpan.FromSeconds(120), "HumanAnswer"), await LeadAsync(LeadNumber));
        Assert.Equal("abandoned", await Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{attempt.CallId}'", Ct));

        // And in the dialer's own figures and rate.
        var stats = (await _dialer.GetStatsAsync(Ct)).Single(s => s.CampaignId == _campaign);
        Assert.Equal(1, stats.Abandons);
        Assert.Equal(WarmUpLeads + 1, stats.LiveAnswers);
        Assert.Equal(1.0 / (WarmUpLeads + 1), stats.AbandonRate, 6);
        Assert.Equal(WarmUpLeads + 1, stats.AbandonWindowLiveAnswers);
    }

    [Fact]
    public async Task Predictive_PersonAnswersWhileTheRoundThatWouldGiveTheLineUpRuns_LineNotGivenUp_ThePersonHearsTheAbandonMessage()
    {
        // The round at 15 s of ringing waits for the campaign's lock (held here, as a busy database would make it wait);
        // meanwhile the agent hangs up and the person answers, and the dialer reads both. The round must not give the
        // line up: the person then waits the 2 s for an agent and hears the abandon message, as any abandoned live answer.
        await StartWarmedUpAsync(DialledCustomerKind.Person, ringSeconds: 15.2, talkSeconds: 60);
        await DriveAsync("the lead's line to ring 14 s", async () => (await AttemptsOfAsync(LeadNumber)) is [{ EndedAt: null } ringing] && _clock.GetUtcNow() >= ringing.DialedAt + TimeSpan.FromSeconds(14),
            TimeSpan.FromMinutes(2));
        var dialled = (await AttemptsOfAsync(LeadNumber)).Single();
        Assert.Equal(dialled.DialedAt + TimeSpan.FromSeconds(15), _clock.NextDue); // the round that would give it up

        await using (var blocker = await Database.DataSource.OpenConnectionAsync(Ct))
        {
            await using var transaction = await blocker.BeginTransactionAsync(Ct);
            await using (var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", blocker, transaction))
            {
                take.Parameters.AddWithValue("ctibridge-dialer-campaign:" + _campaign);
                await take.ExecuteNonQueryAsync(Ct);
            }

            _floor.MoveClock(_clock, dialled.DialedAt + TimeSpan.FromSeconds(15));
            await BoundedWait.WaitUntilAsync(
                async () => await CountAsync("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") >= 1,
                "the round at 15 s to wait for the campaign's lock", TimeSpan.FromSeconds(60));

            var read = _dialer.Activity.EventsRead;
            Pbx.Phone(AgentPhone).Hangup();
            _floor.MoveClock(_clock, dialled.DialedAt + TimeSpan.FromSeconds(15.2));
            await WaitAsync(() => _dialer.Activity.EventsRead > read && Pbx.AriEventsDeliveredTo(Application) == _dialer.Activity.EventsRead, "the dialer to read the agent's hang-up and the answer");
            await transaction.CommitAsync(Ct);
        }

        await DriveAsync("the lead's attempt to end", async () => (await AttemptsOfAsync(LeadNumber)) is [{ EndedAt: not null }], TimeSpan.FromMinutes(2));
        var attempt = (await AttemptsOfAsync(LeadNumber)).Single();
        var explain = await SummaryAsync();
        var answeredAt = attempt.DialedAt + TimeSpan.FromSeconds(15.2);

        // Not given up: answered, abandoned after the 2 s connect deadline, and the message played to its end (3 s) before
        // the dialer hung up.
        Assert.True(attempt is { Outcome: "HumanAnswer", Abandoned: true }, explain);
        Assert.Equal(answeredAt, await AnsweredAtAsync(attempt.CallId));
        Assert.True(attempt.EndedAt >= answeredAt + TimeSpan.FromSeconds(5), explain);
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{attempt.CallId}' AND kind = 'Unanswered'"));
        Assert.True(1 == await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{attempt.CallId}' AND kind = 'Abandoned' AND ring_ms = 15200"), explain);
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND kind = 'Abandoned'"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{attempt.CallId}' AND kind = 'MessagePlayed' AND message = 'acme-abandon' AND at = '{answeredAt + TimeSpan.FromSeconds(2):O}'"));
        Assert.Equal(new LeadRow(1, "open", attempt.EndedAt + TimeSpan.FromSeconds(120), "HumanAnswer"), await LeadAsync(LeadNumber));
        Assert.Equal("abandoned", await Database.ScalarAsync<string>($"SELECT disposition FROM calls WHERE call_id = '{attempt.CallId}'", Ct));
    }

    [Fact]
    public async Task Predictive_GiveUpTurnedOff_LineRingsToTheRingTimeout()
    {
        await StartWarmedUpAsync(DialledCustomerKind.NoAnswer, ringSeconds: 1, campaignExtra: """ "giveUpUnanswered": false, """);

        await DriveAsync("the lead's first attempt to end", async () => (await AttemptsOfAsync(LeadNumber)) is [{ EndedAt: not null }, ..], TimeSpan.FromMinutes(2));
        var first = (await AttemptsOfAsync(LeadNumber))[0];
        var explain = await SummaryAsync();

        // Rang to the 30 s ring timeout at PbxSim, which ended it (no answer), with the one agent idle all along.
        Assert.True(first.Outcome == "NoAnswer", explain);
        Assert.InRange(first.EndedAt!.Value - first.DialedAt, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(31));
        Assert.Equal(30000, await Database.ScalarAsync<int>($"SELECT ring_ms FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{first.CallId}' AND kind = 'Unanswered'", Ct));
    }

    [Fact]
    public async Task Predictive_AnsweredLineUnderAnsweringMachineDetectionAtFifteenSeconds_IsNotGivenUp_ThePersonIsServed()
    {
        // Answered at 13 s; AMD listens 4 s, so at the 15 s round the line is answered but still "ringing" to pacing.
        await StartWarmedUpAsync(DialledCustomerKind.Person, ringSeconds: 13, amdSeconds: 4);

        await DriveAsync("the lead's attempt to end", async () => (await AttemptsOfAsync(LeadNumber)) is [{ EndedAt: not null }], TimeSpan.FromMinutes(2));
        var attempt = (await AttemptsOfAsync(LeadNumber)).Single();
        var explain = await SummaryAsync();
        Assert.True(attempt.Outcome == "HumanAnswer", explain);
        Assert.False(attempt.Abandoned, explain);
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_attempts WHERE call_id = '{attempt.CallId}' AND agent_connected_at IS NOT NULL"));
        Assert.Equal(1, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{attempt.CallId}' AND kind = 'LiveAnswerConnected'"));
        Assert.Equal(0, await CountAsync($"SELECT count(*) FROM dialer_ledger WHERE campaign_id = '{_campaign}' AND call_id = '{attempt.CallId}' AND kind = 'Unanswered'"));
    }
}
