namespace CtiBridge.PbxSim.Model;

/// <summary>
/// The telephony model: channels, bridges and the dialplan they run, advanced by timers on the
/// simulator's clock. Every method runs under <see cref="PbxSimulator.Gate"/>.
/// </summary>
internal sealed partial class PbxModel : IDisposable
{
    private readonly PbxSimulator _sim;

    public PbxModel(PbxSimulator simulator)
    {
        _sim = simulator;
    }

    /// <summary>Live channels by name, in creation order.</summary>
    public Dictionary<string, Channel> Channels { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Calls processed since start (Asterisk's "calls processed").</summary>
    public long ProcessedCalls { get; private set; }

    /// <summary>The CLI's <c>core show channels [concise]</c> output lines.</summary>
    public List<string> ShowChannels(bool concise)
    {
        var lines = new List<string>();
        if (!concise)
        {
            lines.Add("Channel                                                          Location                         State   Application(Data)             ");
            lines.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Channels.Count} active channel{(Channels.Count == 1 ? "" : "s")}"));
            lines.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ActiveCalls} of 500 max active calls ( {ActiveCalls * 100.0 / 500:0.00}% of capacity)"));
            lines.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ProcessedCalls} call{(ProcessedCalls == 1 ? "" : "s")} processed"));
        }

        return lines;
    }

    /// <summary>Active calls: channels that are not the second half of a Local pair.</summary>
    public int ActiveCalls => Channels.Count;

    public void Dispose()
    {
    }
}
