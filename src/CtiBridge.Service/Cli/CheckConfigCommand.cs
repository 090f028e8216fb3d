using System.CommandLine;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Cli;

/// <summary><c>ctibridge check-config</c>: validates ctibridge.json without starting anything.</summary>
public static class CheckConfigCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var config = ConfigOption.Create();
        var command = new Command("check-config", "Check ctibridge.json: prints one line per problem, naming the setting, and exits 1 if there is any.")
        {
            config,
        };
        command.SetAction((parse, _) => Task.FromResult(Run(parse.GetValue(config)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error)));
        return command;
    }

    internal static int Run(string path, TextWriter output, TextWriter error)
    {
        try
        {
            var settings = SettingsLoader.Load(path);
            output.WriteLine($"{path}: configuration is valid ({settings.Asterisk.Count} Asterisk server(s)).");
            return 0;
        }
        catch (SettingsException ex)
        {
            foreach (var problem in ex.Problems)
            {
                error.WriteLine(problem.ToString());
            }

            return 1;
        }
    }
}
