namespace CtiBridge.Service.CallControl;

/// <summary>The live statistics' period, for figures added to them from elsewhere (the agents' outbound calls).</summary>
public sealed partial class CallCenter
{
    /// <summary>
    /// Start of the period the live statistics count: the wallboard's "today", local midnight in
    /// <c>reports.time_zone</c> (CallCenter.Day.cs). The agents' outbound calls the wallboard adds are
    /// counted from it too, so inbound and outbound figures cover the same day.
    /// </summary>
    public Task<DateTimeOffset> GetStatisticsPeriodStartAsync(CancellationToken cancellationToken = default) =>
        RequestAsync(_ => _engine.Statistics.PeriodStart, cancellationToken);
}
