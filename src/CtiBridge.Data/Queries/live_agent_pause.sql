UPDATE live_agents SET pause_reason = @pause_reason, updated_at = @at WHERE agent_id = @agent_id
