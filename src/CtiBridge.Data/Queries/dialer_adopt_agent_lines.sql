-- The dead instance's agents on lines become the adopter's (inside the adopting transaction).
UPDATE dialer_agent_lines
SET instance_id = @instance_id
WHERE instance_id = @dead_instance_id
RETURNING agent_id, campaign_id, channel_id, endpoint
