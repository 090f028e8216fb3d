using System.Globalization;
using System.Text;

namespace CtiBridge.Core.Dialer;

/// <summary>What one ledger row records.</summary>
public enum LedgerEntryKind
{
    /// <summary>A person answered and an agent was connected within the connect deadline.</summary>
    LiveAnswerConnected,

    /// <summary>A person answered and no agent was connected within the deadline (abandoned call).</summary>
    Abandoned,

    /// <summary>A recorded message was played (abandon message, voicemail message or broadcast).</summary>
    MessagePlayed,

    /// <summary>A call that was not answered, with how long it rang.</summary>
    Unanswered,

    /// <summary>An answering machine answered.</summary>
    MachineAnswer,
}

/// <summary>One row of the compliance ledger, as exported for an audit.</summary>
/// <param name="At">When it happened (answer time for live answers, end time for unanswered calls).</param>
/// <param name="Kind">What happened.</param>
/// <param name="CallId">The dialer's call id.</param>
/// <param name="LeadId">The lead dialled.</param>
/// <param name="PhoneNumber">The number dialled (E.164).</param>
/// <param name="ConnectDelay">Live answers: time from the answer to the agent connection (null if none came).</param>
/// <param name="RingTime">Time the call rang before it was answered or given up.</param>
/// <param name="Message">Messages: which recording was played.</param>
/// <param name="Outcome">The call outcome, when known.</param>
public sealed record LedgerEntry(
    DateTimeOffset At,
    LedgerEntryKind Kind,
    string CallId,
    string LeadId,
    string PhoneNumber,
    TimeSpan? ConnectDelay,
    TimeSpan? RingTime,
    string? Message,
    CallOutcome? Outcome);

/// <summary>Abandon counts and rate over one period.</summary>
/// <param name="LiveAnswers">Live answers (connected in time + abandoned) in the period.</param>
/// <param name="Abandons">Abandoned calls in the period.</param>
public readonly record struct AbandonTally(int LiveAnswers, int Abandons)
{
    /// <summary>Abandons / live answers; 0 when nobody answered.</summary>
    public double Rate => LiveAnswers == 0 ? 0 : (double)Abandons / LiveAnswers;
}

/// <summary>
/// The per-campaign compliance ledger: every live answer, every abandon with its connect delay,
/// every message played, and the ring time of every unanswered call, with rolling and
/// campaign-to-date abandon rates. Append-only; the export is in event-time order.
/// </summary>
public sealed class ComplianceLedger
{
    private readonly List<LedgerEntry> _entries = [];

    // Live answers and abandons in time order, for the rolling window (a moving start index).
    private readonly List<(DateTimeOffset At, bool Abandoned)> _liveAnswers = [];
    private int _windowStart;
    private int _windowAbandons;
    private int _totalAbandons;

    // Live answers recorded by other ledgers of the same campaign (other instances, earlier runs),
    // as last read from the database: counted in every rate, never exported from here.
    private AbandonTally _elsewhereToDate;
    private AbandonTally _elsewhereInWindow;

    /// <summary>
    /// Creates an empty ledger for a campaign started at <paramref name="campaignStart"/>; when null,
    /// the campaign's measuring starts with its first recorded row.
    /// </summary>
    public ComplianceLedger(string campaignId, CompliancePolicy policy, DateTimeOffset? campaignStart)
    {
        ArgumentNullException.ThrowIfNull(policy);
        CampaignId = campaignId;
        Policy = policy;
        CampaignStart = campaignStart;
    }

    /// <summary>The campaign this ledger belongs to.</summary>
    public string CampaignId { get; }

    /// <summary>The rules measured.</summary>
    public CompliancePolicy Policy { get; }

    /// <summary>When the campaign's first measuring period began (null until the first row when no start was given).</summary>
    public DateTimeOffset? CampaignStart { get; private set; }

    /// <summary>
    /// Unanswered calls given up as no-answer before the policy's minimum ring time (a dial timeout
    /// set too short somewhere between the dialer and the trunk); zero when the rules were kept.
    /// </summary>
    public int ShortRings { get; private set; }

    /// <summary>Every row so far, in the order they were recorded (late reports keep their own event time).</summary>
    public IReadOnlyList<LedgerEntry> Entries => _entries;

    /// <summary>Live answers and abandons since the campaign began.</summary>
    public AbandonTally CampaignToDate => new(_liveAnswers.Count + _elsewhereToDate.LiveAnswers, _totalAbandons + _elsewhereToDate.Abandons);

    /// <summary>
    /// The campaign's live answers recorded outside this ledger — by other instances dialling the
    /// same campaign and by this instance before a restart — so the abandon rates, and the limit
    /// they enforce, are the campaign's and not one process's. Replaces the previous figures
    /// (call it again whenever they are re-read; the window figure is as of its reading).
    /// </summary>
    /// <param name="toDate">Live answers and abandons since the campaign began, elsewhere.</param>
    /// <param name="inWindow">Those of the current abandon window (the last <see cref="CompliancePolicy.AbandonWindow"/>).</param>
    /// <param name="firstRowAt">The campaign's first ledger row anywhere, which starts its measuring when no start was configured.</param>
    public void SetRecordedElsewhere(AbandonTally toDate, AbandonTally inWindow, DateTimeOffset? firstRowAt)
    {
        if (toDate.LiveAnswers < 0 || toDate.Abandons < 0 || inWindow.LiveAnswers < 0 || inWindow.Abandons < 0
            || toDate.Abandons > toDate.LiveAnswers || inWindow.Abandons > inWindow.LiveAnswers || inWindow.LiveAnswers > toDate.LiveAnswers)
        {
            throw new ArgumentException($"Inconsistent tallies: to date {toDate}, in window {inWindow}.");
        }

        _elsewhereToDate = toDate;
        _elsewhereInWindow = inWindow;
        if (firstRowAt is { } first && (CampaignStart is null || first < CampaignStart))
        {
            CampaignStart = first;
        }
    }

    /// <summary>The figures last given to <see cref="SetRecordedElsewhere"/> (to date, in window).</summary>
    public (AbandonTally ToDate, AbandonTally InWindow) RecordedElsewhere => (_elsewhereToDate, _elsewhereInWindow);

    /// <summary>Records a live answer and how it ended. Returns true when it counts as abandoned.</summary>
    /// <param name="answeredAt">When the person answered (greeting completed).</param>
    /// <param name="connectedAt">When an agent was connected, or null when none was.</param>
    /// <param name="call">The call.</param>
    /// <param name="ringTime">How long it rang before the answer.</param>
    public bool RecordLiveAnswer(DialedCall call, DateTimeOffset answeredAt, DateTimeOffset? connectedAt, TimeSpan ringTime)
    {
        ArgumentNullException.ThrowIfNull(call);
        TimeSpan? delay = connectedAt is { } c ? c - answeredAt : null;
        var abandoned = delay is not { } d || d > Policy.ConnectDeadline;
        Append(new LedgerEntry(answeredAt, abandoned ? LedgerEntryKind.Abandoned : LedgerEntryKind.LiveAnswerConnected,
            call.CallId, call.LeadId, call.PhoneNumber, delay, ringTime, null, CallOutcome.HumanAnswer));
        // A late report (e.g. a lost line released long after its answer) is filed at its answer time.
        var index = _liveAnswers.Count;
        while (index > 0 && _liveAnswers[index - 1].At > answeredAt)
        {
            index--;
        }

        _liveAnswers.Insert(index, (answeredAt, abandoned));
        var inWindow = index >= _windowStart;
        if (!inWindow)
        {
            _windowStart++;
        }

        if (abandoned)
        {
            _totalAbandons++;
            if (inWindow)
            {
                _windowAbandons++;
            }
        }

        return abandoned;
    }

    /// <summary>
    /// Records an answering-machine verdict that turned out to be a person (Ofcom counts these as
    /// abandons); under policies that do not count them it is recorded as a machine answer only.
    /// </summary>
    public void RecordMachineAnswer(DialedCall call, DateTimeOffset answeredAt, TimeSpan ringTime, bool confirmedPerson = false)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (confirmedPerson && Policy.CountsMachineFalsePositives)
        {
            RecordLiveAnswer(call, answeredAt, null, ringTime);
            return;
        }

        Append(new LedgerEntry(answeredAt, LedgerEntryKind.MachineAnswer, call.CallId, call.LeadId, call.PhoneNumber, null, ringTime, null, CallOutcome.Machine));
    }

    /// <summary>Records that a recording was played on the call (abandon message, voicemail, broadcast).</summary>
    public void RecordMessagePlayed(DialedCall call, DateTimeOffset at, string message)
    {
        ArgumentNullException.ThrowIfNull(call);
        Append(new LedgerEntry(at, LedgerEntryKind.MessagePlayed, call.CallId, call.LeadId, call.PhoneNumber, null, null, message, null));
    }

    /// <summary>Records an unanswered call and how long it rang.</summary>
    public void RecordUnanswered(DialedCall call, DateTimeOffset endedAt, TimeSpan ringTime, CallOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (outcome == CallOutcome.NoAnswer && ringTime < Policy.MinimumRingTime)
        {
            ShortRings++;
        }

        Append(new LedgerEntry(endedAt, LedgerEntryKind.Unanswered, call.CallId, call.LeadId, call.PhoneNumber, null, ringTime, null, outcome));
    }

    /// <summary>Live answers and abandons in the rolling window ending at <paramref name="now"/>.</summary>
    public AbandonTally Rolling(DateTimeOffset now)
    {
        var from = now - Policy.AbandonWindow;
        while (_windowStart < _liveAnswers.Count && _liveAnswers[_windowStart].At <= from)
        {
            if (_liveAnswers[_windowStart].Abandoned)
            {
                _windowAbandons--;
            }

            _windowStart++;
        }

        return new(_liveAnswers.Count - _windowStart + _elsewhereInWindow.LiveAnswers, _windowAbandons + _elsewhereInWindow.Abandons);
    }

    /// <summary>
    /// The tally that counts at <paramref name="now"/>: campaign-to-date while the campaign is
    /// younger than the policy window, the rolling window after that.
    /// </summary>
    public AbandonTally Measured(DateTimeOffset now) =>
        CampaignStart is not { } start || now - start < Policy.AbandonWindow ? CampaignToDate : Rolling(now);

    /// <summary>
    /// How many more abandons the campaign can take right now, assuming <paramref name="extraLiveAnswers"/>
    /// more live answers, before the measured rate would go over the limit (negative = already over).
    /// </summary>
    public double AbandonHeadroom(DateTimeOffset now, double extraLiveAnswers = 0)
    {
        var tally = Measured(now);
        var rolling = Rolling(now);
        var limit = Policy.MaxAbandonRate;
        var measured = (limit * (tally.LiveAnswers + extraLiveAnswers)) - tally.Abandons;
        var window = (limit * (rolling.LiveAnswers + extraLiveAnswers)) - rolling.Abandons;
        return Math.Min(measured, window);
    }

    /// <summary>
    /// An abandon budget in whole abandons from <see cref="AbandonsThatFit"/>: rounded down (with a tolerance for
    /// floating-point error, so an exact fit counts), and −1 at the lowest (already over the limit).
    /// </summary>
    public static int WholeAbandons(double abandonsThatFit) => (int)Math.Clamp(Math.Floor(abandonsThatFit + 1e-9), -1, int.MaxValue);

    /// <summary>
    /// How many more abandons fit under the limit of <paramref name="policy"/>, given the measured tally and the
    /// rolling window's, if no other live answer came: an abandon adds one abandon and one live answer, so k more fit
    /// while <c>A + k ≤ limit × (L + k)</c>, i.e. <c>k ≤ (limit × L − A) / (1 − limit)</c> (the smaller of the two
    /// tallies; negative when already over). Several dialer instances share this one figure (docs/dialer.md).
    /// </summary>
    public static double AbandonsThatFit(CompliancePolicy policy, AbandonTally measured, AbandonTally window)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var limit = policy.MaxAbandonRate;
        static double Fit(double limit, AbandonTally tally) => ((limit * tally.LiveAnswers) - tally.Abandons) / (1 - limit);
        return Math.Min(Fit(limit, measured), Fit(limit, window));
    }

    /// <summary>Writes every row as CSV (RFC 4180, invariant culture, UTC ISO 8601 times, seconds with 3 decimals).</summary>
    public void WriteCsv(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write("campaign,at_utc,kind,call_id,lead_id,phone_number,connect_delay_s,ring_time_s,message,outcome,policy\n");
        foreach (var e in _entries.OrderBy(e => e.At))
        {
            var line = string.Join(',',
                Csv(CampaignId),
                e.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                e.Kind.ToString(),
                Csv(e.CallId),
                Csv(e.LeadId),
                Csv(e.PhoneNumber),
                Seconds(e.ConnectDelay),
                Seconds(e.RingTime),
                Csv(e.Message ?? ""),
                e.Outcome?.ToString() ?? "",
                Csv(Policy.Name));
            writer.Write(line);
            writer.Write('\n');
        }
    }

    /// <summary>The CSV export as a string.</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder();
        using var writer = new StringWriter(sb, CultureInfo.InvariantCulture);
        WriteCsv(writer);
        return sb.ToString();
    }

    private void Append(LedgerEntry entry)
    {
        CampaignStart ??= entry.At;
        _entries.Add(entry);
    }

    private static string Seconds(TimeSpan? value) =>
        value is { } v ? v.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) : "";

    private static string Csv(string value) =>
        value.AsSpan().IndexOfAny(",\"\n\r") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
