-- This instance's lines of a campaign that could still end abandoned (0045), written in the campaign's lock.
INSERT INTO dialer_abandon_exposure (campaign_id, instance_id, lines, updated_at)
VALUES (@campaign_id, @instance_id, @lines, @now)
ON CONFLICT (campaign_id, instance_id) DO UPDATE SET lines = EXCLUDED.lines, updated_at = EXCLUDED.updated_at
