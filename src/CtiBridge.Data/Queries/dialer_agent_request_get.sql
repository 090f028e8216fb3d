SELECT answered_at IS NOT NULL, refused
FROM dialer_agent_requests
WHERE request_id = @request_id
