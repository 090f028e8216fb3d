-- An agent's disposition of a call; a call-back-later disposition reopens the lead at that time.
WITH attempt AS (
    UPDATE dialer_attempts SET disposition = @disposition
    WHERE call_id = @call_id
    RETURNING lead_id
)
UPDATE dialer_leads l
SET disposition = @disposition,
    status = CASE WHEN @callback_at::timestamptz IS NULL THEN l.status ELSE 'open' END,
    next_attempt_at = COALESCE(@callback_at::timestamptz, l.next_attempt_at),
    assigned_agent = COALESCE(@agent_id::text, l.assigned_agent),
    updated_at = @now
FROM attempt
WHERE l.lead_id = attempt.lead_id
RETURNING l.lead_id
