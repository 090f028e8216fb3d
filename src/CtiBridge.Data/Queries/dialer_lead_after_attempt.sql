UPDATE dialer_leads
SET status = @status, attempts = @attempts, next_attempt_at = @next_attempt_at, last_outcome = @last_outcome,
    claimed_by = NULL, claimed_at = NULL, updated_at = @now
WHERE lead_id = @lead_id
