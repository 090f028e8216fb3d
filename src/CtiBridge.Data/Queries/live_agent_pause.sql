UPDATE live_agents SET pause_reason = @pause_reason, wrap_up_until = NULL, wrap_up_call_id = NULL, wrap_up_queue = NULL,
    pending_pause_reason = NULL, pending_logout = false, pending_source = NULL, ringing_call_id = NULL, ringing_since = NULL, updated_at = @at,
    state = @state, state_since = @at
WHERE agent_id = @agent_id
