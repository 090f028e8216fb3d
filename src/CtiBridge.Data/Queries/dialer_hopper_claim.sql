-- The hopper: hands out due leads to one instance. FOR UPDATE SKIP LOCKED makes concurrent
-- claimers pass over each other's rows instead of waiting or taking the same lead; the
-- claimed_by mark then keeps the lead out of every other hopper until the attempt is stored.
-- Claims of an instance whose heartbeat is older than @stale_before are free again.
WITH due AS (
    SELECT lead_id
    FROM dialer_leads
    WHERE campaign_id = @campaign_id
      AND status = 'open'
      AND (next_attempt_at IS NULL OR next_attempt_at <= @now)
      AND (claimed_by IS NULL
           OR claimed_by NOT IN (SELECT instance_id FROM dialer_instances WHERE heartbeat_at >= @stale_before))
      -- Not while an earlier attempt is open: a killed instance's call may still be up (the orphan
      -- sweep ends it once Asterisk no longer has its channel).
      AND NOT EXISTS (SELECT 1 FROM dialer_attempts a WHERE a.lead_id = dialer_leads.lead_id AND a.ended_at IS NULL)
    ORDER BY next_attempt_at NULLS FIRST, lead_id
    LIMIT @limit
    FOR UPDATE SKIP LOCKED
)
UPDATE dialer_leads l
SET claimed_by = @instance_id, claimed_at = @now
FROM due
WHERE l.lead_id = due.lead_id
RETURNING l.lead_id, l.phone_number, l.time_zone, l.attempts, l.next_attempt_at, l.last_outcome, l.custom_fields::text, l.assigned_agent
