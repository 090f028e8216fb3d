INSERT INTO dialer_ledger (campaign_id, at, kind, call_id, lead_id, phone_number, connect_delay_ms, ring_ms, message, outcome, instance_id)
SELECT @campaign_id, e.at, e.kind, e.call_id, e.lead_id, e.phone_number, e.connect_delay_ms, e.ring_ms, e.message, e.outcome, @instance_id
FROM unnest(@at::timestamptz[], @kind::text[], @call_id::text[], @lead_id::text[], @phone_number::text[],
            @connect_delay_ms::integer[], @ring_ms::integer[], @message::text[], @outcome::text[])
     AS e(at, kind, call_id, lead_id, phone_number, connect_delay_ms, ring_ms, message, outcome)
