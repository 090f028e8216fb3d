-- Gives the selected leads of a campaign to an agent (preview mode offers a lead with an owner
-- only to that agent), or to nobody (@to_agent NULL: back in the pool). A lead shown or being
-- dialled now keeps its current call; the change applies from its next attempt.
WITH picked AS (
    SELECT lead_id
    FROM dialer_leads
    WHERE campaign_id = @campaign_id
      AND (@lead_ids::bigint[] IS NULL OR lead_id = ANY(@lead_ids::bigint[]))
      AND (@from_agent::text IS NULL OR assigned_agent = @from_agent::text)
      AND (@statuses::text[] IS NULL OR status = ANY(@statuses::text[]))
    ORDER BY lead_id
    FOR UPDATE
)
UPDATE dialer_leads l
SET assigned_agent = @to_agent::text, updated_at = @now
FROM picked
WHERE l.lead_id = picked.lead_id
RETURNING l.lead_id
