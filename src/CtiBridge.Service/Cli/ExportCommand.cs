using System.CommandLine;
using CtiBridge.Data.Exports;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge export &lt;report|calls|queue_log&gt; --format csv|sql --from --to</c>: streams records to standard output.</summary>
public static class ExportCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var what = new Argument<string>("what") { Description = "calls, queue_log (Asterisk queue_log format), or a report name (" + string.Join(", ", ReportCatalog.All.Select(r => r.Name)) + ")." };
        var command = new Command("export", "Stream calls, queue_log or a report to standard output (constant memory; redirect to a file).") { what };
        var options = RecordCliOptions.AddTo(command);
        var database = CliDatabase.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var parameters = options.Parameters(parse, error, "export");
            var format = options.ExportFormat(parse, error, "export");
            if (parameters is null || format is null)
            {
                return 2;
            }

            var target = parse.GetValue(what)!;
            var isCalls = string.Equals(target, "calls", StringComparison.OrdinalIgnoreCase);
            var isQueueLog = string.Equals(target, "queue_log", StringComparison.OrdinalIgnoreCase);
            if (!isCalls && !isQueueLog && !ReportCatalog.All.Any(r => string.Equals(r.Name, target, StringComparison.OrdinalIgnoreCase)))
            {
                await error.WriteLineAsync($"export: unknown export '{target}'; use calls, queue_log or a report: {string.Join(", ", ReportCatalog.All.Select(r => r.Name))}").ConfigureAwait(false);
                return 2;
            }

            if ((isCalls || isQueueLog) && (parameters.Interval ?? parameters.Queue ?? parameters.Agent) is not null)
            {
                await error.WriteLineAsync($"export: --interval, --queue and --agent apply to reports, not to {target}").ConfigureAwait(false);
                return 2;
            }

            if (isQueueLog && format == ExportFormat.Sql)
            {
                await error.WriteLineAsync("export: queue_log is written in Asterisk's own format; drop --format sql").ConfigureAwait(false);
                return 2;
            }

            var dataSource = database.Open(parse, error, "export");
            if (dataSource is null)
            {
                return 2;
            }

            var output = RecordCliRun.Output(parse.InvocationConfiguration.Output, out var owned);
            try
            {
                await using (dataSource.ConfigureAwait(false))
                {
                    var exporter = new RecordExporter(dataSource);
                    return await RecordCliRun.RunAsync("export", error, () =>
                        isCalls ? exporter.ExportCallsAsync(parameters.From, parameters.To, format.Value, output, cancellationToken)
                        : isQueueLog ? exporter.ExportQueueLogAsync(parameters.From, parameters.To, output, cancellationToken)
                        : exporter.ExportReportAsync(target, parameters, format.Value, output, cancellationToken)).ConfigureAwait(false);
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
