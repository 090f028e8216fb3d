UPDATE dialer_agent_requests
SET answered_at = @now, refused = @refused
WHERE request_id = @request_id AND answered_at IS NULL
