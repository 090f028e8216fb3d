namespace CtiBridge.PbxSim.Tests.Support;

/// <summary>
/// Replays a call scenario and compares per channel. Asterisk only orders events within one channel
/// (each channel has its own topic; the interleaving across channels is thread timing), so PbxSim is
/// held to: the same responses in the same order, and for every channel the same events in the same
/// order with the same header names and values (ids, timestamps and counters excepted).
/// OriginateResponse, Cdr and DeviceStateChange come from other threads and are compared per origin.
/// </summary>
internal static class AmiGroupedReplay
{
    /// <summary>Event types PbxSim does not produce (listed in docs/pbxsim-fidelity.md).</summary>
    public static readonly HashSet<string> NotModelled = new(StringComparer.Ordinal)
    {
        "CEL",
    };

    public static bool IsModelled(string message)
    {
        var name = AmiFixture.Header(message, "Event");
        if (name is null)
        {
            return true;
        }

        if (NotModelled.Contains(name))
        {
            return false;
        }

        return true;
    }

    public static string GroupOf(string message)
    {
        var name = AmiFixture.Header(message, "Event");
        if (name is null)
        {
            return "responses";
        }

        string Key(string header) => AmiComparison.NormaliseChannel(AmiFixture.Header(message, header) ?? "");
        return name switch
        {
            "OriginateResponse" => "originate " + AmiFixture.Header(message, "ActionID"),
            "Cdr" => "cdr " + Key("Channel"),
            "DeviceStateChange" => "device " + AmiFixture.Header(message, "Device"),
            "BridgeCreate" or "BridgeDestroy" => "bridges",
            _ when AmiFixture.Header(message, "DestChannel") is not null => "channel " + Key("DestChannel"),
            _ when AmiFixture.Header(message, "Channel") is not null => "channel " + Key("Channel"),
            _ when AmiFixture.Header(message, "LocalOneChannel") is not null => "channel " + Key("LocalOneChannel"),
            _ => "other " + name,
        };
    }

    public static async Task ReplayAsync(string name, PbxSimulator sim, SignallingTimeProvider clock, double cutoffSeconds, CancellationToken cancellationToken)
    {
        var records = AmiFixture.Load(name).Where(r => r.T < cutoffSeconds).ToList();

        // Number Local channels from where the recording instance was, so the channel names the
        // recorded actions address (Hangup of Local/agent1@agents-00000014;1) exist in PbxSim too.
        var first = records.Where(r => r.Dir == "rx").Select(r => System.Text.RegularExpressions.Regex.Match(r.Data, @"Local/[^\r\n;]*-([0-9a-f]{8});[12]"))
            .FirstOrDefault(m => m.Success);
        if (first is not null)
        {
            lock (sim.Gate)
            {
                sim.Model.SeedLocalSequence(Convert.ToInt64(first.Groups[1].Value, 16));
            }
        }

        var start = clock.GetUtcNow();
        await using var connection = await AmiTestConnection.ConnectAsync(sim.AmiEndPoint, cancellationToken);
        var banner = await connection.ReadBannerAsync(cancellationToken);
        Assert.Equal(records[0].Data, banner);
        var dispatched = sim.Progress.Count;
        foreach (var record in records.Where(r => r.Dir == "tx"))
        {
            clock.AdvanceTo(start + TimeSpan.FromSeconds(record.T));
            await connection.SendAsync(record.Data, cancellationToken);
            dispatched++;
            await sim.Progress.WaitForAsync(dispatched, cancellationToken);
        }

        clock.AdvanceTo(start + TimeSpan.FromSeconds(cutoffSeconds));
        await connection.SendAsync("Action: Ping\r\nActionID: replay-end\r\n\r\n", cancellationToken);
        var actual = new List<string>();
        while (true)
        {
            var message = await connection.ReadMessageAsync(cancellationToken);
            Assert.True(message is not null, $"{name}: connection closed before the end of the replay");
            if (AmiFixture.Header(message!, "ActionID") == "replay-end" && AmiFixture.Header(message!, "Response") is not null)
            {
                break;
            }

            actual.Add(message!);
        }

        if (Environment.GetEnvironmentVariable("PBXSIM_REPLAY_DUMP") is { Length: > 0 } dump)
        {
            File.WriteAllLines(Path.Combine(dump, name + ".actual.txt"), actual.Select(AmiComparison.Show));
        }

        var expected = records.Skip(1).Where(r => r.Dir == "rx").Select(r => r.Data).Where(IsModelled).ToList();
        var expectedGroups = expected.GroupBy(GroupOf).ToDictionary(g => g.Key, g => g.ToList());
        var actualGroups = actual.GroupBy(GroupOf).ToDictionary(g => g.Key, g => g.ToList());
        Assert.True(expectedGroups.Keys.Order().SequenceEqual(actualGroups.Keys.Order()),
            $"{name}: streams differ\nexpected {string.Join(", ", expectedGroups.Keys.Order())}\nactual   {string.Join(", ", actualGroups.Keys.Order())}");
        foreach (var (group, messages) in expectedGroups)
        {
            var got = actualGroups[group];
            var summary = $"\nexpected: {string.Join(", ", messages.Select(Describe))}\nactual:   {string.Join(", ", got.Select(Describe))}";
            for (var i = 0; i < Math.Min(messages.Count, got.Count); i++)
            {
                AmiComparison.AssertSame(messages[i], got[i], $"{name} [{group}] #{i}{summary}");
            }

            Assert.True(messages.Count == got.Count, $"{name} [{group}]: {messages.Count} messages recorded, PbxSim sent {got.Count}{summary}");
        }
    }

    private static string Describe(string message)
    {
        var name = AmiFixture.Header(message, "Event") ?? "Response:" + AmiFixture.Header(message, "Response");
        var detail = AmiFixture.Header(message, "Application") ?? AmiFixture.Header(message, "Variable") ?? AmiFixture.Header(message, "DialStatus")
            ?? AmiFixture.Header(message, "ChannelStateDesc") ?? AmiFixture.Header(message, "Cause");
        return detail is null ? name : $"{name}({detail})";
    }
}
