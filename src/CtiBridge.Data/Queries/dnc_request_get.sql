SELECT request_id, action, scope, phone_number, reason, requested_by, requested_at, status, decided_by, decided_at, decision_note
FROM dnc_requests
WHERE (@request_id::bigint IS NULL OR request_id = @request_id)
  AND (@status::text IS NULL OR status = @status)
ORDER BY request_id
