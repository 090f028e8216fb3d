-- The lead of a given-up line a person answered: rescheduled as after any abandon, but only while it is exactly as the
-- give-up left it (not dialled again, moved, recycled, reassigned or given a disposition meanwhile).
UPDATE dialer_leads
SET status = @status, attempts = @attempts, next_attempt_at = @next_attempt_at, last_outcome = @last_outcome, updated_at = @now
WHERE lead_id = @lead_id AND campaign_id = @campaign_id AND claimed_by IS NULL
  AND status = @was_status AND attempts = @attempts AND last_outcome IS NOT DISTINCT FROM @was_last_outcome
  AND next_attempt_at IS NOT DISTINCT FROM @was_next_attempt_at
