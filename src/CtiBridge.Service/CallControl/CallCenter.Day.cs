using CtiBridge.Core.Acd;
using CtiBridge.Data.Records;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// The live statistics' "today" (docs/metrics.md §2): the day of the reports, local midnight to local
/// midnight in <c>reports.time_zone</c>. At start and at an HA takeover the day's figures come from the
/// call records (<see cref="LiveDayFigures"/>), so a restart does not lose them; at local midnight a
/// timer starts the next day. So the wallboard, <c>GET /api/queues</c> and <c>/metrics</c> show the
/// same day totals as the daily SQL reports.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>How long start-up waits for the day's figures before going on without them.</summary>
    internal static readonly TimeSpan DayLoadTimeout = TimeSpan.FromSeconds(10);

    // UTC (reports.time_zone's default) until the database says otherwise.
    private TimeZoneInfo _dayZone = TimeZoneInfo.Utc;
    private ITimer? _dayTimer;

    /// <summary>Where today's figures and the reports' time zone come from (null: no database; the day is cut in UTC and starts empty).</summary>
    internal LiveDayFigures? DayFigures { get; init; }

    /// <summary>The zone in which the live day is cut.</summary>
    internal TimeZoneInfo DayZone => _dayZone;

    /// <summary>The targets the wallboard colours against: the database's settings once read at start, else the defaults.</summary>
    public MetricTargets Targets { get; private set; } = MetricTargets.Default;

    /// <summary>
    /// Reads today's figures from the call records into the live statistics, before <see cref="Start"/>
    /// (the loop does not run yet, so nothing else touches them). A database that does not answer within
    /// <see cref="DayLoadTimeout"/> does not hold call control back: the statistics then count from
    /// this start, and the log says so. Never throws: stopping meanwhile just ends the wait.
    /// </summary>
    internal async Task LoadStatisticsDayAsync(CancellationToken cancellationToken)
    {
        if (DayFigures is null || _started)
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DayLoadTimeout);
        try
        {
            // Servers split between instances: this instance's queues count its own servers' calls only.
            var day = await DayFigures.LoadAsync(_time.GetUtcNow(), _controlled, timeout.Token).ConfigureAwait(false);
            _engine.Statistics.Seed(day.Seed);
            _dayZone = day.Zone;
            Targets = day.Targets;
            LogDayLoaded(_logger, day.Seed.PeriodStart, day.TimeZoneId, day.Seed.Queues.Sum(q => q.Offered), day.Seed.Agents.Count);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping (or the lease lost) meanwhile: the caller's own path ends call control.
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException or OperationCanceledException)
        {
            LogDayNotLoaded(_logger, _engine.Statistics.PeriodStart, ex.Message);
        }
    }

    /// <summary>Arms the midnight timer (from <see cref="Start"/>).</summary>
    private void StartDay()
    {
        _dayTimer = _time.CreateTimer(_ => _work.Writer.TryWrite(new DayWork()), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ArmDay(_lastAt);
    }

    private void ArmDay(DateTimeOffset at)
    {
        var due = ReportDay.NextStartAfter(at, _dayZone) - at;
        _dayTimer?.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The midnight timer fired (on the loop): a new day starts when the engine's time is in it.</summary>
    private void OnDayTimer(DateTimeOffset at)
    {
        var start = ReportDay.StartOf(at, _dayZone);
        if (start > _engine.Statistics.PeriodStart)
        {
            _engine.Statistics.StartPeriod(start);
            LogDayStarted(_logger, start, _dayZone.Id);
        }

        // Early by a little (the engine's time trails a stepped wall clock): armed again for the same midnight.
        ArmDay(at);
    }

    private sealed record DayWork : Work;

    [LoggerMessage(EventId = 2150, Level = LogLevel.Information, Message = "Live statistics: today since {DayStart} ({TimeZone}) read from the call records: {Offered} queue visits, {Agents} agents")]
    private static partial void LogDayLoaded(ILogger logger, DateTimeOffset dayStart, string timeZone, int offered, int agents);

    [LoggerMessage(EventId = 2151, Level = LogLevel.Warning, Message = "Live statistics: today's figures could not be read from the call records ({Reason}); the wallboard counts from {Since}, not from midnight, until the next day starts")]
    private static partial void LogDayNotLoaded(ILogger logger, DateTimeOffset since, string reason);

    [LoggerMessage(EventId = 2152, Level = LogLevel.Information, Message = "Live statistics: a new day starts at {DayStart} ({TimeZone}); today's figures start from zero")]
    private static partial void LogDayStarted(ILogger logger, DateTimeOffset dayStart, string timeZone);
}
