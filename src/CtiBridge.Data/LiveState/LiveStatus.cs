using CtiBridge.Core.Acd;
using CtiBridge.Data.Queries;
using CtiBridge.Data.Records;
using Npgsql;

namespace CtiBridge.Data.LiveState;

/// <summary>One logged-in agent as the running instance(s) keep it in <c>live_agents</c> / <c>live_calls</c>.</summary>
/// <param name="AgentId">The agent.</param>
/// <param name="Extension">The phone.</param>
/// <param name="State">Ready, Ringing (the phone rings with a call), OnCall, WrapUp or Paused.</param>
/// <param name="Reason">The pause reason (Paused only).</param>
/// <param name="Since">When the agent entered that state, as far as the database knows (Ringing: when the call started ringing the agent).</param>
/// <param name="Queues">The agent's queues.</param>
/// <param name="CallsToday">Calls answered today (the reports' day), from the call records.</param>
/// <param name="CallId">The call the agent is on (OnCall) or whose ring the phone has (Ringing).</param>
public sealed record AgentStatusLine(string AgentId, string Extension, string State, string? Reason, DateTimeOffset Since, IReadOnlyList<string> Queues, int CallsToday, string? CallId);

/// <summary>One queue: calls waiting now, agents by state, and today's figures from the call records.</summary>
/// <param name="Queue">The queue.</param>
/// <param name="Waiting">Calls waiting (not yet answered).</param>
/// <param name="LongestWait">Longest current wait (zero when none waits).</param>
/// <param name="Ready">Agents ready.</param>
/// <param name="OnCall">Agents on a call.</param>
/// <param name="WrapUp">Agents in wrap-up.</param>
/// <param name="Paused">Agents paused.</param>
/// <param name="Today">Today's queue figures (offered, answered, abandoned, service level) by report_queue_traffic's rules.</param>
/// <param name="Ringing">Agents whose phone rings with a call (of any of their queues).</param>
public sealed record QueueStatusLine(string Queue, int Waiting, TimeSpan LongestWait, int Ready, int OnCall, int WrapUp, int Paused, QueueStatistics Today, int Ringing = 0);

/// <summary>What <c>ctibridge agents</c> and <c>ctibridge queues</c> print.</summary>
/// <param name="InstancesRunning">Connections of a CtiBridge service to this database now, by kind (0: no service is running; not a count of instances).</param>
/// <param name="At">When it was read.</param>
/// <param name="TimeZoneId">The reports' time zone ("today").</param>
/// <param name="Agents">Logged-in agents.</param>
/// <param name="Queues">Queues with calls, agents or figures today.</param>
public sealed record LiveStatusSnapshot(int InstancesRunning, DateTimeOffset At, string TimeZoneId, IReadOnlyList<AgentStatusLine> Agents, IReadOnlyList<QueueStatusLine> Queues);

/// <summary>
/// Reads the live state the running instance(s) keep in PostgreSQL (for restart and takeover) and
/// today's figures from the call records, for the command-line status (like Asterisk's
/// <c>queue show</c>). Works on the box with database access only, and sees every instance.
/// </summary>
public sealed class LiveStatus(NpgsqlDataSource dataSource)
{
    /// <summary>Reads the snapshot at <paramref name="now"/>.</summary>
    public async Task<LiveStatusSnapshot> LoadAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var day = await new LiveDayFigures(dataSource).LoadAsync(now, cancellationToken).ConfigureAwait(false);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        int instances;
        await using (var command = new NpgsqlCommand(NamedQueries.Get("live_status_instances"), connection))
        {
            instances = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        var callsToday = day.Seed.Agents.ToDictionary(a => a.AgentId, a => a.Calls, StringComparer.Ordinal);
        var agents = new List<AgentStatusLine>();
        await using (var command = new NpgsqlCommand(NamedQueries.Get("live_status_agents"), connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = reader.GetString(0);
                var pause = reader.IsDBNull(3) ? null : reader.GetString(3);
                var updated = reader.GetFieldValue<DateTimeOffset>(5);
                DateTimeOffset? wrapUpUntil = reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6);
                DateTimeOffset? answered = reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7);
                var ringingCall = reader.IsDBNull(9) ? null : reader.GetString(9);
                DateTimeOffset? ringingSince = reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10);

                // A connected call wins over a ring: the answer's two writes (live_calls, live_agents) are not one row.
                var (state, since) = answered is { } a ? ("OnCall", a)
                    : ringingCall is not null ? ("Ringing", ringingSince ?? updated)
                    : pause is not null ? ("Paused", updated)
                    : wrapUpUntil is { } w && w > now ? ("WrapUp", updated)
                    : ("Ready", wrapUpUntil is { } ended && ended > updated ? ended : updated);
                var callId = state switch
                {
                    "OnCall" => reader.IsDBNull(8) ? null : reader.GetString(8),
                    "Ringing" => ringingCall,
                    _ => null,
                };
                agents.Add(new AgentStatusLine(id, reader.GetString(1), state, state == "Paused" ? pause : null, since,
                    reader.GetFieldValue<string[]>(2), callsToday.GetValueOrDefault(id), callId));
            }
        }

        var waiting = new Dictionary<string, (int Count, DateTimeOffset Oldest)>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand(NamedQueries.Get("live_status_waiting"), connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                waiting[reader.GetString(0)] = ((int)reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2));
            }
        }

        var today = day.Seed.Queues.ToDictionary(q => q.Queue, StringComparer.Ordinal);
        var names = new SortedSet<string>(today.Keys, StringComparer.Ordinal);
        names.UnionWith(waiting.Keys);
        names.UnionWith(agents.SelectMany(a => a.Queues));
        var queues = names.Select(name =>
        {
            var members = agents.Where(a => a.Queues.Contains(name, StringComparer.Ordinal)).ToList();
            var (count, oldest) = waiting.GetValueOrDefault(name, (0, now));
            return new QueueStatusLine(name, count, count > 0 && now > oldest ? now - oldest : TimeSpan.Zero,
                members.Count(m => m.State == "Ready"), members.Count(m => m.State == "OnCall"), members.Count(m => m.State == "WrapUp"), members.Count(m => m.State == "Paused"),
                today.GetValueOrDefault(name) ?? new QueueStatistics(name, 0, 0, 0, 0, 0, 0, 0, TimeSpan.Zero, TimeSpan.Zero, 0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero),
                members.Count(m => m.State == "Ringing"));
        }).ToList();
        return new LiveStatusSnapshot(instances, now, day.TimeZoneId, agents, queues);
    }
}
