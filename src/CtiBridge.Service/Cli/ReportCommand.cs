using System.CommandLine;
using System.Globalization;
using CtiBridge.Data.Exports;
using Npgsql;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge report &lt;name&gt; --from --to [--queue] [--agent] [--interval]</c>: runs a report (docs/reports.md) and writes it as CSV.</summary>
public static class ReportCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "Report: " + string.Join(", ", ReportCatalog.All.Select(r => r.Name)) + "." };
        var command = new Command("report", "Run a report (see docs/reports.md) and write it to standard output as CSV (or SQL with --format sql).") { name };
        var options = RecordCliOptions.AddTo(command);
        var database = CliDatabase.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var parameters = options.Parameters(parse, error, "report");
            var format = options.ExportFormat(parse, error, "report");
            if (parameters is null || format is null)
            {
                return 2;
            }

            ReportDefinition report;
            try
            {
                report = ReportCatalog.Find(parse.GetValue(name)!);
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync($"report: {ex.Message.Split(" (Parameter", 2)[0]}").ConfigureAwait(false);
                return 2;
            }

            var dataSource = database.Open(parse, error, "report");
            if (dataSource is null)
            {
                return 2;
            }

            var output = RecordCliRun.Output(parse.InvocationConfiguration.Output, out var owned);
            try
            {
                await using (dataSource.ConfigureAwait(false))
                {
                    return await RecordCliRun.RunAsync("report", error, () =>
                        new RecordExporter(dataSource).ExportReportAsync(report.Name, parameters, format.Value, output, cancellationToken)).ConfigureAwait(false);
                }
            }
            finally
            {
                if (owned)
                {
                    await output.DisposeAsync().ConfigureAwait(false);
                }
            }
        });
        return command;
    }
}

/// <summary>Runs an export and turns its failures into a clear message and an exit code.</summary>
internal static class RecordCliRun
{
    /// <summary>
    /// The writer to export to: the console's own writer flushes on every write, so standard output
    /// gets a buffered UTF-8 (no BOM) writer instead; a writer a test passes in is used as it is.
    /// </summary>
    public static TextWriter Output(TextWriter configured, out bool owned)
    {
        owned = ReferenceEquals(configured, Console.Out);
        return owned ? new StreamWriter(Console.OpenStandardOutput(), RecordExporter.Utf8, 1 << 16) : configured;
    }

    public static async Task<int> RunAsync(string commandName, TextWriter error, Func<Task<long>> export)
    {
        try
        {
            await export().ConfigureAwait(false);
            return 0;
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync($"{commandName}: {ex.Message.Split(" (Parameter", 2)[0]}").ConfigureAwait(false);
            return 2;
        }
        catch (PostgresException ex)
        {
            await error.WriteLineAsync($"{commandName}: {ex.MessageText}").ConfigureAwait(false);
            return 1;
        }
        catch (NpgsqlException ex)
        {
            await error.WriteLineAsync($"{commandName}: cannot reach the database: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}


/// <summary>The window and filter options shared by <c>report</c> and <c>export</c>.</summary>
internal sealed class RecordCliOptions
{
    private RecordCliOptions(Command command)
    {
        From = new Option<string>("--from") { Description = "Window start, ISO 8601 (e.g. 2026-06-01 or 2026-06-01T08:00+08:00; no offset = UTC).", Required = true };
        To = new Option<string>("--to") { Description = "Window end (exclusive), same format.", Required = true };
        Interval = new Option<string?>("--interval") { Description = "Report interval: 15m, 30m, 1h, 1d, 1w or 1mo." };
        Queue = new Option<string?>("--queue") { Description = "Only this queue." };
        Agent = new Option<string?>("--agent") { Description = "Only this agent." };
        Campaign = new Option<string?>("--campaign") { Description = "Only this dialer campaign (dialer reports)." };
        Format = new Option<string>("--format") { Description = "csv (RFC 4180, UTF-8) or sql (INSERT statements).", DefaultValueFactory = _ => "csv" };
        foreach (var option in new Option[] { From, To, Interval, Queue, Agent, Campaign, Format })
        {
            command.Options.Add(option);
        }
    }

    public Option<string> From { get; }

    public Option<string> To { get; }

    public Option<string?> Interval { get; }

    public Option<string?> Queue { get; }

    public Option<string?> Agent { get; }

    public Option<string?> Campaign { get; }

    public Option<string> Format { get; }

    public static RecordCliOptions AddTo(Command command) => new(command);

    /// <summary>The parameters, or null after writing what is wrong to <paramref name="error"/>.</summary>
    public ReportParameters? Parameters(ParseResult parse, TextWriter error, string commandName)
    {
        var from = ParseTime(parse.GetValue(From), "--from", error, commandName);
        var to = ParseTime(parse.GetValue(To), "--to", error, commandName);
        if (from is null || to is null)
        {
            return null;
        }

        if (to <= from)
        {
            error.WriteLine($"{commandName}: --to ({to:O}) must be after --from ({from:O})");
            return null;
        }

        return new ReportParameters { From = from.Value, To = to.Value, Interval = parse.GetValue(Interval), Queue = parse.GetValue(Queue), Agent = parse.GetValue(Agent), Campaign = parse.GetValue(Campaign) };
    }

    /// <summary>The export format, or null after writing what is wrong.</summary>
    public ExportFormat? ExportFormat(ParseResult parse, TextWriter error, string commandName)
    {
        var text = parse.GetValue(Format);
        switch (text?.ToUpperInvariant())
        {
            case "CSV":
                return Data.Exports.ExportFormat.Csv;
            case "SQL":
                return Data.Exports.ExportFormat.Sql;
            default:
                error.WriteLine($"{commandName}: --format '{text}' is not csv or sql");
                return null;
        }
    }

    private static DateTimeOffset? ParseTime(string? text, string option, TextWriter error, string commandName)
    {
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            return value;
        }

        error.WriteLine($"{commandName}: {option} '{text}' is not a date or time (use ISO 8601, e.g. 2026-06-01 or 2026-06-01T08:00:00+08:00)");
        return null;
    }
}
