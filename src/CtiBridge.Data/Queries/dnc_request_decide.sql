UPDATE dnc_requests
SET status = @status, decided_by = @decided_by, decided_at = @now, decision_note = @note
WHERE request_id = @request_id AND status = 'pending'
RETURNING action, scope, phone_number, requested_by
