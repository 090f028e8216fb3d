UPDATE dialer_preview_requests
SET answered_at = @now, call_id = @call_id, refused = @refused
WHERE request_id = @request_id AND answered_at IS NULL
