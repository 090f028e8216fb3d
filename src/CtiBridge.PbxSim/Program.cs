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

        if (config.BehaviourProblems().Concat(config.PbxSim.Problems()).ToList() is { Count: > 0 } problems)
        {
            Console.Error.WriteLine($"pbxsim: configuration {configPath} has {problems.Count} problem(s):");
            problems.ForEach(p => Console.Error.WriteLine("  " + p));
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

        if (config.DeskPhones is { } phones)
        {
            var count = phones.ApplyTo(sim);
            Console.WriteLine($"pbxsim: {count} desk phone(s) answer after {phones.AnswerMinSeconds}-{phones.AnswerMaxSeconds} s"
                + (phones.TalkMinSeconds > 0 ? $" and hang up after {phones.TalkMinSeconds}-{Math.Max(phones.TalkMinSeconds, phones.TalkMaxSeconds)} s of talk" : string.Empty));
        }

        if (config.DialerPhones is { } dialerPhones)
        {
            var count = dialerPhones.ApplyTo(sim, nailedUp: true);
            Console.WriteLine($"pbxsim: {count} dialer agent phone(s) ({string.Join(", ", dialerPhones.Endpoints)}) answer after {dialerPhones.AnswerMinSeconds}-{dialerPhones.AnswerMaxSeconds} s and keep the nailed-up line up"
                + (dialerPhones.TalkMinSeconds > 0 ? $"; each customer's talk ends after {dialerPhones.TalkMinSeconds}-{Math.Max(dialerPhones.TalkMinSeconds, dialerPhones.TalkMaxSeconds)} s" : string.Empty));
        }

        Console.WriteLine($"pbxsim: Asterisk {PbxSimulator.AsteriskVersion} emulator: AMI on {sim.AmiEndPoint}, ARI on http://{sim.AriEndPoint}/ari");
        if (config.Traffic is { } traffic)
        {
            sim.StartTraffic(traffic);
            var numbers = traffic.Numbers.Count > 0 ? string.Join(", ", traffic.Numbers) : traffic.Number;
            Console.WriteLine($"pbxsim: inbound traffic on trunk {traffic.Trunk} to {numbers}: {traffic.CallsPerSecond} calls/s, up to {traffic.MaxCalls} calls"
                + (traffic.StartWhenAppRegistered is { Length: > 0 } app ? $", starting once Stasis app '{app}' is registered" : string.Empty)
                + (traffic.CallbackKeyShare > 0 ? $"; {traffic.CallbackKeyShare:P0} of waiting callers press {traffic.CallbackKey} for a callback" : string.Empty));
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
