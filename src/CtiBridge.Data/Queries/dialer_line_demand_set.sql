-- This instance's campaign wants @lines more lines of the trunk than it got (0040).
INSERT INTO dialer_line_demand (trunk_key, instance_id, campaign_id, priority, lines, valid_until)
VALUES (@trunk_key, @instance_id, @campaign_id, @priority, @lines, @valid_until)
ON CONFLICT (trunk_key, instance_id, campaign_id) DO UPDATE
SET priority = EXCLUDED.priority, lines = EXCLUDED.lines, valid_until = EXCLUDED.valid_until
