using System.CommandLine;
using CtiBridge.Data.Access;
using Npgsql;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge apikey create|revoke|list</c>: manages the HTTP API's keys (every change audited).</summary>
public static class ApiKeyCommand
{
    /// <summary>Creates the command with its sub-commands.</summary>
    public static Command Create()
    {
        var command = new Command("apikey", "Create, revoke or list HTTP API keys.");
        command.Subcommands.Add(CreateCreate());
        command.Subcommands.Add(CreateRevoke());
        command.Subcommands.Add(CreateList());
        return command;
    }

    private static Command CreateCreate()
    {
        var name = new Option<string>("--name") { Description = "A unique name for the key, e.g. crm-prod.", Required = true };
        var role = new Option<string>("--role") { Description = "admin, supervisor, agent, reporting or integration.", Required = true };
        var agent = new Option<string?>("--agent") { Description = "For --role agent: the agent ID the key acts for." };
        var command = new Command("create", "Create a key and print its token (shown once; store it in the client's secret store).") { name, role, agent };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "apikey create", async (dataSource, output, error) =>
        {
            var roleText = parse.GetValue(role)!;
            if (!Enum.TryParse<ApiRole>(roleText, ignoreCase: true, out var parsedRole) || int.TryParse(roleText, out _))
            {
                await error.WriteLineAsync($"apikey create: '{roleText}' is not a role; use one of {string.Join(", ", Enum.GetValues<ApiRole>().Select(r => r.ToString().ToLowerInvariant()))}.");
                return 2;
            }

            try
            {
                var created = await new ApiKeyStore(dataSource, TimeProvider.System).CreateAsync(parse.GetValue(name)!, parsedRole, parse.GetValue(agent), DialerCli.Actor, ct);
                await AuditAsync(dataSource, "apikey create", created.Key.Name, 0, ct);
                await output.WriteLineAsync($"created {created.Key.Role.ToString().ToLowerInvariant()} key '{created.Key.Name}' ({created.Key.Id:N}); its token, shown only now:");
                await output.WriteLineAsync(created.Token);
                return 0;
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                await error.WriteLineAsync($"apikey create: {ex.Message.Split(" (Parameter")[0]}");
                return 1;
            }
        }, ct));
        return command;
    }

    private static Command CreateRevoke()
    {
        var key = new Argument<string>("key") { Description = "The key's id or name." };
        var command = new Command("revoke", "Revoke a key at once: requests with it are refused from now on.") { key };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "apikey revoke", async (dataSource, output, error) =>
        {
            var target = parse.GetValue(key)!;
            var revoked = await new ApiKeyStore(dataSource, TimeProvider.System).RevokeAsync(target, ct);
            await AuditAsync(dataSource, "apikey revoke", target, revoked ? 0 : 1, ct);
            if (!revoked)
            {
                await error.WriteLineAsync($"apikey revoke: no active key has the id or name '{target}'.");
                return 1;
            }

            await output.WriteLineAsync($"revoked '{target}'");
            return 0;
        }, ct));
        return command;
    }

    private static Command CreateList()
    {
        var all = new Option<bool>("--all") { Description = "Include revoked keys." };
        var command = new Command("list", "List keys (never their tokens).") { all };
        var database = CliDatabase.AddTo(command);
        command.SetAction((parse, ct) => DialerCli.WithDatabaseAsync(parse, database, "apikey list", async (dataSource, output, _) =>
        {
            foreach (var k in await new ApiKeyStore(dataSource, TimeProvider.System).ListAsync(parse.GetValue(all), ct))
            {
                var state = k.RevokedAt is { } revokedAt ? $"revoked {revokedAt:u}" : k.LastUsedAt is { } used ? $"last used {used:u}" : "never used";
                await output.WriteLineAsync($"{k.Id:N}  {k.Name,-24} {k.Role.ToString().ToLowerInvariant(),-11} {k.AgentId ?? "-",-8} created {k.CreatedAt:u} by {k.CreatedBy}; {state}");
            }

            return 0;
        }, ct));
        return command;
    }

    private static Task AuditAsync(NpgsqlDataSource dataSource, string action, string target, int outcome, CancellationToken ct) =>
        new AuditLog(dataSource).WriteAsync(new AuditEntry(TimeProvider.System.GetUtcNow(), DialerCli.Actor, "admin", action, target, outcome, null), ct);
}
