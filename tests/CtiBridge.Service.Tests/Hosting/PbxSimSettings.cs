using CtiBridge.PbxSim;
using CtiBridge.Service.Configuration;

namespace CtiBridge.Service.Tests.Hosting;

/// <summary>Starts an in-process PbxSim on loopback ports and describes it as ctibridge.json would.</summary>
public static class PbxSimSettings
{
    /// <summary>
    /// Environment variable: seconds a desk phone with no script rings before it answers in every PbxSim the tests
    /// start (PbxSim's default is 1 s). Running the tests with another value (e.g. 0.05 or 4) finds the tests that
    /// silently count on the default; docs/testing.md.
    /// </summary>
    public const string UnscriptedAnswerVariable = "CTIBRIDGE_TEST_PHONE_ANSWER_SECONDS";

    /// <summary>A started simulator with its default users (ctibridge / ctibridge-secret), on <paramref name="time"/> (default the real clock).</summary>
    public static async Task<PbxSimulator> StartAsync(PbxSimOptions? options = null, TimeProvider? time = null)
    {
        options ??= new PbxSimOptions();
        options.AmiPort = 0;
        options.AriPort = 0;
        if (Environment.GetEnvironmentVariable(UnscriptedAnswerVariable) is { Length: > 0 } seconds)
        {
            options.UnscriptedPhoneAnswersAfter = double.TryParse(seconds, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s >= 0
                ? TimeSpan.FromSeconds(s)
                : throw new InvalidOperationException($"{UnscriptedAnswerVariable}='{seconds}': expected seconds, a number >= 0 (e.g. 0.05 or 4)");
        }

        var sim = new PbxSimulator(options, time);
        await sim.StartAsync();
        return sim;
    }

    /// <summary>The asterisk[] entry pointing at <paramref name="sim"/>.</summary>
    public static AsteriskServerSettings For(PbxSimulator sim, string name = "pbx1", string amiSecret = "ctibridge-secret", string ariPassword = "ctibridge-secret") => new()
    {
        Name = name,
        Ami = new AmiEndpointSettings { Host = "127.0.0.1", Port = sim.AmiEndPoint.Port, Username = "ctibridge", Secret = amiSecret },
        Ari = new AriEndpointSettings { BaseUrl = $"http://127.0.0.1:{sim.AriEndPoint.Port}/ari", Username = "ctibridge", Password = ariPassword },
    };

    /// <summary>A service configuration on a loopback port of its own, for one database and one Asterisk.</summary>
    public static CtiBridgeSettings Service(string connectionString, AsteriskServerSettings asterisk) => new()
    {
        Database = new DatabaseSettings { ConnectionString = connectionString },
        Http = new HttpSettings { Urls = "http://127.0.0.1:0" },
        Asterisk = [asterisk],
        Logging = new LogSettings { Level = "Warning" },
    };
}
