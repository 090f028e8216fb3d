using System.CommandLine;
using CtiBridge.Core.Dialer;
using CtiBridge.Data.Dialer;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge campaign put|list|start|pause|stop|recycle</c>: outbound campaigns in the database.</summary>
public static class CampaignCommand
{
    /// <summary>Creates the command with its sub-commands.</summary>
    public static Command Create()
    {
        var command = new Command("campaign", "Create, list, start, pause, stop or recycle outbound campaigns.");
        command.Subcommands.Add(CreatePut());
        command.Subcommands.Add(CreateList());
        foreach (var (name, state, text) in new[]
                 {
                     ("start", CampaignState.Running, "Start dialling the campaign (every CtiBridge instance)."),
                     ("pause", CampaignState.Paused, "Stop placing new calls; calls up are finished."),
                     ("stop", CampaignState.Stopped, "Stop the campaign."),
                 })
        {
            command.Subcommands.Add(CreateState(name, state, text));
        }

        command.Subcommands.Add(CreateRecycle());
        return command;
    }

    private static Command CreatePut()
    {
        var file = new Argument<FileInfo>("file") { Description = "The campaign file (JSON; see docs/dialer.md)." };
        var command = new Command("put", "Create a campaign or replace its settings from a campaign file (checked first; every problem is listed).") { file };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "campaign put", async (dataSource, output, error) =>
        {
            var path = parse.GetValue(file)!;
            CampaignDefinition definition;
            try
            {
                definition = CampaignDefinition.Parse(await File.ReadAllTextAsync(path.FullName, ct));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"campaign put: {path.FullName} cannot be read: {ex.Message}");
                return 2;
            }
            catch (DialerConfigurationException ex)
            {
                await error.WriteLineAsync($"campaign put: {path.Name} is not valid:");
                foreach (var problem in ex.Errors)
                {
                    await error.WriteLineAsync("  " + problem);
                }

                return 2;
            }

            var state = await new CampaignStore(dataSource, TimeProvider.System).PutAsync(definition, DialerCli.Actor, ct);
            await output.WriteLineAsync($"campaign '{definition.Id}' stored ({definition.Mode}, agents of '{definition.AgentGroup}'); it is {state.ToString().ToLowerInvariant()}");
            return 0;
        }, ct));
        return command;
    }

    private static Command CreateList()
    {
        var command = new Command("list", "List campaigns with their state.");
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "campaign list", async (dataSource, output, _) =>
        {
            foreach (var c in await new CampaignStore(dataSource, TimeProvider.System).ListAsync(null, ct))
            {
                await output.WriteLineAsync($"{c.Id,-24} {c.State.ToString().ToLowerInvariant(),-8} {c.Definition.Mode,-12} group {c.Definition.AgentGroup}, updated {c.UpdatedAt:u}");
            }

            return 0;
        }, ct));
        return command;
    }

    private static Command CreateState(string name, CampaignState state, string description)
    {
        var id = new Argument<string>("campaign") { Description = "The campaign id." };
        var command = new Command(name, description) { id };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "campaign " + name, async (dataSource, output, error) =>
        {
            var campaignId = parse.GetValue(id)!;
            if (!await new CampaignStore(dataSource, TimeProvider.System).SetStateAsync(campaignId, state, DialerCli.Actor, ct))
            {
                await error.WriteLineAsync($"campaign {name}: there is no campaign '{campaignId}' (see 'ctibridge campaign list').");
                return 1;
            }

            await output.WriteLineAsync($"campaign '{campaignId}' is {state.ToString().ToLowerInvariant()}");
            return 0;
        }, ct));
        return command;
    }

    private static Command CreateRecycle()
    {
        var id = new Argument<string>("campaign") { Description = "The campaign id." };
        var outcomes = new Option<string>("--outcomes") { Description = "Last outcomes to recycle, comma-separated (e.g. NoAnswer,Busy,Machine).", Required = true };
        var notBefore = new Option<DateTimeOffset?>("--not-before") { Description = "Dial recycled leads from this time (ISO 8601; default now)." };
        var command = new Command("recycle", "Give leads that used all their attempts a new set (never reached or invalid numbers).") { id, outcomes, notBefore };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "campaign recycle", async (dataSource, output, error) =>
        {
            var parsed = new List<CallOutcome>();
            foreach (var text in parse.GetValue(outcomes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!Enum.TryParse<CallOutcome>(text, ignoreCase: true, out var outcome) || int.TryParse(text, out _) || outcome == CallOutcome.InvalidNumber)
                {
                    await error.WriteLineAsync($"campaign recycle: '{text}' is not an outcome that can be recycled; use {string.Join(", ", Enum.GetValues<CallOutcome>().Where(o => o != CallOutcome.InvalidNumber))}.");
                    return 2;
                }

                parsed.Add(outcome);
            }

            var campaignId = parse.GetValue(id)!;
            var count = await new AttemptLog(dataSource, "cli", TimeProvider.System)
                .RecycleAsync(campaignId, parsed, parse.GetValue(notBefore) ?? TimeProvider.System.GetUtcNow(), DialerCli.Actor, ct);
            await output.WriteLineAsync($"campaign '{campaignId}': {count} leads recycled");
            return 0;
        }, ct));
        return command;
    }
}
