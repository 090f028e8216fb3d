using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace CtiBridge.PbxSim;

/// <summary>pbxsim: an Asterisk 22 stand-in on loopback for the demo and manual testing (see docs/pbxsim.md).</summary>
internal static class PbxSimProgram
{
    public static async Task<int> Main(string[] args)
    {
        var configPath = (string?)null;
        int? amiPort = null, ariPort = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Length:
                    configPath = args[++i];
                    break;
                case "--ami-port" when i + 1 < args.Length && int.TryParse(args[i + 1], out var a):
                    amiPort = a;
                    i++;
                    break;
                case "--ari-port" when i + 1 < args.Length && int.TryParse(args[i + 1], out var r):
                    ariPort = r;
                    i++;
                    break;
                default:
                    Console.Error.WriteLine($"pbxsim: unknown or incomplete argument '{args[i]}'. Usage: pbxsim [--config pbxsim.json] [--ami-port 5038] [--ari-port 8088]");
                    return 2;
            }
        }

        PbxSimConfig config;
        try
        {
            config = configPath is null
                ? new PbxSimConfig()
                : JsonSerializer.Deserialize<PbxSimConfig>(File.ReadAllText(configPath), PbxSimConfig.JsonOptions) ?? new PbxSimConfig();
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"pbxsim: cannot read configuration {configPath}: {ex.Message}");
            return 2;
        }

        config.PbxSim.AmiPort = amiPort ?? config.PbxSim.AmiPort;
        config.PbxSim.AriPort = ariPort ?? config.PbxSim.AriPort;
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };

        await using var sim = new PbxSimulator(config.PbxSim, TimeProvider.System, loggerFactory);
        await sim.StartAsync(stop.Token);
        if (config.DialledCustomers is not null)
        {
            sim.DialledCustomers = config.DialledCustomers;
        }

        Console.WriteLine($"pbxsim: Asterisk {PbxSimulator.AsteriskVersion} emulator: AMI on {sim.AmiEndPoint}, ARI on http://{sim.AriEndPoint}/ari");
        if (config.Traffic is not null)
        {
            sim.StartTraffic(config.Traffic);
            Console.WriteLine($"pbxsim: inbound traffic on trunk {config.Traffic.Trunk}: {config.Traffic.CallsPerSecond} calls/s, up to {config.Traffic.MaxCalls} calls");
        }

        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
