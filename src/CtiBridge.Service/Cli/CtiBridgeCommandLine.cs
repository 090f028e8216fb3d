using System.CommandLine;

namespace CtiBridge.Service.Cli;

/// <summary>The <c>ctibridge</c> command line: one sub-command per operator task.</summary>
public static class CtiBridgeCommandLine
{
    /// <summary>Builds the root command with every sub-command.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("CtiBridge: call-center middleware for Asterisk (ACD queues, agents, dialer, callbacks, reports).")
        {
            RunCommand.Create(),
            CheckConfigCommand.Create(),
            CheckAsteriskCommand.Create(),
            MigrateCommand.Create(),
            ApiKeyCommand.Create(),
            PinHashCommand.Create(),
            ReportCommand.Create(),
            ExportCommand.Create(),
            QaCommand.Create(),
            CampaignCommand.Create(),
            ImportCommand.Create(),
            DncCommand.Create(),
            CallbacksCommand.Create(),
            LeadsCommand.Create(),
            CustomersCommand.Create(),
            StatusCommands.CreateAgents(),
            StatusCommands.CreateQueues(),
        };
        return root;
    }
}
