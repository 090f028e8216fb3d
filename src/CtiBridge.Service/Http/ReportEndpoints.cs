using System.Globalization;
using CtiBridge.Data.Exports;
using Npgsql;

namespace CtiBridge.Service.Http;

/// <summary>
/// <c>/api/reports</c>: the SQL reports of docs/reports.md (the same functions as <c>ctibridge
/// report</c>) as JSON or CSV, for reporting tools and supervisors.
/// </summary>
public static class ReportEndpoints
{
    /// <summary>A report the API can run.</summary>
    /// <param name="Name">Its name in the URL.</param>
    /// <param name="Description">What it shows.</param>
    /// <param name="TakesInterval">Whether <c>interval</c> applies (15m, 30m, 1h, 1d, 1w, 1mo).</param>
    /// <param name="TakesQueue">Whether <c>queue</c> filters it.</param>
    /// <param name="TakesAgent">Whether <c>agent</c> filters it.</param>
    /// <param name="DefaultInterval">The interval when none is given.</param>
    public sealed record ReportInfo(string Name, string Description, bool TakesInterval, bool TakesQueue, bool TakesAgent, string? DefaultInterval);

    /// <summary>Maps the endpoints.</summary>
    public static RouteGroupBuilder MapReportEndpoints(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var reports = api.MapGroup("/reports").RequireAuthorization(ApiRoles.ReadReports).WithTags("reports");
        reports.MapGet("/", () => ReportCatalog.All.Select(r => new ReportInfo(r.Name, r.Description, r.TakesInterval, r.TakesQueue, r.TakesAgent, r.DefaultInterval)).ToList())
            .WithSummary("The reports available.");
        reports.MapGet("/{name}", RunAsync)
            .WithSummary("Run a report over [from, to): JSON rows (format=json, the default) or CSV (format=csv, RFC 4180, UTF-8).")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv");
        return api;
    }

    private static async Task<IResult> RunAsync(
        string name, string? from, string? to, string? interval, string? queue, string? agent, string? format, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var start = Time(from, "from", errors);
        var end = Time(to, "to", errors);
        if (start is { } s && end is { } e && e <= s)
        {
            errors["to"] = [$"'{to}' must be after 'from' ({from})."];
        }

        format ??= "json";
        if (format is not ("json" or "csv"))
        {
            errors["format"] = [$"'{format}' is not json or csv."];
        }

        ReportDefinition? report = null;
        try
        {
            report = ReportCatalog.Find(name);
        }
        catch (ArgumentException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such report", detail: ex.Message.Split(" (Parameter", 2)[0]);
        }

        if (errors.Count > 0)
        {
            return Results.ValidationProblem(errors);
        }

        var parameters = new ReportParameters { From = start!.Value, To = end!.Value, Interval = interval, Queue = queue, Agent = agent };
        try
        {
            if (format == "csv")
            {
                await using var text = new StringWriter(CultureInfo.InvariantCulture);
                await new RecordExporter(dataSource).ExportReportAsync(report.Name, parameters, ExportFormat.Csv, text, ct);
                return Results.Text(text.ToString(), "text/csv; charset=utf-8");
            }

            await using var command = ReportCatalog.CreateCommand(dataSource, report, parameters);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var rows = new List<Dictionary<string, object?>>();
            while (await reader.ReadAsync(ct))
            {
                var row = new Dictionary<string, object?>(reader.FieldCount, StringComparer.Ordinal);
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i) is TimeSpan span ? span.TotalSeconds : reader.GetValue(i);
                }

                rows.Add(row);
            }

            return Results.Ok(rows);
        }
        catch (ArgumentException ex)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad report query", detail: ex.Message.Split(" (Parameter", 2)[0].Replace("drop --", "drop ", StringComparison.Ordinal));
        }
        catch (PostgresException ex) when (ex.SqlState.StartsWith("22", StringComparison.Ordinal) || ex.SqlState == "P0001")
        {
            // Data exceptions and RAISE from the report functions: the parameters were wrong.
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad report query", detail: ex.MessageText);
        }
    }

    private static DateTimeOffset? Time(string? text, string field, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(text))
        {
            errors[field] = ["Required: an ISO 8601 date or time (e.g. 2026-06-01 or 2026-06-01T08:00:00+08:00; no offset = UTC)."];
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            return value;
        }

        errors[field] = [$"'{text}' is not a date or time (use ISO 8601, e.g. 2026-06-01T08:00:00+08:00)."];
        return null;
    }
}
