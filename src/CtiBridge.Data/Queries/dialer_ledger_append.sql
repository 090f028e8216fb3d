-- New compliance-ledger rows, and in the same statement the campaign's live answers and abandons per UTC day
-- (0045), so every instance reads the headroom current to this commit (dialer_abandon_headroom.sql). Days in
-- order, so two appenders lock the day rows in one order.
WITH added AS (
    INSERT INTO dialer_ledger (campaign_id, at, kind, call_id, lead_id, phone_number, connect_delay_ms, ring_ms, message, outcome, instance_id)
    SELECT @campaign_id, e.at, e.kind, e.call_id, e.lead_id, e.phone_number, e.connect_delay_ms, e.ring_ms, e.message, e.outcome, @instance_id
    FROM unnest(@at::timestamptz[], @kind::text[], @call_id::text[], @lead_id::text[], @phone_number::text[],
                @connect_delay_ms::integer[], @ring_ms::integer[], @message::text[], @outcome::text[])
         AS e(at, kind, call_id, lead_id, phone_number, connect_delay_ms, ring_ms, message, outcome)
    RETURNING at, kind
)
INSERT INTO dialer_ledger_days AS d (campaign_id, day, live_answers, abandons)
SELECT @campaign_id, (a.at AT TIME ZONE 'UTC')::date AS day, count(*), count(*) FILTER (WHERE a.kind = 'Abandoned')
FROM added a
WHERE a.kind IN ('LiveAnswerConnected', 'Abandoned')
GROUP BY day
ORDER BY day
ON CONFLICT (campaign_id, day) DO UPDATE
SET live_answers = d.live_answers + EXCLUDED.live_answers, abandons = d.abandons + EXCLUDED.abandons
