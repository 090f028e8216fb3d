SELECT call_id, channel_id, queue, visit, queues, entry_position, started_at, first_enqueued_at, enqueued_at, agent_id, answered_at,
    caller_number, caller_name, did, customer_id, language, is_vip, priority, assigned_agent, required_skills, ivr_path,
    attribute_names, attribute_values, 0 AS takeovers, hold_started_at, hold_seconds
FROM live_calls WHERE server = @server AND abandoned_at IS NULL AND ended_at IS NULL ORDER BY enqueued_at, call_id
