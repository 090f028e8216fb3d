SELECT agent_id, extension, queues, skills, pause_reason, logged_in_at FROM live_agents ORDER BY logged_in_at, agent_id
