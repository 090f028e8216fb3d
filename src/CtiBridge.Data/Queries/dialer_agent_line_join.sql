-- An agent joined a campaign's nailed-up line on this instance.
INSERT INTO dialer_agent_lines (agent_id, campaign_id, instance_id, joined_at)
VALUES (@agent_id, @campaign_id, @instance_id, @joined_at)
ON CONFLICT (agent_id) DO UPDATE SET campaign_id = EXCLUDED.campaign_id, instance_id = EXCLUDED.instance_id, joined_at = EXCLUDED.joined_at
