SELECT agent_id, extension, queues, skills, pause_reason, logged_in_at,
       wrap_up_until, wrap_up_call_id, wrap_up_queue, pending_pause_reason, pending_logout, pending_source,
       state, state_since, ringing_call_id
FROM live_agents ORDER BY logged_in_at, agent_id
