SELECT answered_at IS NOT NULL, call_id, refused
FROM dialer_preview_requests
WHERE request_id = @request_id
