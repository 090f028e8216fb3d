using CtiBridge.Data.Queries;
using Npgsql;
using NpgsqlTypes;

namespace CtiBridge.Data.LiveState;

/// <summary>Where a callback conversation is (<c>live_callback_calls.stage</c>).</summary>
public enum LiveCallbackStage
{
    /// <summary>The customer and the agent are connected in the call's bridge.</summary>
    Talking,

    /// <summary>The agent left; the customer answers the queue's survey.</summary>
    Survey,
}

/// <summary>A callback conversation now (customer and agent connected, or the customer in the survey), as stored for a restart or takeover.</summary>
/// <param name="CallId">The callback task's call id (<c>cb-…</c>).</param>
/// <param name="CallbackId">The callback.</param>
/// <param name="Stage">Where the conversation is.</param>
/// <param name="Queue">The callback's queue.</param>
/// <param name="AgentId">The agent who talks (or talked, in the survey) to the customer.</param>
/// <param name="CustomerLegId">The customer's channel.</param>
/// <param name="EnteredAt">When the task entered the ACD (the attempt's start).</param>
/// <param name="DialStartedAt">When the customer was dialled.</param>
/// <param name="ConnectedAt">When customer and agent were connected.</param>
public sealed record LiveCallbackCall(
    string CallId, Guid CallbackId, LiveCallbackStage Stage, string Queue, string AgentId, string CustomerLegId,
    DateTimeOffset EnteredAt, DateTimeOffset DialStartedAt, DateTimeOffset ConnectedAt)
{
    /// <summary>The agent's channel (null in the survey).</summary>
    public string? AgentLegId { get; init; }

    /// <summary>The conversation's bridge (null in the survey).</summary>
    public string? BridgeId { get; init; }

    /// <summary>When the customer answered.</summary>
    public DateTimeOffset? CustomerAnsweredAt { get; init; }

    /// <summary>When the agent left for the survey.</summary>
    public DateTimeOffset? ConversationEndedAt { get; init; }

    /// <summary>The bridge's recording, when one was asked for.</summary>
    public string? RecordingId { get; init; }

    /// <summary>When Asterisk started the recording.</summary>
    public DateTimeOffset? RecordingStartedAt { get; init; }

    /// <summary>Times an instance has adopted the call, this adoption included; 0 when only written.</summary>
    public int Takeovers { get; init; }
}

/// <summary>The writes and the adopter's read of <c>live_callback_calls</c> (migration 0035).</summary>
public static class LiveCallbackCalls
{
    /// <summary>The write that stores (or replaces) where a callback conversation is now.</summary>
    /// <param name="server">The Asterisk server of the call's legs.</param>
    /// <param name="call">The conversation.</param>
    /// <param name="at">When it was so.</param>
    public static NpgsqlBatchCommand Put(string server, LiveCallbackCall call, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(call);
        var command = new NpgsqlBatchCommand(NamedQueries.Get("live_callback_call_put"));
        var p = command.Parameters;
        p.AddWithValue("call_id", call.CallId);
        p.AddWithValue("server", server);
        p.AddWithValue("callback_id", call.CallbackId);
        p.AddWithValue("stage", call.Stage.ToString().ToLowerInvariant());
        p.AddWithValue("queue", call.Queue);
        p.AddWithValue("agent_id", call.AgentId);
        p.AddWithValue("customer_leg_id", call.CustomerLegId);
        p.Add(Text("agent_leg_id", call.AgentLegId));
        p.Add(Text("bridge_id", call.BridgeId));
        p.AddWithValue("entered_at", call.EnteredAt);
        p.AddWithValue("dial_started_at", call.DialStartedAt);
        p.Add(Time("customer_answered_at", call.CustomerAnsweredAt));
        p.AddWithValue("connected_at", call.ConnectedAt);
        p.Add(Time("conversation_ended_at", call.ConversationEndedAt));
        p.Add(Text("recording_id", call.RecordingId));
        p.Add(Time("recording_started_at", call.RecordingStartedAt));
        p.AddWithValue("at", at);
        return command;
    }

    /// <summary>The write that forgets a callback conversation (its attempt ended).</summary>
    /// <param name="callId">The callback task's call id.</param>
    public static NpgsqlBatchCommand Delete(string callId)
    {
        var command = new NpgsqlBatchCommand(NamedQueries.Get("live_callback_call_delete"));
        command.Parameters.AddWithValue("call_id", callId);
        return command;
    }

    /// <summary>The callback conversations of one Asterisk server, each counted as taken over once more, committed before it returns.</summary>
    /// <param name="dataSource">The CtiBridge database.</param>
    /// <param name="server">The Asterisk server.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async Task<IReadOnlyList<LiveCallbackCall>> TakeOverAsync(NpgsqlDataSource dataSource, string server, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand(NamedQueries.Get("live_callback_call_take_over"));
        command.Parameters.AddWithValue("server", server);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var calls = new List<LiveCallbackCall>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
            DateTimeOffset? Time(int i) => reader.IsDBNull(i) ? null : reader.GetFieldValue<DateTimeOffset>(i);
            calls.Add(new LiveCallbackCall(reader.GetString(0), reader.GetGuid(1), Enum.Parse<LiveCallbackStage>(reader.GetString(2), ignoreCase: true),
                reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetFieldValue<DateTimeOffset>(8), reader.GetFieldValue<DateTimeOffset>(9),
                reader.GetFieldValue<DateTimeOffset>(11))
            {
                AgentLegId = Text(6), BridgeId = Text(7), CustomerAnsweredAt = Time(10), ConversationEndedAt = Time(12), RecordingId = Text(13),
                RecordingStartedAt = Time(14), Takeovers = reader.GetInt32(15),
            });
        }

        return calls;
    }

    private static NpgsqlParameter Text(string name, string? value) => new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };

    private static NpgsqlParameter Time(string name, DateTimeOffset? value) => new(name, NpgsqlDbType.TimestampTz) { Value = value is { } v ? v : DBNull.Value };
}
