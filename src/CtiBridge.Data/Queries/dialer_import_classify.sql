-- Rows that are well formed but not imported: the same number earlier in the file, a number the
-- campaign already has, or a number on the global or campaign do-not-call list.
WITH firsts AS (
    SELECT line, min(line) OVER (PARTITION BY phone_number) AS first_line FROM lead_import_stage
)
UPDATE lead_import_stage s
SET kind = CASE
        WHEN f.first_line < s.line THEN 'duplicate'
        WHEN EXISTS (SELECT 1 FROM dialer_leads l WHERE l.campaign_id = @campaign_id AND l.phone_number = s.phone_number) THEN 'duplicate'
        ELSE 'dnc' END,
    reason = CASE
        WHEN f.first_line < s.line THEN format('%s is already on line %s of this file', s.phone_number, f.first_line)
        WHEN EXISTS (SELECT 1 FROM dialer_leads l WHERE l.campaign_id = @campaign_id AND l.phone_number = s.phone_number)
            THEN format('%s is already a lead of campaign %s', s.phone_number, @campaign_id)
        ELSE format('%s is on the do-not-call list (%s)', s.phone_number,
                    (SELECT string_agg(CASE WHEN d.scope = '*' THEN 'global' ELSE 'campaign ' || d.scope END, ', ')
                     FROM dnc_numbers d WHERE d.phone_number = s.phone_number AND d.scope IN ('*', @campaign_id))) END
FROM firsts f
WHERE f.line = s.line
  AND (f.first_line < s.line
       OR EXISTS (SELECT 1 FROM dialer_leads l WHERE l.campaign_id = @campaign_id AND l.phone_number = s.phone_number)
       OR EXISTS (SELECT 1 FROM dnc_numbers d WHERE d.phone_number = s.phone_number AND d.scope IN ('*', @campaign_id)))
RETURNING s.line, s.kind, s.reason, s.raw
