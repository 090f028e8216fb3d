namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>
/// Replays an "events off" scenario whose calls were set up by another connection of the recorder:
/// the calls are placed first over a second AMI connection (with the same Originate the call
/// scenarios use), then the recorded actions are sent at their recorded times and every answer is
/// compared in order. The items of one list answer (CoreShowChannel, Status, DeviceStateChange...)
/// are compared as a set: Asterisk walks hash containers for them, so their order means nothing.
/// </summary>
internal static class AmiListReplay
{
    private static readonly HashSet<string> ListItems = new(StringComparer.Ordinal)
    {
        "CoreShowChannel", "Status", "DeviceStateChange", "ExtensionStatus", "BridgeListItem",
    };

    /// <summary>One piece of set-up: at <paramref name="At"/> seconds, send <paramref name="Action"/> on the set-up connection.</summary>
    public sealed record SetupAction(double At, string Action);

    public static string Originate(string channel, string callerId, string? variable = null) =>
        $"Action: Originate\r\nChannel: {channel}\r\nContext: customer\r\nExten: talk\r\nPriority: 1\r\nCallerID: {callerId}\r\nTimeout: 30000\r\n" +
        (variable is null ? "" : $"Variable: {variable}\r\n") + "Async: true\r\n\r\n";

    /// <summary>
    /// Starts a PbxSim on the recording's clock, its next Local channel numbered <paramref name="localSequence"/>
    /// as the recorder's was (null: from the start); runs <paramref name="setup"/> on a set-up connection
    /// (times relative to the clock's start) and the scenario's actions on their own connection at
    /// <paramref name="replayStart"/> + their recorded time, interleaved by time; then compares what the
    /// scenario's connection received, after <paramref name="normalise"/> (for ids inside CLI text) when given.
    /// </summary>
    public static async Task ReplayAsync(string name, long? localSequence, IReadOnlyList<SetupAction> setup, double replayStart, CancellationToken ct,
        Func<string, string>? normalise = null)
    {
        var clock = new SignallingTimeProvider(AmiReplay.RecordingStart);
        await using var sim = new PbxSimulator(new PbxSimOptions { AmiPort = 0, AriPort = 0 }, clock);
        await sim.StartAsync(ct);
        if (localSequence is { } next)
        {
            lock (sim.Gate)
            {
                sim.Model.SeedLocalSequence(next);
            }
        }

        var records = AmiFixture.Load(name);
        var start = clock.GetUtcNow();
        await using var control = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        await control.ReadBannerAsync(ct);
        var dispatched = sim.Progress.Count;
        await control.SendAsync("Action: Login\r\nUsername: ctibridge\r\nSecret: ctibridge-secret\r\nEvents: off\r\n\r\n", ct);
        await sim.Progress.WaitForAsync(++dispatched, ct);

        await using var connection = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, ct);
        Assert.Equal(records[0].Data, await connection.ReadBannerAsync(ct));
        var timeline = setup.Select(s => (At: s.At, Connection: control, Text: s.Action))
            .Concat(records.Where(r => r.Dir == "tx").Select(r => (At: replayStart + r.T, Connection: connection, Text: r.Data)))
            .OrderBy(s => s.At);
        foreach (var (at, target, text) in timeline)
        {
            clock.AdvanceTo(start + TimeSpan.FromSeconds(at));
            await target.SendAsync(text, ct);
            await sim.Progress.WaitForAsync(++dispatched, ct);
        }

        var actual = new List<string>();
        while (await connection.ReadMessageAsync(ct) is { } message)
        {
            actual.Add(message);
        }

        normalise ??= m => m;
        var expected = SortLists(records.Skip(1).Where(r => r.Dir == "rx").Select(r => normalise(r.Data)).ToList());
        actual = SortLists(actual.Select(normalise).ToList());
        var summary = $"\nexpected: {string.Join(", ", expected.Select(Describe))}\nactual:   {string.Join(", ", actual.Select(Describe))}";
        for (var i = 0; i < Math.Min(expected.Count, actual.Count); i++)
        {
            AmiComparison.AssertSame(expected[i], actual[i], $"{name} #{i}{summary}");
        }

        Assert.True(expected.Count == actual.Count, $"{name}: {expected.Count} messages recorded, PbxSim sent {actual.Count}{summary}");
    }

    private static string Describe(string message) =>
        AmiFixture.Header(message, "Event") is { } e ? $"{e}({AmiFixture.Header(message, "Channel") ?? AmiFixture.Header(message, "Device") ?? AmiFixture.Header(message, "Exten")})"
        : "Response:" + AmiFixture.Header(message, "Response");

    /// <summary>Sorts every run of list items by what they describe (channel, device, extension).</summary>
    private static List<string> SortLists(List<string> messages)
    {
        var result = new List<string>();
        var run = new List<string>();
        void Flush()
        {
            result.AddRange(run.OrderBy(Key, StringComparer.Ordinal));
            run.Clear();
        }

        foreach (var message in messages)
        {
            if (AmiFixture.Header(message, "Event") is { } e && ListItems.Contains(e) && AmiFixture.Header(message, "ActionID") is not null)
            {
                run.Add(message);
                continue;
            }

            Flush();
            result.Add(message);
        }

        Flush();
        return result;
    }

    private static string Key(string message) => AmiComparison.NormaliseChannel(
        AmiFixture.Header(message, "Channel") ?? AmiFixture.Header(message, "Device") ?? AmiFixture.Header(message, "Exten") ?? AmiFixture.Header(message, "BridgeUniqueid") ?? "");
}
