UPDATE live_agents SET pending_pause_reason = @pause_reason, pending_logout = @logout, pending_source = @source, updated_at = @at WHERE agent_id = @agent_id
