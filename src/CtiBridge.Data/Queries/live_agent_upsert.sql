INSERT INTO live_agents (agent_id, extension, queues, skills, pause_reason, logged_in_at, updated_at, state, state_since)
VALUES (@agent_id, @extension, @queues, @skills, NULL, @logged_in_at, @at, 'Ready', @at)
ON CONFLICT (agent_id) DO UPDATE SET extension = EXCLUDED.extension, queues = EXCLUDED.queues, skills = EXCLUDED.skills,
    pause_reason = NULL, logged_in_at = EXCLUDED.logged_in_at, updated_at = EXCLUDED.updated_at,
    wrap_up_until = NULL, wrap_up_call_id = NULL, wrap_up_queue = NULL, pending_pause_reason = NULL, pending_logout = false, pending_source = NULL,
    ringing_call_id = NULL, ringing_since = NULL, state = EXCLUDED.state, state_since = EXCLUDED.state_since
