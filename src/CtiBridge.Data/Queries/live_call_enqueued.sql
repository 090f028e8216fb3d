-- A caller queued (a new visit of a known call starts over where it is; an end marked before is cleared: the call is live again).
INSERT INTO live_calls (call_id, server, channel_id, queue, visit, queues, entry_position, started_at, first_enqueued_at, enqueued_at,
    agent_id, answered_at, caller_number, caller_name, did, customer_id, language, is_vip, priority, assigned_agent,
    required_skills, ivr_path, attribute_names, attribute_values, updated_at)
VALUES (@call_id, @server, @channel_id, @queue, @visit, ARRAY[@queue], @entry_position, @at, @at, @at,
    NULL, NULL, @caller_number, @caller_name, @did, @customer_id, @language, @is_vip, @priority, @assigned_agent,
    @required_skills, @ivr_path, @attribute_names, @attribute_values, @at)
ON CONFLICT (call_id) DO UPDATE SET queue = EXCLUDED.queue, visit = EXCLUDED.visit, queues = live_calls.queues || EXCLUDED.queue,
    entry_position = EXCLUDED.entry_position, enqueued_at = EXCLUDED.enqueued_at, agent_id = NULL, answered_at = NULL,
    customer_id = EXCLUDED.customer_id, language = EXCLUDED.language, is_vip = EXCLUDED.is_vip, priority = EXCLUDED.priority,
    assigned_agent = EXCLUDED.assigned_agent, required_skills = EXCLUDED.required_skills, ivr_path = EXCLUDED.ivr_path,
    attribute_names = EXCLUDED.attribute_names, attribute_values = EXCLUDED.attribute_values, updated_at = EXCLUDED.updated_at,
    ended_at = NULL, disposition = NULL, end_estimated = false, visit_outcome = NULL, visit_left_at = NULL
