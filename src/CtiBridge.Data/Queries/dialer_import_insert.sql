INSERT INTO dialer_leads (campaign_id, phone_number, time_zone, custom_fields, import_id, source_line, created_at, updated_at)
SELECT @campaign_id, phone_number, time_zone, custom_fields, @import_id, line, @now, @now
FROM lead_import_stage
WHERE kind IS NULL
ORDER BY line
