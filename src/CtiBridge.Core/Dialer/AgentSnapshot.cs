namespace CtiBridge.Core.Dialer;

/// <summary>An agent of the campaign who is on a call or in wrap-up.</summary>
/// <param name="TalkElapsed">Time since the current call was connected (for agents in wrap-up: the whole talk time).</param>
/// <param name="WrapUpRemaining">Set when the agent is in wrap-up: the time left until ready (null = still talking).</param>
public readonly record struct BusyAgent(TimeSpan TalkElapsed, TimeSpan? WrapUpRemaining = null);

/// <summary>The campaign's agents as the ACD sees them at one instant (the dialer's only view of agents).</summary>
/// <param name="LoggedIn">Agents logged in to the campaign (ready, busy, in wrap-up or paused).</param>
/// <param name="Ready">Agents idle and waiting for a campaign call (e.g. on their nailed-up channel).</param>
/// <param name="Busy">Agents talking on campaign calls or in wrap-up.</param>
public sealed record AgentSnapshot(int LoggedIn, int Ready, IReadOnlyList<BusyAgent> Busy)
{
    /// <summary>No agent logged in.</summary>
    public static AgentSnapshot Empty { get; } = new(0, 0, []);

    /// <summary>Every problem with the snapshot (negative counts, more ready + busy than logged in).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (LoggedIn < 0 || Ready < 0)
        {
            errors.Add($"agent snapshot: counts must not be negative (logged in {LoggedIn}, ready {Ready})");
        }

        if (Ready + Busy.Count > LoggedIn)
        {
            errors.Add($"agent snapshot: ready {Ready} + busy {Busy.Count} is more than logged in {LoggedIn}");
        }

        return errors;
    }
}
