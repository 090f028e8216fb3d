INSERT INTO dialer_preview_requests (instance_id, agent_id, lead_id, action, requested_by, requested_at)
VALUES (@instance_id, @agent_id, @lead_id, @action, @requested_by, @now)
RETURNING request_id
