WITH taken AS (
    UPDATE live_calls SET takeovers = takeovers + 1 WHERE server = @server AND abandoned_at IS NULL AND ended_at IS NULL RETURNING *
)
SELECT call_id, channel_id, queue, visit, queues, entry_position, started_at, first_enqueued_at, enqueued_at, agent_id, answered_at,
    caller_number, caller_name, did, customer_id, language, is_vip, priority, assigned_agent, required_skills, ivr_path,
    attribute_names, attribute_values, takeovers, hold_started_at, hold_seconds
FROM taken ORDER BY enqueued_at, call_id
