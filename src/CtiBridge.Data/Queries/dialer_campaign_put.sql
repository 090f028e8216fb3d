INSERT INTO dialer_campaigns (campaign_id, definition, state, created_at, updated_at)
VALUES (@campaign_id, @definition::jsonb, 'stopped', @now, @now)
ON CONFLICT (campaign_id) DO UPDATE SET definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at
RETURNING state
