using CtiBridge.PbxSim.Tests.Support;

namespace CtiBridge.PbxSim.Tests.Ami;

/// <summary>
/// The "events off" scenarios that list or query calls another connection of the recorder had set up:
/// the same calls are placed first, then the recorded actions are replayed and compared.
/// </summary>
public sealed class AmiListFidelityTests
{
    [Fact]
    public async Task CoreShowChannels_TwoBridgedCalls_MatchesRecording()
    {
        var ct = TestContext.Current.CancellationToken;
        // The first CoreShowChannels (no calls) is at t=0.001: the calls start after it, so the
        // replay's actions are sent from t=0 and the calls are placed by the set-up connection in
        // between, at the times the recorded durations put them (Jane ~0.1 s, Bob ~2.8 s).
        await AmiListReplay.ReplayAsync("core-show-channels", localSequence: 3,
            [
                new(0.1, AmiListReplay.Originate("Local/1@inbound", "\"Jane Customer\" <5551234567>")),
                new(2.8, AmiListReplay.Originate("Local/2@inbound", "\"Bob Buyer\" <5552223333>")),
            ],
            0, ct);
    }

    [Fact]
    public async Task MiscActions_OneBridgedCall_MatchesRecording()
    {
        var ct = TestContext.Current.CancellationToken;
        // What the recording instance had been through: agent4 was added to and removed from sales
        // (queue-members; its pause device stays cached), then one inbound call reached agent1 about
        // 2.95 s before the scenario started (Status: Seconds 2).
        await AmiListReplay.ReplayAsync("misc-actions", localSequence: 0x28,
            [
                new(0.1, "Action: QueueAdd\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\nMemberName: Agent Four\r\nStateInterface: Custom:agent4\r\nPenalty: 1\r\n\r\n"),
                new(0.2, "Action: QueueRemove\r\nQueue: sales\r\nInterface: Local/agent4@agents\r\n\r\n"),
                new(0.5, AmiListReplay.Originate("Local/1@inbound", "\"Jane Customer\" <5551234567>")),
            ],
            3.45, ct);
    }

    [Fact]
    public async Task QueueStatus_CallerTalkingAndCallerWaiting_MatchesRecording()
    {
        var ct = TestContext.Current.CancellationToken;
        // The recorder's calls (queue_log: the support caller entered one second before Agent One
        // answered; the sales caller had waited 2 s when QueueStatus came): a caller in support
        // answered by Agent One after its 1 s ring, and a caller waiting in the member-less sales queue.
        await AmiListReplay.ReplayAsync("queue-status", localSequence: 7,
            [
                new(0.1, AmiListReplay.Originate("Local/support@queues", "\"Queue Caller\" <5557654321>")),
                new(1.0, AmiListReplay.Originate("Local/sales@queues", "\"Waiting Caller\" <5550001111>")),
            ],
            3.0, ct);
    }

    [Fact]
    public async Task Command_CliOutputWithOneCall_MatchesRecording()
    {
        var ct = TestContext.Current.CancellationToken;
        // Uptime 25 s at the scenario; the recorder's call (Jane to agent1 through inbound's Dial)
        // was placed ~2.9 s before it, so it is bridged with the durations the concise list shows.
        // Uniqueids and the bridge id inside the CLI text are ids; app_queue's member login time
        // was taken while modules loaded, a second before "uptime" starts counting.
        await AmiListReplay.ReplayAsync("command", localSequence: null,
            [new(22.1, AmiListReplay.Originate("Local/1@inbound", "\"Jane Customer\" <5551234567>"))],
            25.0, ct, CliIds);
    }

    /// <summary>
    /// Masks the ids inside CLI text and sorts the channel rows of <c>core show channels</c> (Asterisk
    /// walks its channel hash container, so their order means nothing).
    /// </summary>
    private static string CliIds(string message)
    {
        var lines = message.Split("\r\n").ToList();
        var rows = lines.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("Output: Local/", StringComparison.Ordinal) || x.l.StartsWith("Output: PJSIP/", StringComparison.Ordinal)).ToList();
        var sorted = rows.Select(r => r.l).Order(StringComparer.Ordinal).ToList();
        for (var k = 0; k < rows.Count; k++)
        {
            lines[rows[k].i] = sorted[k];
        }

        return MaskIds(string.Join("\r\n", lines));
    }

    private static string MaskIds(string message) =>
        System.Text.RegularExpressions.Regex.Replace(
            System.Text.RegularExpressions.Regex.Replace(
                System.Text.RegularExpressions.Regex.Replace(message, @"\b\d{9,}\.\d+\b", "<uniqueid>"),
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<bridge>"),
            @"\(login was \d+ secs ago\)", "(login was N secs ago)");
}
