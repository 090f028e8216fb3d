-- Recycling: leads that ran out of attempts with one of @outcomes get a fresh set of attempts.
-- Reached and invalid numbers are never recycled.
UPDATE dialer_leads
SET status = 'open', attempts = 0, next_attempt_at = @not_before, updated_at = @now
WHERE campaign_id = @campaign_id AND status = 'attempts_exhausted' AND last_outcome = ANY(@outcomes)
