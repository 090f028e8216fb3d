-- Leads claimed but not dialled go back; a lead outside its calling window waits for it to open.
UPDATE dialer_leads l
SET claimed_by = NULL, claimed_at = NULL,
    next_attempt_at = COALESCE(r.not_before, l.next_attempt_at),
    updated_at = CASE WHEN r.not_before IS NULL THEN l.updated_at ELSE @now END
FROM unnest(@lead_ids::bigint[], @not_before::timestamptz[]) AS r(lead_id, not_before)
WHERE l.lead_id = r.lead_id AND l.claimed_by = @instance_id
