INSERT INTO dialer_agent_requests (instance_id, agent_id, campaign_id, action, endpoint, requested_by, requested_at)
VALUES (@instance_id, @agent_id, @campaign_id, @action, @endpoint, @requested_by, @now)
RETURNING request_id
