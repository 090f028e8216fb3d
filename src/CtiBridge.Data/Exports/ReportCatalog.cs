using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.Exports;

/// <summary>The parameters a report can take. Which ones a report uses is listed in <see cref="ReportDefinition"/>.</summary>
public sealed record ReportParameters
{
    /// <summary>Window start (inclusive).</summary>
    public required DateTimeOffset From { get; init; }
    /// <summary>Window end (exclusive).</summary>
    public required DateTimeOffset To { get; init; }
    /// <summary>15m, 30m, 1h, 1d, 1w or 1mo.</summary>
    public string? Interval { get; init; }
    /// <summary>Only this queue.</summary>
    public string? Queue { get; init; }
    /// <summary>Only this agent.</summary>
    public string? Agent { get; init; }
    /// <summary>Only this dialer campaign.</summary>
    public string? Campaign { get; init; }
}

/// <summary>A named report: the SQL function behind it and the parameters it takes.</summary>
public sealed record ReportDefinition(string Name, string Function, string Description, bool TakesInterval, bool TakesQueue, bool TakesAgent, string? DefaultInterval)
{
    /// <summary>The report can be filtered by dialer campaign (<c>p_campaign</c>).</summary>
    public bool TakesCampaign { get; init; }
}

/// <summary>The reports of docs/reports.md by name, for the CLI and exports.</summary>
public static class ReportCatalog
{
    /// <summary>Every report.</summary>
    public static IReadOnlyList<ReportDefinition> All { get; } =
    [
        new("queue-traffic", "report_queue_traffic", "Interval traffic per queue: offered, answered, abandons, SL, ASA, AHT, D-01/D-03", true, true, false, "1h"),
        new("centre-traffic", "report_centre_traffic", "Centre-level calls by disposition, answer rate D-01, customer loss rate D-03", true, false, false, "1d"),
        new("agent-activity", "report_agent_activity", "Per agent: logins, state time, pause by reason, calls, AHT, occupancy D-04, calls/hour D-14, missed, ranking", true, true, true, "1d"),
        new("agent-state-log", "report_agent_state_log", "Agent state log (示忙示闲记录)", false, false, true, null),
        new("abandon-curve", "report_abandon_curve", "Abandons by wait bucket (10 s)", false, true, false, null),
        new("satisfaction", "report_satisfaction", "Satisfied share of survey answers per interval against target", true, true, true, "1d"),
        new("satisfaction-distribution", "report_satisfaction_distribution", "Survey answers per score", false, true, true, null),
        new("caller-origin", "report_caller_origin", "Inbound calls by caller region (number prefix table)", false, true, false, null),
        new("calls-by-hour", "report_calls_by_hour", "Inbound calls by day of week and hour of day", false, true, false, null),
        new("queue-trend", "report_queue_trend", "Week-over-week trend per queue", false, true, false, null),
        new("qa-pass-rate", "report_qa_pass_rate", "QA pass rate (D-11) per queue and month, fatal errors, problems by class", false, true, false, null),
        new("dialer-campaign", "report_dialer_campaign", "Dial attempts per campaign: outcomes, contacts, agent connects, abandons, contact and abandon rate", true, false, false, "1d") { TakesCampaign = true },
        new("dialer-compliance", "report_dialer_compliance", "TSR ledger per campaign and day: abandon rate daily and rolling 30 days, messages, short rings", false, false, false, null) { TakesCampaign = true },
        new("callbacks", "report_callbacks", "Callbacks promised vs kept vs late per queue and source; lost callbacks; abandoned-call compliance with the 10-minute rule (on_time_rate of source abandoned)", true, true, false, "1d"),
    ];

    /// <summary>Finds a report by name.</summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static ReportDefinition Find(string name) =>
        All.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown report '{name}'; known reports: {string.Join(", ", All.Select(r => r.Name))}", nameof(name));

    /// <summary>Builds the command that runs a report; refuses parameters the report does not take.</summary>
    public static NpgsqlCommand CreateCommand(NpgsqlDataSource dataSource, ReportDefinition report, ReportParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Interval is not null && !report.TakesInterval)
        {
            throw new ArgumentException($"report '{report.Name}' has no intervals; drop --interval");
        }

        if (parameters.Queue is not null && !report.TakesQueue)
        {
            throw new ArgumentException($"report '{report.Name}' cannot be filtered by queue; drop --queue");
        }

        if (parameters.Agent is not null && !report.TakesAgent)
        {
            throw new ArgumentException($"report '{report.Name}' cannot be filtered by agent; drop --agent");
        }

        var arguments = new List<string> { "@from", "@to" };
        var command = dataSource.CreateCommand();
        command.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.TimestampTz) { Value = parameters.From.UtcDateTime });
        command.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.TimestampTz) { Value = parameters.To.UtcDateTime });
        if (report.TakesInterval)
        {
            arguments.Add("p_interval => @interval");
            command.Parameters.Add(new NpgsqlParameter("interval", NpgsqlDbType.Text) { Value = parameters.Interval ?? report.DefaultInterval });
        }

        if (report.TakesQueue)
        {
            arguments.Add("p_queue => @queue");
            command.Parameters.Add(new NpgsqlParameter("queue", NpgsqlDbType.Text) { Value = (object?)parameters.Queue ?? DBNull.Value });
        }

        if (report.TakesAgent)
        {
            arguments.Add("p_agent => @agent");
            command.Parameters.Add(new NpgsqlParameter("agent", NpgsqlDbType.Text) { Value = (object?)parameters.Agent ?? DBNull.Value });
        }

        if (parameters.Campaign is not null && !report.TakesCampaign)
        {
            throw new ArgumentException($"report '{report.Name}' cannot be filtered by campaign; drop --campaign");
        }

        if (report.TakesCampaign)
        {
            arguments.Add("p_campaign => @campaign");
            command.Parameters.Add(new NpgsqlParameter("campaign", NpgsqlDbType.Text) { Value = (object?)parameters.Campaign ?? DBNull.Value });
        }

        command.CommandText = $"SELECT * FROM {report.Function}({string.Join(", ", arguments)})";
        return command;
    }
}
