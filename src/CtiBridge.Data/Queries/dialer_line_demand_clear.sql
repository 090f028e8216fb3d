-- This instance's campaign has no unmet demand on any trunk (it got its lines, or wants none).
DELETE FROM dialer_line_demand WHERE instance_id = @instance_id AND campaign_id = @campaign_id
