DELETE FROM live_agents WHERE agent_id = @agent_id
