-- Ends an orphaned attempt whose channel Asterisk no longer has. What happened on the call is not
-- known (its instance died with it), so it counts as a lost reply: one attempt more on the lead,
-- which is due again at once unless that was its last attempt; the dead instance's claim is dropped.
-- An attempt whose customer was put through to an agent (written ahead, dialer_attempt_connected)
-- reached the person: its lead is reached and not dialled again.
-- Returns what the attempt's call record needs (the dead instance never wrote it): only the one sweep
-- whose update ended the attempt gets a row, so the call is recorded once.
WITH ended AS (
    UPDATE dialer_attempts
    SET ended_at = @now, outcome = 'LostReply'
    WHERE call_id = @call_id AND ended_at IS NULL
    RETURNING lead_id, campaign_id, phone_number, dialed_at, answered_at, agent_id, agent_connected_at, asterisk_server
), lead AS (
    UPDATE dialer_leads l
    SET attempts = l.attempts + 1,
        last_outcome = 'LostReply',
        next_attempt_at = CASE WHEN e.agent_connected_at IS NOT NULL THEN NULL ELSE @now END,
        status = CASE WHEN l.status <> 'open' THEN l.status
                      WHEN e.agent_connected_at IS NOT NULL THEN 'reached'
                      WHEN l.attempts + 1 >= coalesce((c.definition->>'maxAttempts')::integer, 1) THEN 'attempts_exhausted'
                      ELSE l.status END,
        claimed_by = NULL, claimed_at = NULL, updated_at = @now
    FROM ended e
    JOIN dialer_campaigns c ON c.campaign_id = e.campaign_id
    WHERE l.lead_id = e.lead_id
    RETURNING l.lead_id
)
SELECT e.campaign_id, e.lead_id, e.phone_number, e.dialed_at, e.answered_at, e.agent_id, e.agent_connected_at, e.asterisk_server,
       c.definition->>'callerId' AS caller_id
FROM ended e
LEFT JOIN dialer_campaigns c ON c.campaign_id = e.campaign_id
