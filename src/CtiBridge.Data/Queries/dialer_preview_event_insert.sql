INSERT INTO dialer_preview_events (instance_id, agent_id, phase, preview, created_at)
VALUES (@instance_id, @agent_id, @phase, @preview, @now)
