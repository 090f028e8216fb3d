WITH taken AS (
    UPDATE live_callback_calls SET takeovers = takeovers + 1 WHERE server = @server RETURNING *
)
SELECT call_id, callback_id, stage, queue, agent_id, customer_leg_id, agent_leg_id, bridge_id, entered_at, dial_started_at,
    customer_answered_at, connected_at, conversation_ended_at, recording_id, recording_started_at, takeovers
FROM taken ORDER BY connected_at, call_id
