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
    /// <summary>
    /// Scenarios whose CEL events PbxSim matches (docs/pbxsim-fidelity.md). PbxSim publishes CEL in
    /// every replay; for the other scenarios CEL is taken out of both sides before comparing.
    /// </summary>
    public static readonly HashSet<string> CelCompared = new(StringComparer.Ordinal)
    {
        "originate-agent", "originate-outcomes", "call-flow", "chanspy", "blind-transfer", "attended-transfer",
        "queue-call", "queue-ringnoanswer", "queue-members", "redirect",
    };

    /// <summary>
    /// LINKEDID_END comes with whichever channel of the linked call is destroyed last, which is thread
    /// timing (originate-outcomes: the ;1 half last after Busy(), the ;2 half after Congestion()).
    /// These are compared as one stream in call order: PbxSim's must name a channel of the same call.
    /// </summary>
    private const string LinkedIdEnd = "cel LINKEDID_END";

    public static bool IsCel(string message) => AmiFixture.Header(message, "Event") == "CEL";

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
            // CEL comes from its own subscriber thread: it is ordered per channel, but not with the AMI events.
            "CEL" when AmiFixture.Header(message, "EventName") == "LINKEDID_END" => LinkedIdEnd,
            "CEL" => "cel " + Key("Channel"),
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

        var compareCel = CelCompared.Contains(name);
        actual.RemoveAll(m => !compareCel && IsCel(m));
        var expected = records.Skip(1).Where(r => r.Dir == "rx").Select(r => r.Data).Where(m => compareCel || !IsCel(m)).ToList();
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
                if (group == LinkedIdEnd)
                {
                    var call = expected.Where(m => IsCel(m) && AmiFixture.Header(m, "LinkedID") == AmiFixture.Header(messages[i], "LinkedID"))
                        .Select(m => AmiComparison.NormaliseChannel(AmiFixture.Header(m, "Channel") ?? "")).ToHashSet();
                    var ended = AmiComparison.NormaliseChannel(AmiFixture.Header(got[i], "Channel") ?? "");
                    Assert.True(call.Contains(ended), $"{name} [{group}] #{i}: PbxSim ended {ended}, not a channel of the recorded call ({string.Join(", ", call)}){summary}");
                    continue;
                }

                AmiComparison.AssertSame(messages[i], got[i], $"{name} [{group}] #{i}{summary}");
            }

            Assert.True(messages.Count == got.Count, $"{name} [{group}]: {messages.Count} messages recorded, PbxSim sent {got.Count}{summary}");
        }
    }

    private static string Describe(string message)
    {
        var name = AmiFixture.Header(message, "Event") ?? "Response:" + AmiFixture.Header(message, "Response");
        if (name == "CEL")
        {
            name = AmiFixture.Header(message, "EventName") ?? name;
        }

        var detail = name == "LINKEDID_END" ? AmiComparison.NormaliseChannel(AmiFixture.Header(message, "Channel") ?? "") : AmiFixture.Header(message, "Application") ?? AmiFixture.Header(message, "Variable") ?? AmiFixture.Header(message, "DialStatus")
            ?? AmiFixture.Header(message, "ChannelStateDesc") ?? AmiFixture.Header(message, "Cause");
        return detail is null ? name : $"{name}({detail})";
    }
}
