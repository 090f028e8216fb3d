-- The dead instance's open attempts become the adopter's (inside the adopting transaction), with the
-- lead as it was before the attempt (its count is raised only at the end) and what the ledger already has
-- of the call (so a live answer or abandon the dead instance stored is not counted twice).
WITH adopted AS (
    UPDATE dialer_attempts
    SET instance_id = @instance_id, adopted_at = @now
    WHERE instance_id = @dead_instance_id AND ended_at IS NULL
    RETURNING call_id, campaign_id, lead_id, phone_number, dialed_at, answered_at, answered_by, agent_id, agent_connected_at
)
SELECT a.call_id, a.campaign_id, a.lead_id, a.phone_number, a.dialed_at, a.answered_at, a.answered_by, a.agent_id, a.agent_connected_at,
       l.time_zone, l.attempts, l.next_attempt_at, l.last_outcome,
       EXISTS (SELECT 1 FROM dialer_ledger g WHERE g.call_id = a.call_id AND g.kind IN ('LiveAnswerConnected', 'Abandoned', 'MachineAnswer')) AS answer_in_ledger,
       EXISTS (SELECT 1 FROM dialer_ledger g WHERE g.call_id = a.call_id AND g.kind = 'Abandoned') AS abandoned_in_ledger
FROM adopted a
JOIN dialer_leads l ON l.lead_id = a.lead_id
