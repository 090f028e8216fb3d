using System.CommandLine;
using System.Text;
using CtiBridge.Data.Dialer;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge import leads</c>: loads data files into CtiBridge (other kinds of import are sub-commands here too).</summary>
public static class ImportCommand
{
    /// <summary>Creates the command with its sub-commands.</summary>
    public static Command Create()
    {
        var command = new Command("import", "Import data files.");
        command.Subcommands.Add(CreateLeads());
        command.Subcommands.Add(ImportAsteriskQueuesCommand.Create());
        return command;
    }

    private static Command CreateLeads()
    {
        var campaign = new Option<string>("--campaign") { Description = "The campaign the leads belong to.", Required = true };
        var file = new Argument<FileInfo>("file") { Description = "CSV with a header line; a 'phone' column is required (see docs/dialer.md)." };
        var skipBad = new Option<bool>("--skip-bad") { Description = "Import the good rows even when some are bad (default: any bad row imports nothing)." };
        var rejects = new Option<FileInfo?>("--rejects") { Description = "Reject file to write (default: FILE.rejects.csv next to the input when a row is not taken)." };
        var command = new Command("leads", "Import leads into a campaign from CSV: numbers normalised to E.164, bad rows reported with line and column and written to a reject file, duplicates and do-not-call numbers set aside.")
        {
            campaign, file, skipBad, rejects,
        };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "import leads", async (dataSource, output, error) =>
        {
            var input = parse.GetValue(file)!;
            if (!input.Exists)
            {
                await error.WriteLineAsync($"import leads: {input.FullName} does not exist.");
                return 2;
            }

            var rejectFile = parse.GetValue(rejects) ?? new FileInfo(Path.ChangeExtension(input.FullName, null) + ".rejects.csv");
            var rejectText = new StringWriter();
            var importer = new LeadImporter(dataSource, new CampaignStore(dataSource, TimeProvider.System), TimeProvider.System);
            LeadImportReport report;
            try
            {
                // Invalid UTF-8 is an error naming where (LeadImportException), not silently replaced characters.
                using var reader = new StreamReader(input.FullName, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
                report = await importer.ImportAsync(parse.GetValue(campaign)!, reader, new LeadImportOptions
                {
                    FileName = input.Name,
                    ImportedBy = DialerCli.Actor,
                    SkipBadRows = parse.GetValue(skipBad),
                    RejectWriter = rejectText,
                }, ct);
            }
            catch (LeadImportException ex)
            {
                await error.WriteLineAsync($"import leads: {ex.Message}");
                return 2;
            }

            foreach (var reject in report.Rejects)
            {
                await error.WriteLineAsync(reject.Describe(input.Name));
            }

            if (report.Rejects.Count > 0)
            {
                await File.WriteAllTextAsync(rejectFile.FullName, rejectText.ToString(), ct);
            }

            var summary = $"{input.Name}: {report.RowsRead} rows read, {report.Imported} leads imported, {report.Invalid} invalid, {report.Duplicates} duplicates, {report.DoNotCallHits} on do-not-call (import {report.ImportId})";
            await output.WriteLineAsync(summary);
            if (report.Rejects.Count > 0)
            {
                await output.WriteLineAsync($"rows not taken were written to {rejectFile.FullName}");
            }

            if (!report.Committed)
            {
                await error.WriteLineAsync($"import leads: nothing was imported because {report.Invalid} rows are invalid; fix them or pass --skip-bad.");
                return 1;
            }

            return 0;
        }, ct));
        return command;
    }
}
