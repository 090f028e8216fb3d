-- Ends an orphaned attempt whose channel Asterisk no longer has. What happened on the call is not
-- known (its instance died with it), so it counts as a lost reply: one attempt more on the lead,
-- which is due again at once unless that was its last attempt; the dead instance's claim is dropped.
-- An attempt whose customer was put through to an agent (written ahead, dialer_attempt_connected)
-- reached the person: its lead is reached and not dialled again.
WITH ended AS (
    UPDATE dialer_attempts
    SET ended_at = @now, outcome = 'LostReply'
    WHERE call_id = @call_id AND ended_at IS NULL
    RETURNING lead_id, campaign_id, agent_connected_at IS NOT NULL AS reached
)
UPDATE dialer_leads l
SET attempts = l.attempts + 1,
    last_outcome = 'LostReply',
    next_attempt_at = CASE WHEN e.reached THEN NULL ELSE @now END,
    status = CASE WHEN l.status <> 'open' THEN l.status
                  WHEN e.reached THEN 'reached'
                  WHEN l.attempts + 1 >= coalesce((c.definition->>'maxAttempts')::integer, 1) THEN 'attempts_exhausted'
                  ELSE l.status END,
    claimed_by = NULL, claimed_at = NULL, updated_at = @now
FROM ended e
JOIN dialer_campaigns c ON c.campaign_id = e.campaign_id
WHERE l.lead_id = e.lead_id
RETURNING l.lead_id
