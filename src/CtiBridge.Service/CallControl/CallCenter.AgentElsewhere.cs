using CtiBridge.Core.Acd;

namespace CtiBridge.Service.CallControl;

/// <summary>
/// One agent, one state at a time: an agent on a campaign's nailed-up line (the outbound dialer's
/// agent, whose phone is held by that line and whose time the dialer logs as available / outbound /
/// wrap-up) cannot also log in to inbound queues, or the agent-state log would get two intervals
/// for the same time and double the agent's logged-in time (docs/metrics.md §6, docs/dialer.md).
/// The dialer joins in the other direction refuse an agent logged in here.
/// </summary>
public sealed partial class CallCenter
{
    /// <summary>
    /// Says why an agent is busy elsewhere (e.g. on a campaign's nailed-up line), or null when free
    /// to log in to inbound queues. Set once at start-up by the part that knows (the dialer); read on
    /// the call center's loop, so it must be safe to call from any thread.
    /// </summary>
    public Func<string, string?>? AgentWorkingElsewhere { get; set; }

    // Agents on a nailed-up line of any instance's dialer (a dialer-only instance included), agent → why;
    // replaced whole by AgentLinesWatcher, read on the loop.
    private volatile IReadOnlyDictionary<string, string> _linesElsewhere = new Dictionary<string, string>();

    /// <summary>
    /// Reads, at the moment of an inbound login, why the agent is on a campaign line of another
    /// instance (null: not on one, or the read failed and the last known set answers). Set by
    /// <see cref="AgentLinesWatcher"/>. Without it a login within the set's refresh time (1 s) of a
    /// join on a dialer-only instance was let through: the login check lagged the join.
    /// </summary>
    internal Func<string, CancellationToken, Task<AgentLineRead>>? AgentLineLookup { get; set; }

    /// <summary>
    /// The agents on a campaign's nailed-up line over every instance (table <c>dialer_agent_lines</c>),
    /// agent → why they cannot log in to inbound queues; replaces the previous set.
    /// </summary>
    internal void SetAgentLinesElsewhere(IReadOnlyDictionary<string, string> lines) => _linesElsewhere = lines;

    /// <summary>Why the agent is on a campaign line of some instance as last read from the database, or null (what the login check sees).</summary>
    internal string? AgentLineElsewhere(string agentId) => _linesElsewhere.GetValueOrDefault(agentId);

    /// <summary>
    /// A refusal when the agent is working elsewhere, else null. <paramref name="lineReadNow"/> is
    /// what <see cref="AgentLineLookup"/> read for this login; when it was not read, the last read set answers.
    /// </summary>
    private InputOutcome? RefusedAsWorkingElsewhere(string agentId, AgentLineRead lineReadNow = default) =>
        (AgentWorkingElsewhere?.Invoke(agentId) ?? (lineReadNow.Read ? lineReadNow.Why : _linesElsewhere.GetValueOrDefault(agentId))) is { } why
            ? InputOutcome.Refused(why) : null;

    /// <summary>Reads the agent's campaign line on another instance now (see <see cref="AgentLineLookup"/>); off the loop.</summary>
    private Task<AgentLineRead> AgentLineNowAsync(string agentId, CancellationToken cancellationToken) =>
        AgentLineLookup is { } lookup ? lookup(agentId, cancellationToken) : Task.FromResult(default(AgentLineRead));
}

/// <summary>One agent's campaign line on another instance as read from the database at a login.</summary>
/// <param name="Read">The read succeeded (else the last read set answers).</param>
/// <param name="Why">Why the agent cannot log in (on a line), or null (on none).</param>
internal readonly record struct AgentLineRead(bool Read, string? Why);
