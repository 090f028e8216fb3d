using System.Text;
using CtiBridge.Asterisk.Ami;

namespace CtiBridge.Asterisk.Tests.Ami;

/// <summary>
/// Replays a recorded session as a server: the rx records that followed each recorded action are
/// sent when the client sends an action of the same name, with the recorded ActionID replaced by
/// the client's. A recorded <c>eof</c> closes the connection.
/// </summary>
internal sealed class FixtureReplay
{
    private readonly List<Step> _steps = [];
    private readonly List<string> _preamble = [];

    public FixtureReplay(string session)
    {
        Step? current = null;
        foreach (var record in AmiFixtures.Timeline(session))
        {
            switch (record.Dir)
            {
                case "tx":
                    var action = AmiFixtures.ParseAll(Encoding.UTF8.GetBytes(record.Data), []).Single().Message!;
                    current = new Step(action, [], false);
                    _steps.Add(current);
                    break;
                case "rx" when current is null:
                    _preamble.Add(record.Data);
                    break;
                case "rx":
                    current.Replies.Add(record.Data);
                    break;
                case "eof":
                    if (current is not null)
                    {
                        _steps[^1] = current with { ClosesAfter = true };
                    }

                    break;
            }
        }
    }

    public sealed record Step(AmiMessage Action, List<string> Replies, bool ClosesAfter);

    public IReadOnlyList<Step> Steps => _steps;

    /// <summary>The recorded actions after the login, which a test replays through the client.</summary>
    public IEnumerable<Step> ActionsAfterLogin =>
        _steps.SkipWhile(s => s.Action["Action"] != "Login").Skip(1).Where(s => s.Action["Action"] != "Logoff");

    public static string MapActionId(string data, string? recordedId, string? clientId) =>
        recordedId is null || clientId is null ? data : data.Replace($"ActionID: {recordedId}\r\n", $"ActionID: {clientId}\r\n", StringComparison.Ordinal);

    public async Task RunAsync(FakeAmiPeer peer, CancellationToken cancellationToken)
    {
        foreach (var data in _preamble)
        {
            await peer.SendAsync(data, cancellationToken);
        }

        var next = 0;
        while (await peer.ReadActionAsync(cancellationToken) is { } action)
        {
            var index = _steps.FindIndex(next, s => string.Equals(s.Action["Action"], action["Action"], StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                await peer.SendAsync($"Response: Error\r\nActionID: {action.ActionId}\r\nMessage: not in the recording\r\n\r\n", cancellationToken);
                continue;
            }

            var step = _steps[index];
            next = index + 1;
            foreach (var data in step.Replies)
            {
                await peer.SendAsync(MapActionId(data, step.Action.ActionId, action.ActionId), cancellationToken);
            }

            if (step.ClosesAfter)
            {
                return;
            }
        }
    }
}
