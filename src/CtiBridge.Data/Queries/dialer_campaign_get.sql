SELECT campaign_id, definition::text, state, created_at, updated_at
FROM dialer_campaigns
WHERE (@campaign_id::text IS NULL OR campaign_id = @campaign_id)
  AND (@state::text IS NULL OR state = @state)
ORDER BY campaign_id
