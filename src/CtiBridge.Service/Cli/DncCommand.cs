using System.CommandLine;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;
using Npgsql;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge dnc request|approve|reject|list</c>: the do-not-call lists and their approval workflow.</summary>
public static class DncCommand
{
    /// <summary>Creates the command with its sub-commands.</summary>
    public static Command Create()
    {
        var command = new Command("dnc", "Do-not-call lists: request a change, approve or reject it (a supervisor other than the requester), list requests.");
        command.Subcommands.Add(CreateRequest());
        command.Subcommands.Add(CreateDecide("approve", approve: true));
        command.Subcommands.Add(CreateDecide("reject", approve: false));
        command.Subcommands.Add(CreateList());
        return command;
    }

    private static Command CreateRequest()
    {
        var action = new Argument<string>("action") { Description = "add or remove." };
        var number = new Argument<string>("number") { Description = "The phone number (normalised with --country)." };
        var campaign = new Option<string?>("--campaign") { Description = "The campaign's own list (default: the global list)." };
        var reason = new Option<string>("--reason") { Description = "Why (who asked, on which call).", Required = true };
        var country = new Option<string>("--country") { Description = "Country calling code for numbers written without one.", DefaultValueFactory = _ => "1" };
        var command = new Command("request", "Ask for a number to be added to or removed from a do-not-call list (takes effect when a supervisor approves).")
        {
            action, number, campaign, reason, country,
        };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "dnc request", async (dataSource, output, error) =>
        {
            var actionText = parse.GetValue(action)!;
            if (actionText is not ("add" or "remove"))
            {
                await error.WriteLineAsync($"dnc request: '{actionText}' is not add or remove.");
                return 2;
            }

            if (!PhoneNumberNormalizer.IsCountryCode(parse.GetValue(country)))
            {
                await error.WriteLineAsync($"dnc request: --country '{parse.GetValue(country)}' is not a country calling code (1-3 digits).");
                return 2;
            }

            var e164 = new PhoneNumberNormalizer(parse.GetValue(country)!).Normalize(parse.GetValue(number), out var problem);
            if (e164 is null)
            {
                await error.WriteLineAsync($"dnc request: {problem}.");
                return 2;
            }

            try
            {
                var request = await new DoNotCallList(dataSource, TimeProvider.System).RequestAsync(
                    actionText == "add" ? DoNotCallAction.Add : DoNotCallAction.Remove, parse.GetValue(campaign) ?? DoNotCallList.GlobalScope,
                    e164, parse.GetValue(reason)!, DialerCli.Actor, ct);
                await output.WriteLineAsync($"request {request.Id}: {actionText} {e164} ({(request.Scope == DoNotCallList.GlobalScope ? "global list" : "campaign " + request.Scope)}) is waiting for a supervisor");
                return 0;
            }
            catch (DoNotCallException ex)
            {
                await error.WriteLineAsync($"dnc request: {ex.Message}.");
                return 1;
            }
        }, ct));
        return command;
    }

    private static Command CreateDecide(string name, bool approve)
    {
        var id = new Argument<long>("request") { Description = "The request id." };
        var note = new Option<string?>("--note") { Description = "The supervisor's note." };
        var command = new Command(name, approve ? "Approve a pending request: the list changes now." : "Reject a pending request: the list stays as it is.") { id, note };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "dnc " + name, async (dataSource, output, error) =>
        {
            try
            {
                var request = await new DoNotCallList(dataSource, TimeProvider.System).DecideAsync(parse.GetValue(id), approve, DialerCli.Actor, parse.GetValue(note), ct);
                await output.WriteLineAsync($"request {request.Id} ({request.Action.ToString().ToLowerInvariant()} {request.PhoneNumber}) {request.Status.ToString().ToLowerInvariant()}");
                return 0;
            }
            catch (DoNotCallException ex)
            {
                await error.WriteLineAsync($"dnc {name}: {ex.Message}.");
                return 1;
            }
        }, ct));
        return command;
    }

    private static Command CreateList()
    {
        var pending = new Option<bool>("--pending") { Description = "Only requests waiting for a supervisor." };
        var command = new Command("list", "List do-not-call requests and decisions (the audit of every list change).") { pending };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "dnc list", async (dataSource, output, _) =>
        {
            var list = await new DoNotCallList(dataSource, TimeProvider.System).ListAsync(null, parse.GetValue(pending) ? DoNotCallRequestStatus.Pending : null, ct);
            foreach (var r in list)
            {
                var decision = r.DecidedBy is null ? "pending" : $"{r.Status.ToString().ToLowerInvariant()} by {r.DecidedBy} {r.DecidedAt:u}{(r.DecisionNote is null ? string.Empty : $" ({r.DecisionNote})")}";
                await output.WriteLineAsync($"{r.Id,6} {r.Action.ToString().ToLowerInvariant(),-6} {r.PhoneNumber,-16} {(r.Scope == DoNotCallList.GlobalScope ? "global" : r.Scope),-16} by {r.RequestedBy} {r.RequestedAt:u} '{r.Reason}': {decision}");
            }

            return 0;
        }, ct));
        return command;
    }
}

/// <summary>What the commands on the database share (the dialer's first; callbacks, customers and API keys too): who the actor is and how the database is opened.</summary>
internal static class DialerCli
{
    /// <summary>The actor recorded for command-line changes.</summary>
    public static string Actor => $"cli:{Environment.UserName}";

    public static async Task<int> WithDatabaseAsync(ParseResult parse, CliDatabase database, string name, Func<NpgsqlDataSource, TextWriter, TextWriter, Task<int>> run, CancellationToken ct)
    {
        var error = parse.InvocationConfiguration.Error;
        var dataSource = database.Open(parse, error, name);
        if (dataSource is null)
        {
            return 2;
        }

        await using (dataSource)
        {
            try
            {
                return await run(dataSource, parse.InvocationConfiguration.Output, error);
            }
            catch (NpgsqlException ex)
            {
                await error.WriteLineAsync($"{name}: cannot reach the database: {ex.Message}");
                return 1;
            }
        }
    }
}
