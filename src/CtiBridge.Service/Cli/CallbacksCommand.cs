using System.CommandLine;
using System.Globalization;
using CtiBridge.Core.Callbacks;
using CtiBridge.Data.Callbacks;
using CtiBridge.Service.Callbacks;
using CtiBridge.Service.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace CtiBridge.Service.Cli;

/// <summary>
/// <c>ctibridge callbacks list|add|reschedule|cancel</c>: the callbacks in the database. The command
/// writes the record only; the running service's sweep (every <c>callbacks.sweepInterval</c>) finds a
/// callback that is due and has no Quartz trigger and places it, and call control drops a task whose
/// callback was cancelled here.
/// </summary>
public static class CallbacksCommand
{
    /// <summary>Creates the command with its sub-commands.</summary>
    public static Command Create()
    {
        var command = new Command("callbacks", "List, add, reschedule or cancel callbacks (docs/callbacks.md).");
        command.Subcommands.Add(CreateList());
        command.Subcommands.Add(CreateAdd());
        command.Subcommands.Add(CreateReschedule());
        command.Subcommands.Add(CreateCancel());
        return command;
    }

    private static Command CreateList()
    {
        var state = new Option<string?>("--state") { Description = "Only these states, comma-separated (open = scheduled, due, dialing, retry)." };
        var queue = new Option<string?>("--queue") { Description = "Only this queue." };
        var number = new Option<string?>("--number") { Description = "Only this number." };
        var limit = new Option<int>("--limit") { Description = "At most this many (soonest due first).", DefaultValueFactory = _ => 100 };
        var command = new Command("list", "List callbacks, soonest due first.") { state, queue, number, limit };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "callbacks list", async (dataSource, output, error) =>
        {
            List<CallbackState>? states = null;
            if (parse.GetValue(state) is { Length: > 0 } text)
            {
                states = [];
                foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    try
                    {
                        states.AddRange(name == "open" ? CallbackStates.Open : [CallbackStates.Parse(name)]);
                    }
                    catch (FormatException ex)
                    {
                        await error.WriteLineAsync($"callbacks list: --state: {ex.Message}");
                        return 2;
                    }
                }
            }

            if (parse.GetValue(limit) is < 1 or > 100_000)
            {
                await error.WriteLineAsync($"callbacks list: --limit must be 1 to 100000 (is {parse.GetValue(limit)}).");
                return 2;
            }

            var list = await new CallbackStore(dataSource).ListAsync(
                new CallbackFilter { States = states, Queue = parse.GetValue(queue), Number = parse.GetValue(number), Limit = parse.GetValue(limit) }, ct);
            foreach (var c in list)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{c.Id} {CallbackStates.Name(c.State),-19} {CallbackStates.SourceName(c.Source),-9} {c.Number,-16} {c.Queue,-12} due {c.DueAt:u} attempts {c.Attempts}/{c.MaxAttempts}{(c.OwnerAgentId is null ? string.Empty : " owner " + c.OwnerAgentId)}{(c.Reason is null ? string.Empty : $" '{c.Reason}'")}"));
            }

            return 0;
        }, ct));
        return command;
    }

    private static Command CreateAdd()
    {
        var number = new Argument<string>("number") { Description = "The number to call." };
        var queue = new Option<string>("--queue") { Description = "The queue whose agents serve it.", Required = true };
        var at = new Option<string>("--at") { Description = "When it was promised (ISO 8601, e.g. 2026-12-01T15:00:00+08:00; no offset = UTC).", Required = true };
        var owner = new Option<string?>("--owner") { Description = "The owning agent (default: any agent of the queue)." };
        var reason = new Option<string?>("--reason") { Description = "Why, for the agent." };
        var name = new Option<string?>("--name") { Description = "The customer's name." };
        var customerFirst = new Option<bool>("--customer-first") { Description = "Call the customer first, then the agent (default: the queue's callbackMode in --config, else agent first)." };
        var agentFirst = new Option<bool>("--agent-first") { Description = "Call the agent first, then the customer, whatever the queue's callbackMode." };
        var command = new Command("add", "Schedule a callback (a number with an open callback gets this request merged into it).") { number, queue, at, owner, reason, name, customerFirst, agentFirst };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "callbacks add", async (dataSource, output, error) =>
        {
            if (!TryParseTime(parse.GetValue(at)!, out var due))
            {
                await error.WriteLineAsync($"callbacks add: --at '{parse.GetValue(at)}' is not a time (ISO 8601, e.g. 2026-12-01T15:00:00+08:00).");
                return 2;
            }

            if (parse.GetValue(customerFirst) && parse.GetValue(agentFirst))
            {
                await error.WriteLineAsync("callbacks add: give --customer-first or --agent-first, not both.");
                return 2;
            }

            if (Service(parse, database, dataSource, error) is not { } callbacks)
            {
                return 2;
            }

            try
            {
                var request = CallbackRequest.AgentScheduled(parse.GetValue(number)!, parse.GetValue(queue)!, due, parse.GetValue(owner), parse.GetValue(reason), DialerCli.Actor) with
                {
                    CustomerName = parse.GetValue(name), Mode = parse.GetValue(customerFirst) ? CallbackMode.CustomerFirst : parse.GetValue(agentFirst) ? CallbackMode.AgentFirst : null,
                };
                var ticket = await callbacks.CreateAsync(request, ct);
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"callback {ticket.Callback.Id} to {ticket.Callback.Number} ({ticket.Callback.Queue}) due {ticket.Callback.DueAt:u}{(ticket.Merged ? " (merged into the number's open callback)" : string.Empty)}"));
                return 0;
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync($"callbacks add: {ex.Message.Split(" (Parameter", 2)[0]}");
                return 2;
            }
        }, ct));
        return command;
    }

    private static Command CreateReschedule()
    {
        var id = new Argument<Guid>("callback") { Description = "The callback id." };
        var at = new Option<string>("--at") { Description = "The new due time (ISO 8601).", Required = true };
        var command = new Command("reschedule", "Move an open callback (not one being dialled) to a new due time.") { id, at };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "callbacks reschedule", async (dataSource, output, error) =>
        {
            if (!TryParseTime(parse.GetValue(at)!, out var due))
            {
                await error.WriteLineAsync($"callbacks reschedule: --at '{parse.GetValue(at)}' is not a time (ISO 8601).");
                return 2;
            }

            if (Service(parse, database, dataSource, error) is not { } callbacks)
            {
                return 2;
            }

            if (await callbacks.RescheduleAsync(parse.GetValue(id), due, DialerCli.Actor, ct) is { } moved)
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"callback {moved.Id} due {moved.DueAt:u}"));
                return 0;
            }

            await error.WriteLineAsync($"callbacks reschedule: callback {parse.GetValue(id)} is not open or is being dialled.");
            return 1;
        }, ct));
        return command;
    }

    private static Command CreateCancel()
    {
        var id = new Argument<Guid>("callback") { Description = "The callback id." };
        var reason = new Option<string>("--reason") { Description = "Why (kept in the history).", DefaultValueFactory = _ => "cancelled" };
        var command = new Command("cancel", "Cancel an open callback.") { id, reason };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "callbacks cancel", async (dataSource, output, error) =>
        {
            if (Service(parse, database, dataSource, error) is not { } callbacks)
            {
                return 2;
            }

            if (await callbacks.CancelAsync(parse.GetValue(id), parse.GetValue(reason)!, DialerCli.Actor, ct) is { } moved)
            {
                await output.WriteLineAsync($"callback {moved.Id} cancelled");
                return 0;
            }

            await error.WriteLineAsync($"callbacks cancel: callback {parse.GetValue(id)} is not open (or does not exist).");
            return 1;
        }, ct));
        return command;
    }

    private static bool TryParseTime(string text, out DateTimeOffset at) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out at);

    /// <summary>The callback rules from <c>--config</c> (hours, attempts, queues), else the defaults; no scheduler node (the service's sweep places them).</summary>
    private static CallbackService? Service(ParseResult parse, CliDatabase database, Npgsql.NpgsqlDataSource dataSource, TextWriter error)
    {
        var settings = new CtiBridgeSettings();
        if (parse.GetValue(database.Config) is { } path)
        {
            try
            {
                settings = SettingsLoader.Load(path);
            }
            catch (SettingsException ex)
            {
                error.WriteLine($"callbacks: {path} cannot be used:");
                error.WriteLine(ex.Message);
                return null;
            }
        }

        var queues = settings.CallControl.Queues.Select(q => q.Name).ToHashSet(StringComparer.Ordinal);
        return new CallbackService(new CallbackStore(dataSource), settings.Callbacks.ToPolicy(), TimeProvider.System,
            new RecordOnlyPlacement(), [], NullLogger<CallbackService>.Instance, queues.Count == 0 ? null : queues.Contains,
            queue => CallControl.CallControlConfiguration.QueueCallbackMode(settings.CallControl, queue));
    }

    /// <summary>The command line places nothing: the running service does.</summary>
    private sealed class RecordOnlyPlacement : ICallbackPlacement
    {
        public Task OfferAsync(Callback callback, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task WithdrawAsync(Callback callback, string reason, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
