UPDATE live_calls SET agent_id = @agent_id, answered_at = @at, updated_at = @at WHERE call_id = @call_id
