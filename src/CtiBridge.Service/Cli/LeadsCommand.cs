using System.CommandLine;
using CtiBridge.Data.Dialer;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge leads move|assign</c>: reassign leads between campaigns and between agents.</summary>
public static class LeadsCommand
{
    /// <summary>Creates the command with its sub-commands.</summary>
    public static Command Create()
    {
        var command = new Command("leads", "Reassign leads: move them to another campaign, or give them to another agent.");
        command.Subcommands.Add(CreateMove());
        command.Subcommands.Add(CreateAssign());
        return command;
    }

    /// <summary>The options that select leads (at least one is needed).</summary>
    private sealed class Selection
    {
        public Option<long[]> Leads { get; } = new("--lead") { Description = "A lead id (repeatable).", AllowMultipleArgumentsPerToken = true };

        public Option<string?> Owner { get; } = new("--owner") { Description = "Leads owned by this agent." };

        public Option<string[]> Statuses { get; } = new("--status") { Description = $"Leads in this state (repeatable: {string.Join(", ", LeadSelection.KnownStatuses)}).", AllowMultipleArgumentsPerToken = true };

        public void AddTo(Command command)
        {
            command.Options.Add(Leads);
            command.Options.Add(Owner);
            command.Options.Add(Statuses);
        }

        public LeadSelection Read(ParseResult parse) => new()
        {
            LeadIds = parse.GetValue(Leads) is { Length: > 0 } ids ? ids : null,
            OwnedBy = parse.GetValue(Owner),
            Statuses = parse.GetValue(Statuses) is { Length: > 0 } states ? states : null,
        };
    }

    private static Command CreateMove()
    {
        var from = new Option<string>("--from") { Description = "The campaign the leads are in.", Required = true };
        var to = new Option<string>("--to") { Description = "The campaign to move them to.", Required = true };
        var keepOwner = new Option<bool>("--keep-owner") { Description = "Keep each lead's agent (default: moved leads belong to nobody)." };
        var selection = new Selection();
        var command = new Command("move", "Move leads to another campaign: they start afresh there (open, no attempts); their attempts stay recorded. Leads in a call now, invalid numbers and numbers the target already has stay.") { from, to, keepOwner };
        selection.AddTo(command);
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "leads move", async (dataSource, output, error) =>
        {
            LeadReassignmentReport report;
            try
            {
                report = await new LeadReassignment(dataSource, TimeProvider.System)
                    .MoveToCampaignAsync(parse.GetValue(from)!, parse.GetValue(to)!, selection.Read(parse), parse.GetValue(keepOwner), DialerCli.Actor, ct);
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync($"leads move: {Reason(ex)}");
                return 2;
            }

            await output.WriteLineAsync($"{report.Changed} leads moved from '{parse.GetValue(from)}' to '{parse.GetValue(to)}'");
            return await ReportNotChangedAsync("leads move", report, error);
        }, ct));
        return command;
    }

    private static Command CreateAssign()
    {
        var campaign = new Option<string>("--campaign") { Description = "The campaign the leads are in.", Required = true };
        var toAgent = new Option<string?>("--to-agent") { Description = "The agent who gets the leads (preview mode shows them only to that agent)." };
        var unassign = new Option<bool>("--unassign") { Description = "Give the leads to nobody (back in the pool)." };
        var selection = new Selection();
        var command = new Command("assign", "Give leads of a campaign to another agent (e.g. an agent's own leads to a colleague), or to nobody.") { campaign, toAgent, unassign };
        selection.AddTo(command);
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "leads assign", async (dataSource, output, error) =>
        {
            var agent = parse.GetValue(toAgent);
            if ((agent is null) == !parse.GetValue(unassign))
            {
                await error.WriteLineAsync("leads assign: give either --to-agent AGENT or --unassign.");
                return 2;
            }

            LeadReassignmentReport report;
            try
            {
                report = await new LeadReassignment(dataSource, TimeProvider.System)
                    .AssignAsync(parse.GetValue(campaign)!, selection.Read(parse), agent, DialerCli.Actor, ct);
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync($"leads assign: {Reason(ex)}");
                return 2;
            }

            await output.WriteLineAsync(agent is null ? $"{report.Changed} leads given to nobody" : $"{report.Changed} leads given to agent {agent}");
            return await ReportNotChangedAsync("leads assign", report, error);
        }, ct));
        return command;
    }

    /// <summary>The message without the parameter name .NET appends.</summary>
    private static string Reason(ArgumentException ex) => ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal);

    private static async Task<int> ReportNotChangedAsync(string name, LeadReassignmentReport report, TextWriter error)
    {
        foreach (var lead in report.NotChanged)
        {
            await error.WriteLineAsync($"{name}: lead {lead.LeadId} not changed: {lead.Reason switch
            {
                "in_call" => "it is being dialled or shown to an agent now (try again after the call)",
                "invalid_number" => "its number is invalid (it is never dialled again)",
                "duplicate" => "the target campaign already has its number",
                "not_found" => "no such lead in the campaign",
                var other => other,
            }}");
        }

        return report.NotChanged.Count == 0 ? 0 : 1;
    }
}
