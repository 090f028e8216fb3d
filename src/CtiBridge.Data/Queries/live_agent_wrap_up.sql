UPDATE live_agents SET wrap_up_until = @wrap_up_until, wrap_up_call_id = @call_id, wrap_up_queue = @queue, updated_at = @at,
    state = 'WrapUp', state_since = @at
WHERE agent_id = @agent_id
