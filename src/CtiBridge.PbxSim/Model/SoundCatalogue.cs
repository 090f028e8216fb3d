namespace CtiBridge.PbxSim.Model;

/// <summary>Sound files PbxSim can "play", with their lengths (Asterisk's core sounds, measured).</summary>
internal sealed class SoundCatalogue
{
    private readonly Dictionary<string, double> _seconds;

    public SoundCatalogue(Dictionary<string, double>? configured)
    {
        _seconds = configured is not null
            ? new Dictionary<string, double>(configured, StringComparer.Ordinal)
            : new Dictionary<string, double>(StringComparer.Ordinal)
            {
                // hello-world: 1.42 s between STREAM_BEGIN and STREAM_END in originate-agent.
                ["hello-world"] = 1.42,
                ["beep"] = 0.44,
                ["vm-intro"] = 3.2,
                ["goodbye"] = 0.9,
                ["queue-thankyou"] = 1.9,
                ["pls-hold-while-try"] = 2.3,
                ["agent-loginok"] = 1.0,
                ["agent-loggedoff"] = 1.1,
                ["tt-monkeys"] = 9.9,
            };
    }

    public bool Exists(string name) => _seconds.ContainsKey(Strip(name));

    /// <summary>Length of a <c>&amp;</c>-separated list of sounds; unknown sounds play for 0 s (Asterisk skips them).</summary>
    public TimeSpan Length(string files)
    {
        var total = 0.0;

        // ARI joins several media URIs with commas; Playback() joins files with &.
        foreach (var file in files.Split(['&', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = file.IndexOf(':', StringComparison.Ordinal);
            var scheme = colon > 0 ? file[..colon] : "sound";
            total += scheme switch
            {
                // say.c speaks a number or digits as one short file per digit.
                "number" or "digits" or "characters" => 0.5 * Math.Max(1, file.Length - colon - 1),
                _ => _seconds.GetValueOrDefault(Strip(file)),
            };
        }

        return TimeSpan.FromSeconds(total);
    }

    public IEnumerable<string> Names => _seconds.Keys;

    private static string Strip(string name) => name.StartsWith("sound:", StringComparison.Ordinal) ? name[6..] : name;
}
