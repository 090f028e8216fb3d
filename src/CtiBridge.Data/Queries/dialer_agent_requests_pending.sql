SELECT request_id, agent_id, campaign_id, action, endpoint
FROM dialer_agent_requests
WHERE instance_id = @instance_id AND answered_at IS NULL
ORDER BY request_id
LIMIT 100
