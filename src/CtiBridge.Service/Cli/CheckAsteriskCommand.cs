using System.CommandLine;
using CtiBridge.Service.AsteriskSetup;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge check-asterisk</c>: checks every configured Asterisk server is set up for CtiBridge.</summary>
public static class CheckAsteriskCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var config = ConfigOption.Create();
        var command = new Command("check-asterisk", "Connect to each configured Asterisk and report, one line per check with a fix hint: AMI reachable, login, permissions, modules, each DID into the Stasis app, ARI, agents' phones, inter-site trunks, the Stasis app. Changes nothing on the PBX.")
        {
            config,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(config)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    internal static async Task<int> RunAsync(string path, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        CtiBridgeSettings settings;
        try
        {
            settings = SettingsLoader.Load(path);
        }
        catch (SettingsException ex)
        {
            foreach (var problem in ex.Problems)
            {
                await error.WriteLineAsync(problem.ToString()).ConfigureAwait(false);
            }

            return 2;
        }

        var failed = false;
        var dids = settings.CallControl.IsEnabled ? settings.CallControl.Dids.Select(d => d.Number).ToList() : [];
        var systemNames = new List<(string Server, string Name)>();
        foreach (var server in settings.Asterisk)
        {
            // Each server is checked for the phones of its own agents (agents[].server; with one server, all of them).
            var agentPhones = settings.CallControl.IsEnabled
                ? settings.CallControl.Agents.Where(a => settings.Asterisk.Count == 1 || string.Equals(a.Server, server.Name, StringComparison.Ordinal)).Select(a => a.Extension).ToList()
                : [];
            var check = new AsteriskSetupCheck(server, agentPhones, dids: dids, severalServers: settings.Asterisk.Count > 1);
            foreach (var result in await check.RunAsync(cancellationToken).ConfigureAwait(false))
            {
                await output.WriteLineAsync(result.ToString()).ConfigureAwait(false);
                failed |= result.Outcome == SetupCheckOutcome.Fail;
            }

            if (check.SystemName is { Length: > 0 } name)
            {
                systemNames.Add((server.Name, name));
            }
        }

        // Two servers with one systemname give out the same channel ids just as two without one do.
        foreach (var shared in systemNames.GroupBy(n => n.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            var servers = string.Join(", ", shared.Select(n => n.Server));
            await output.WriteLineAsync(new SetupCheckResult(shared.First().Server, "system-name", SetupCheckOutcome.Fail,
                $"servers {servers} all have systemname '{shared.Key}': their channel ids can be the same",
                "give each server its own asterisk.conf [options] systemname, then restart Asterisk").ToString()).ConfigureAwait(false);
            failed = true;
        }

        return failed ? 1 : 0;
    }
}
