UPDATE live_agents SET ringing_call_id = @call_id, ringing_since = @ringing_since, updated_at = @at, state = @state, state_since = @at WHERE agent_id = @agent_id
