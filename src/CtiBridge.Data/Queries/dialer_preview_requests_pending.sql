SELECT request_id, agent_id, lead_id, action
FROM dialer_preview_requests
WHERE instance_id = @instance_id AND answered_at IS NULL
ORDER BY request_id
LIMIT 100
