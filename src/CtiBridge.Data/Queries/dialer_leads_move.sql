-- Moves the selected leads of one campaign to another: each starts afresh there (open, no
-- attempts, no owner unless kept); its attempts stay in dialer_attempts under the old campaign.
-- Refused, and reported: a lead being dialled or previewed now (claimed by a live instance),
-- an invalid number (never dialled again), and a number the target campaign already has.
WITH picked AS (
    SELECT l.lead_id, l.phone_number, l.status,
           (l.claimed_by IS NOT NULL AND l.claimed_by IN (SELECT instance_id FROM dialer_instances WHERE heartbeat_at >= @stale_before)) AS busy
    FROM dialer_leads l
    WHERE l.campaign_id = @from_campaign
      AND (@lead_ids::bigint[] IS NULL OR l.lead_id = ANY(@lead_ids::bigint[]))
      AND (@from_agent::text IS NULL OR l.assigned_agent = @from_agent::text)
      AND (@statuses::text[] IS NULL OR l.status = ANY(@statuses::text[]))
    ORDER BY l.lead_id
    FOR UPDATE
), classified AS (
    SELECT p.lead_id,
           CASE WHEN p.busy THEN 'in_call'
                WHEN p.status = 'invalid_number' THEN 'invalid_number'
                WHEN EXISTS (SELECT 1 FROM dialer_leads t WHERE t.campaign_id = @to_campaign AND t.phone_number = p.phone_number) THEN 'duplicate'
           END AS refusal
    FROM picked p
), moved AS (
    UPDATE dialer_leads l
    SET campaign_id = @to_campaign, status = 'open', attempts = 0, next_attempt_at = NULL, last_outcome = NULL,
        claimed_by = NULL, claimed_at = NULL,
        assigned_agent = CASE WHEN @keep_agent THEN l.assigned_agent END,
        updated_at = @now
    FROM classified c
    WHERE l.lead_id = c.lead_id AND c.refusal IS NULL
    RETURNING l.lead_id
)
SELECT c.lead_id, c.refusal, (SELECT count(*) FROM moved) AS moved
FROM classified c
ORDER BY c.lead_id
