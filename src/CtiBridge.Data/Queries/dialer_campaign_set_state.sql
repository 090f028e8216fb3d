UPDATE dialer_campaigns SET state = @state, updated_at = @now
WHERE campaign_id = @campaign_id
RETURNING campaign_id
